"""ScaledDotProductAttention against torch.nn.functional.scaled_dot_product_attention."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from harness import check_layer, check_model
from torch.utils.flop_counter import FlopCounterMode

import symshape as ss

RNG = np.random.default_rng(0)


class SDPA(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **self.kwargs)


CASES = [  # (kwargs, query, key, value shapes)
    ({}, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
    ({}, (4, 8), (5, 8), (5, 8)),  # no batch dims
    ({}, (1, 3, 4, 8), (2, 1, 5, 8), (2, 3, 5, 8)),  # broadcast batch dims
    ({}, (3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),  # and ranks
    ({"is_causal": True}, (2, 6, 8), (2, 6, 8), (2, 6, 4)),
    ({"is_causal": True}, (2, 6, 8), (2, 3, 8), (2, 3, 8)),  # L > S: top-left aligned
    ({"scale": 0.3}, (2, 4, 8), (2, 5, 8), (2, 5, 8)),
    ({"enable_gqa": True}, (2, 6, 4, 8), (2, 2, 5, 8), (2, 3, 5, 6)),
    ({"enable_gqa": True}, (6, 4, 8), (1, 5, 8), (2, 5, 8)),
]


@pytest.mark.parametrize("kwargs, q, k, v", CASES)
def test_matches_torch(kwargs, q, k, v):
    check_layer(ss.ScaledDotProductAttention(**kwargs), SDPA(**kwargs), q, k, v)


@pytest.mark.parametrize("mask", [
    RNG.random((4, 5)) < 0.5,  # bool: True is kept
    RNG.random((3, 1, 5)) < 0.5,
    RNG.standard_normal((2, 3, 4, 5)).astype(np.float32),  # float: added
    np.where(RNG.random((1, 4, 1)) < 0.5, -np.inf, 0).astype(np.float32),
])
def test_masks_match_torch(mask):
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6))] + [mask]
    inputs = [ss.Input(a.shape, name=n, dtype=str(a.dtype)) for a, n in zip(arrays, "qkvm")]
    check_model(ss.Model(inputs, ss.ScaledDotProductAttention()(*inputs, name="sdpa")), SDPA(), *arrays)


def test_fully_masked_rows_give_zeros_as_torch():
    mask = RNG.random((4, 5)) < 0.5
    mask[1] = False
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in ((2, 4, 8), (2, 5, 8), (2, 5, 6))] + [mask]
    inputs = [ss.Input(a.shape, name=n, dtype=str(a.dtype)) for a, n in zip(arrays, "qkvm")]
    graph, _ = check_model(ss.Model(inputs, ss.ScaledDotProductAttention()(*inputs, name="sdpa")), SDPA(), *arrays)
    assert np.all(graph.forward({}, *arrays)[:, 1] == 0)


def _model(*shapes, dtypes=("float32",) * 4, **kwargs):
    inputs = [ss.Input(s, name=n, dtype=d) for s, n, d in zip(shapes, "qkvm", dtypes)]
    return ss.Model(inputs, ss.ScaledDotProductAttention(**kwargs)(*inputs, name="sdpa"))


def test_symbolic_shapes_gqa_condition_and_macs():
    g = _model("B, H, T, E", "B, K, S, E", "B, K, S, Ev", enable_gqa=True).infer()
    B, H, T, S, E, Ev = (ss.sym(n) for n in ("B", "H", "T", "S", "E", "Ev"))
    assert g.output_shapes == [(B, H, T, Ev)]
    assert [(c.lhs, c.relation, c.rhs) for c in g.constraints] == [(H, "%", ss.sym("K"))]
    assert g.costs().macs == B * H * T * S * (E + Ev)
    # torch.utils.flop_counter counts twice that on concrete sizes
    q, k, v = (torch.zeros(s) for s in ((2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 3)))
    with FlopCounterMode(display=False) as counter:
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    assert counter.get_total_flops() == 2 * g.bind(B=2, H=6, K=2, T=4, S=5, E=8, Ev=3).costs().macs


@pytest.mark.parametrize("shapes, kwargs, message", [
    (((2, 4, 8), (2, 5, 7), (2, 5, 8)), {}, r"sdpa \(ScaledDotProductAttention\): the key's features \(E\) is the "
                                            r"query's 8 but its input 1 \(2, 5, 7\) from input k has 7"),
    (((2, 4, 8), (2, 5, 8), (2, 6, 8)), {}, r"the value length \(S\) is the key length 5 but .* has 6"),
    (((2, 6, 4, 8), (2, 4, 5, 8), (2, 4, 5, 8)), {"enable_gqa": True},
     r"the query heads \(dim -3\) is 6, not a multiple of 4 but .* has 4 heads"),
    (((2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8)), {}, r"batch dim -1 is 6 on input 0 .* has 2"),  # GQA not enabled
    (((2, 4, 8), (2, 5, 8), (2, 5, 8), (3, 4, 5)), {}, r"dim -3 of attn_mask is 2 or 1 \(broadcastable to "
                                                         r"\(2, 4, 5\)\) but .* has 3"),
    (((2, 4, 8), (2, 5, 8), (2, 5, 8), (4, 5)), {"is_causal": True}, r"an attn_mask with is_causal=True is not "
                                                                       r"allowed but its input 3 \(4, 5\)"),
    (((8,), (5, 8), (5, 8)), {}, r"input rank is at least 2 \(\.\.\., L, E\) but its input 0 \(8,\)"),
    (((4, 8), (5, 8), (5, 8)), {"enable_gqa": True}, r"input rank is at least 3 \(\.\.\., heads, L, E\) with "
                                                     r"enable_gqa"),
])
def test_misuse_messages(shapes, kwargs, message):
    with pytest.raises(ss.ShapeMismatchError, match=message):
        _model(*shapes, **kwargs).infer()


def test_argument_and_dtype_errors():
    with pytest.raises(ss.SpecError, match=r"dropout_p must be a probability between 0 and 1, got 7.0"):
        ss.ScaledDotProductAttention(dropout_p=7.0)
    with pytest.raises(ss.SpecError, match=r"ScaledDotProductAttention takes 3 or 4 input\(s\), got 2"):
        q = ss.Input("L, E", name="q")
        ss.ScaledDotProductAttention()(q, q)
    with pytest.raises(ss.SpecError, match=r"attn_mask must be bool or the query's dtype float32, got int64"):
        _model((4, 8), (5, 8), (5, 8), (4, 5), dtypes=("float32", "float32", "float32", "int64")).infer()
