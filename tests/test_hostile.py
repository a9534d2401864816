"""Hostile conditions around the CLI's files: signals during a write, concurrent writers, zip bombs, memory limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import symshape as ss
from symshape import stream
from symshape.files import temp_beside

BIG = """inputs:
  x: [B, 8192]
layers:
  - {name: fc, op: Linear, in_features: 8192, out_features: 8192}
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_a_signal_during_init_leaves_no_temp_file(tmp_path, signum, suffix):
    (tmp_path / "big.yaml").write_text(BIG)
    process = subprocess.Popen([sys.executable, "-m", "symshape", "init", "big.yaml", "-o", f"w{suffix}"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".w") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert err == f"symshape init: stopped by {signal.Signals(signum).name}; no file was written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def test_temp_names_are_unique_within_one_process(tmp_path):
    names = {temp_beside(tmp_path / "w.npz") for _ in range(50)}
    assert len(names) == 50 and all(n.exists() and n.stat().st_size == 0 for n in names)


def test_two_writers_of_one_process_never_mix_their_data(tmp_path):
    """Two threads (one PID) writing the same file: the result is one writer's file, whole."""
    graph = ss.load_spec({"inputs": {"x": ["B", 64]},
                          "layers": [{"name": "fc", "op": "Linear", "in_features": 64, "out_features": 4096}]}).infer()
    target = tmp_path / "w.npz"
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        try:
            stream.write_weights(graph, target, seed=seed)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with np.load(target) as data:
        written = {k: data[k] for k in data.files}
    candidates = [graph.materialize(seed=seed) for seed in (1, 2)]
    assert any(all(np.array_equal(written[k], c[k]) for k in c) for c in candidates)
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]
