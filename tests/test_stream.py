"""Streaming initialization to disk: same values, shards with an index, bounded memory, no partial files,
and an up-front refusal when an in-memory materialization cannot fit."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symshape as ss
from symshape import stream
from symshape.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture()
def graph():
    return ss.load_spec(EXAMPLES / "resnet18.yaml").infer().bind(H=32, W=32)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_streamed_values_equal_materialize(graph, tmp_path, suffix):
    files = stream.write_weights(graph, tmp_path / f"w{suffix}", seed=3)
    assert files == [tmp_path / f"w{suffix}"]
    loaded = ss.load_weights(files[0], graph)
    expected = graph.materialize(seed=3)
    assert list(loaded) == list(expected)
    for k in expected:
        assert loaded[k].dtype == expected[k].dtype and np.array_equal(loaded[k], expected[k]), k


def test_shards_and_index(graph, tmp_path):
    files = stream.write_weights(graph, tmp_path / "model.safetensors", seed=0, shard_size=10 * 2**20)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(p.name for p in files if p.suffix == ".safetensors")
    assert len(shards) > 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert set(index["weight_map"]) == set(graph.param_specs) and set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in graph.materialize(seed=0).values())
    for shard in shards:
        assert (tmp_path / shard).stat().st_size <= 10 * 2**20 + 4096 or len(
            [k for k, v in index["weight_map"].items() if v == shard]) == 1
    loaded = ss.load_weights(tmp_path / "model.safetensors.index.json", graph)
    import torch
    from models.torch_models import ResNet18

    ResNet18().load_state_dict({k: torch.from_numpy(v) for k, v in loaded.items()}, strict=True)


def test_interrupted_write_leaves_nothing(graph, tmp_path, monkeypatch):
    calls = []
    real = stream.initializers.materialize

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(stream.initializers, "materialize", flaky)
    with pytest.raises(KeyboardInterrupt):
        stream.write_weights(graph, tmp_path / "model.safetensors", shard_size=2**20)
    assert list(tmp_path.iterdir()) == []


def test_materialize_refuses_what_does_not_fit(graph, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(stream, "available_memory", lambda: 10 * 2**20)
    with pytest.raises(stream.ResourceError, match=r"needs 44\.6 MiB but only 10\.0 MiB of memory is available\. "
                                                   r"Write them to disk instead.*the largest one, 9\.0 MiB"):
        graph.materialize(seed=0)
    assert main(["run", str(EXAMPLES / "resnet18.yaml"), "--seed", "0", "--input", f"x={tmp_path / 'x.npy'}",
                 "-o", str(tmp_path / "y.npy")]) == 2  # no such array: the input is checked first
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 32, 32), dtype=np.float32))
    assert main(["run", str(EXAMPLES / "resnet18.yaml"), "--seed", "0", "--input", f"x={tmp_path / 'x.npy'}",
                 "-o", str(tmp_path / "y.npy")]) == 1
    assert "Write them to disk instead" in capsys.readouterr().err
    assert not (tmp_path / "y.npy").exists()


def test_peak_memory_of_streaming_init_stays_near_the_largest_tensor(tmp_path):
    """A 512 MiB model of 16 MiB tensors: peak RSS grows by less than three tensors, not by the model."""
    script = f"""
import resource, symshape as ss
from symshape import stream
layers = [ss.Linear(2048, 2048, bias=False) for _ in range(32)]
g = ss.Sequential(*layers).infer((1, 2048))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stream.write_weights(g, {str(tmp_path / 'big.safetensors')!r})
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)
"""
    growth_mib = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    check=True).stdout.strip())
    assert (tmp_path / "big.safetensors").stat().st_size > 500 * 2**20
    assert growth_mib < 48, f"peak RSS grew by {growth_mib} MiB"  # tensors stream in chunks: far below one tensor
