"""Hostile conditions around the CLI's files: signals during a write, concurrent writers, zip bombs, memory limits."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import zip_bomb

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


HUGE = """inputs:
  x: [B, 16384]
layers:
  - {name: fc, op: Linear, in_features: 16384, out_features: 32768}
"""


def _limited(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_materialize_honours_the_address_space_limit(tmp_path):
    """Under ``ulimit -v`` 1.5 GiB, a 2 GiB model is refused up front with the figures, not a MemoryError."""
    (tmp_path / "huge.yaml").write_text(HUGE)
    np.save(tmp_path / "x.npy", np.zeros((1, 16384), np.float32))
    done = subprocess.run([sys.executable, "-m", "symshape", "run", "huge.yaml", "--seed", "0", "--input", "x=x.npy",
                           "-o", "y.npy"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: _limited(3 * 2**29))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("symshape run: materializing every parameter needs 2.0 GiB but only ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.yaml", "x.npy"]


def test_available_memory_is_the_least_of_the_limits(monkeypatch):
    monkeypatch.setattr(stream, "_meminfo_available", lambda: 8 * 2**30)
    monkeypatch.setattr(stream, "_address_space_left", lambda: 2**30)
    monkeypatch.setattr(stream, "_cgroup_left", lambda: None)
    assert stream.available_memory() == 2**30
    monkeypatch.setattr(stream, "_cgroup_left", lambda: 2**20)
    assert stream.available_memory() == 2**20
    monkeypatch.setattr(stream, "_cgroup_left", lambda: -5)  # usage above the limit
    assert stream.available_memory() == 0


def test_cgroup_limits_are_read_from_v1_and_v2_files(tmp_path):
    root = tmp_path / "sys/fs/cgroup"
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text("0::/job\n")
    (root / "job").mkdir(parents=True)
    (root / "job/memory.max").write_text("1000000\n")
    (root / "job/memory.current").write_text("400000\n")
    assert stream._cgroup_left(tmp_path / "proc/self/cgroup", root) == 600000
    (root / "job/memory.max").write_text("max\n")
    assert stream._cgroup_left(tmp_path / "proc/self/cgroup", root) is None
    (tmp_path / "proc/self/cgroup").write_text("4:memory:/elsewhere\n0::/\n")
    (root / "memory").mkdir()
    (root / "memory/memory.limit_in_bytes").write_text("5000\n")
    (root / "memory/memory.usage_in_bytes").write_text("1000\n")
    assert stream._cgroup_left(tmp_path / "proc/self/cgroup", root) == 4000


LENET = str(Path(__file__).parents[1] / "examples" / "lenet.yaml")
BOMB_VALUES = 7 * 2**27  # 3.5 GiB of float32


def test_an_npz_bomb_is_refused_from_its_headers_against_the_model(tmp_path):
    zip_bomb(tmp_path / "bomb.npz", "conv1.weight.npy", BOMB_VALUES)
    assert (tmp_path / "bomb.npz").stat().st_size < 5 * 2**20
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 28, 28), np.float32))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "symshape", "run", LENET, "--weights", "bomb.npz", "--input",
                           "x=x.npy", "-o", "y.npy"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: _limited(2**31))
    assert time.monotonic() - start < 10  # the interpreter's start included; the refusal itself is below
    assert done.returncode == 2, done.stderr
    assert "weights file bomb.npz does not fit the model" in done.stderr
    assert f"conv1.weight has shape ({BOMB_VALUES},), the model needs (6, 1, 5, 5)" in done.stderr
    graph = ss.load_spec(LENET).infer().bind(B=1)
    start = time.monotonic()
    with pytest.raises(ss.SpecError, match="conv1.weight has shape"):
        ss.load_weights(tmp_path / "bomb.npz", graph)
    assert time.monotonic() - start < 2


def test_an_npz_bomb_beyond_the_memory_limit_is_refused_unread(tmp_path):
    """Without a model to compare with, the declared total is held against the memory left (here ulimit -v)."""
    zip_bomb(tmp_path / "bomb.npz", "w.npy", BOMB_VALUES)
    code = ("import time, symshape as ss\nstart = time.monotonic()\ntry:\n    ss.load_weights('bomb.npz')\n"
            "except ss.ShapeError as exc:\n    print(round(time.monotonic() - start, 3), exc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: _limited(2**31))
    seconds, message = done.stdout.split(" ", 1)
    assert float(seconds) < 2, done.stdout
    assert message.startswith("weights file bomb.npz declares 3.5 GiB of arrays but only "), done.stdout
    assert message.rstrip().endswith("of memory is available; it is not read")


def test_an_npy_input_whose_header_claims_more_than_the_file_holds_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**50, 1, 28, 28)})
    (tmp_path / "x.npy").write_bytes(header.getvalue() + bytes(64))
    done = subprocess.run([sys.executable, "-m", "symshape", "run", LENET, "--seed", "0", "--input", "x=x.npy", "-o",
                           "y.npy"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"symshape run: --input x=x.npy: the header declares ({2**50}, 1, 28, 28) float32 "
                           f"({2**50 * 28 * 28 * 4:,} bytes) but the file holds 64\n")


def test_many_pinned_sizes_take_two_passes_not_one_per_size(monkeypatch):
    """2,000 inputs, each of whose size its own Linear pins: one pass finds every pin, one more checks them
    (a restart per pin made this quadratic: 403 s at 2,000)."""
    from symshape import propagate

    n = 2000
    x = [ss.Input(f"B, D{i}", name=f"x{i}") for i in range(n)]
    model = ss.Model(x, ss.Concat(dim=1)(*[ss.Linear(4, 4)(xi, name=f"fc{i}") for i, xi in enumerate(x)]))
    passes = []
    one_pass = propagate._one_pass
    monkeypatch.setattr(propagate, "_one_pass", lambda *a: passes.append(1) or one_pass(*a))
    graph = model.infer()
    assert len(passes) == 2
    assert graph.fixed_sizes == {f"D{i}": 4 for i in range(n)}
    assert graph.output_shapes[0] == (ss.sym("B"), 4 * n)


def test_a_pin_found_from_shapes_older_than_another_pin_is_checked_in_the_next_pass():
    """x's D is pinned to 4 by one Linear and met by another that wants 5: the conflict is reported, as
    torch refuses, however the pins are ordered within a pass."""
    x, y = ss.Input("B, D", name="x"), ss.Input("B, E", name="y")
    s = ss.Add()(x, y, name="sum")
    model = ss.Model([x, y], [ss.Linear(4, 2)(x, name="a"), ss.Linear(5, 2)(s, name="b")])
    with pytest.raises(ss.ShapeMismatchError, match=r"b \(Linear\): in_features is 5 but its input \(B, 4\)"):
        model.infer()
    ok = ss.Model([x, y], [ss.Linear(4, 2)(x, name="a"), ss.Linear(4, 2)(s, name="b")]).infer()
    assert not ok.errors and ok.fixed_sizes == {"D": 4}  # E may be 4 or 1 (broadcast): a condition
