"""Weights files: both formats, exact round trip, all differences reported, atomic writes."""

import numpy as np
import pytest
import torch

import symshape as ss
from symshape import weights


@pytest.fixture()
def graph():
    return ss.Sequential(ss.Conv2d(3, 4, 3), ss.BatchNorm2d(4), ss.Flatten(), ss.LazyLinear(2)).infer((1, 3, 5, 5))


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_round_trip_is_exact_and_loads_into_torch(graph, suffix, tmp_path):
    params = graph.materialize(seed=0)
    path = tmp_path / f"w{suffix}"
    ss.save_weights(params, path)
    loaded = ss.load_weights(path, graph)
    assert list(loaded) == list(params) or set(loaded) == set(params)
    for k in params:
        assert loaded[k].dtype == params[k].dtype and np.array_equal(loaded[k], params[k])
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"].dtype == np.int64
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                 torch.nn.Linear(36, 2))
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in loaded.items()}, strict=True)


def test_every_difference_is_reported_at_once(graph, tmp_path):
    params = graph.materialize(seed=0)
    params["3.weight"] = params["3.weight"][:, :-1]
    params["1.num_batches_tracked"] = np.zeros((), dtype=np.float32)
    params["extra.weight"] = np.zeros(1, dtype=np.float32)
    del params["0.bias"]
    path = tmp_path / "w.npz"
    ss.save_weights(params, path)
    with pytest.raises(ss.SpecError) as info:
        ss.load_weights(path, graph)
    message = str(info.value)
    assert "(4 differences)" in message
    assert "missing 0.bias (4,)" in message
    assert "3.weight has shape (2, 35), the model needs (2, 36)" in message
    assert "1.num_batches_tracked has dtype float32, the model needs int64" in message
    assert "unexpected extra.weight (the model has 0.weight, 1.weight, 3.weight)" in message


def test_a_failed_write_leaves_no_file(graph, tmp_path, monkeypatch):
    params = graph.materialize(seed=0)
    path = tmp_path / "w.npz"

    def explode(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(ss.SpecError, match="No space left on device"):
        ss.save_weights(params, path)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_leaves_no_file(graph, tmp_path, monkeypatch):
    params = graph.materialize(seed=0)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ss.save_weights(params, tmp_path / "w.npz")
    assert list(tmp_path.iterdir()) == []


def test_overwriting_keeps_the_old_file_until_the_new_one_is_complete(graph, tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    ss.save_weights(graph.materialize(seed=0), path)
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(ss.SpecError):
        ss.save_weights(graph.materialize(seed=1), path)
    assert path.read_bytes() == before


def test_read_weights_rejects_unknown_formats(tmp_path):
    with pytest.raises(ss.SpecError, match=r"ends in \.npz or \.safetensors"):
        weights.read_weights(tmp_path / "w.pt")
