"""Named initializers against torch.nn.init, selection by glob pattern, seeding and dtypes."""

import math

import numpy as np
import pytest
import torch

import symshape as ss
from symshape import init as ss_init

SHAPE = (64, 32, 3, 3)


def torch_samples(fn, shape, kwargs, rounds=4):
    torch.manual_seed(0)
    out = []
    for _ in range(rounds):
        t = torch.empty(shape)
        fn(t, **kwargs)
        out.append(t.double().numpy().ravel())
    return np.concatenate(out)


@pytest.mark.parametrize("name, torch_fn, kwargs", [
    ("uniform", torch.nn.init.uniform_, {"a": -0.3, "b": 0.7}),
    ("normal", torch.nn.init.normal_, {"mean": 0.5, "std": 0.02}),
    ("xavier_uniform", torch.nn.init.xavier_uniform_, {"gain": 2.0}),
    ("xavier_normal", torch.nn.init.xavier_normal_, {}),
    ("kaiming_uniform", torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
    ("kaiming_uniform", torch.nn.init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal", torch.nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
    ("trunc_normal", torch.nn.init.trunc_normal_, {"std": 0.5, "a": -0.4, "b": 0.6}),
    ("orthogonal", torch.nn.init.orthogonal_, {"gain": 1.5}),
])
def test_initializer_distribution_matches_torch(name, torch_fn, kwargs):
    t = torch_samples(torch_fn, SHAPE, kwargs)
    rng = np.random.default_rng(0)
    s = np.concatenate([ss_init.INITIALIZERS[name](SHAPE, rng, np.float32, **kwargs).astype(np.float64).ravel()
                        for _ in range(4)])
    assert abs(s.std() / t.std() - 1) < 0.03
    assert abs(s.mean() - t.mean()) < 0.03 * t.std() + 1e-9
    assert abs(s.min() - t.min()) < 0.1 * t.std() * (10 if "normal" in name and "trunc" not in name else 1)


def test_orthogonal_is_orthogonal_like_torch():
    q = ss_init.orthogonal((6, 10), np.random.default_rng(1), np.float64, gain=2.0)
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(6), atol=1e-10)


def test_constant_zeros_ones():
    assert np.all(ss_init.constant((3, 2), None, np.float32, val=0.25) == 0.25)
    assert ss_init.zeros((2,), None, np.float64).dtype == np.float64


def mlp_graph():
    return ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10)).infer("B, 20")


def test_init_by_glob_pattern_first_match_wins():
    g = mlp_graph()
    p = g.materialize(seed=0, init={"2.weight": "zeros", "*.weight": ("normal", {"std": 0.01}), "*.bias": "ones"})
    assert np.all(p["2.weight"] == 0)
    assert abs(p["0.weight"].std() - 0.01) < 0.001
    assert np.all(p["0.bias"] == 1) and np.all(p["2.bias"] == 1)


def test_single_initializer_applies_to_weights_only_and_default_keeps_torch():
    p = mlp_graph().materialize(seed=0, init="xavier_uniform")
    bound = math.sqrt(6 / (20 + 256))
    assert np.abs(p["0.weight"]).max() <= bound and np.abs(p["0.weight"]).max() > 0.9 * bound
    assert np.abs(p["0.bias"]).max() <= 1 / math.sqrt(20)


def test_callable_initializer_and_dict_form():
    p = mlp_graph().materialize(seed=3, init={"0.weight": lambda shape, rng: np.full(shape, 7.0),
                                               "2.weight": {"name": "constant", "val": 2.0}})
    assert p["0.weight"].dtype == np.float32 and np.all(p["0.weight"] == 7)
    assert np.all(p["2.weight"] == 2)


def test_dtype_and_determinism():
    g = mlp_graph()
    a, b = g.materialize(seed=5, dtype="float64"), g.materialize(seed=5, dtype=np.float64)
    assert all(v.dtype == np.float64 for v in a.values())
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("init, message", [
    ({"*.weight": "xavier"}, r"unknown initializer 'xavier'.*Did you mean xavier_normal or xavier_uniform"),
    ({"conv*.weight": "zeros"}, r"init pattern 'conv\*.weight' matches no parameter"),
    ({"*.bias": "xavier_uniform"}, r"xavier_uniform cannot be computed for a tensor with fewer than 2 dimensions"),
    ({"*.weight": ("normal", {"sd": 1})}, r"initializer for 0.weight: .*unexpected keyword argument 'sd'"),
])
def test_bad_initializers_are_spec_errors(init, message):
    with pytest.raises(ss.SpecError, match=message):
        mlp_graph().materialize(seed=0, init=init)


def test_materialize_refuses_symbolic_shapes_naming_the_symbols():
    with pytest.raises(ss.UnresolvedShapeError, match=r"D is still symbolic: bind it first, e.g. graph.bind\(D=...\)"):
        ss.Sequential(ss.LazyLinear(4)).infer("B, D").materialize()
