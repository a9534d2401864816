import numpy as np
import pytest
import torch
from harness import check_layer

import symshape as ss


@pytest.mark.parametrize("shape, n_in, n_out, bias", [
    ((4, 20), 20, 256, True),
    ((3, 7), 7, 1, False),
    ((2, 5, 6), 6, 3, True),
    ((9,), 9, 4, True),
])
def test_linear_matches_torch(shape, n_in, n_out, bias):
    check_layer(ss.Linear(n_in, n_out, bias=bias), torch.nn.Linear(n_in, n_out, bias=bias), shape)


@pytest.mark.parametrize("shape, n_out", [((4, 20), 256), ((2, 3, 11), 5)])
def test_lazy_linear_matches_torch(shape, n_out):
    check_layer(ss.LazyLinear(n_out), torch.nn.LazyLinear(n_out), shape)


def test_identity_matches_torch():
    check_layer(ss.Identity(54, unused="x"), torch.nn.Identity(54, unused="x"), (2, 3))


def test_linear_symbolic_rule():
    g = ss.Sequential(ss.LazyLinear(256)).infer("B, T, D")
    assert g.output_shapes == [(ss.sym("B"), ss.sym("T"), 256)]
    assert g.param_shapes == {"0.weight": (256, ss.sym("D")), "0.bias": (256,)}


def test_linear_rejects_bad_arguments():
    with pytest.raises(ss.SpecError, match="out_features must be a positive size"):
        ss.Linear(3, 0)
    with pytest.raises(ss.SpecError, match="in_features='3x' is not a size"):
        ss.Linear("3x", 4)


def test_linear_mismatch_names_layer_both_sides_and_fix():
    with pytest.raises(ss.ShapeMismatchError,
                       match=r"^0 \(Linear\): in_features is 400 but its input \(2, 576\) from input x has 576\. "
                             r"Use in_features=576 or LazyLinear\(120\)\.$"):
        ss.Sequential(ss.Linear(400, 120)).infer((2, 576))


def test_default_init_is_order_independent_and_seeded():
    g = ss.Sequential(ss.Linear(4, 3), ss.Linear(3, 2)).infer((1, 4))
    a = g.materialize(seed=1)
    b = g.materialize(seed=1)
    c = g.materialize(seed=2)
    only = g.materialize(seed=1, only=["1.weight"])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["0.weight"], c["0.weight"])
    np.testing.assert_array_equal(only["1.weight"], a["1.weight"])
