import numpy as np
import pytest
import torch
from harness import check_layer, check_shape
from hypothesis import given, settings
from hypothesis import strategies as st

import symshape as ss

POOL2D = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9, 10)),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "dilation": (2, 1)}, (1, 2, 11, 7)),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True}, (1, 2, 10, 9)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (1, 2, 10, 9)),
    ("AvgPool2d", (2,), {"stride": 2}, (2, 3, 8, 9)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1}, (1, 2, 7, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (1, 2, 7, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "ceil_mode": True}, (1, 2, 10, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}, (1, 2, 10, 8)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (1, 2, 6, 6)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}, (2, 3, 11)),
    ("MaxPool1d", (2,), {"ceil_mode": True}, (2, 3, 11)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 11)),
    ("AvgPool1d", (4,), {}, (3, 12)),  # unbatched
    ("AdaptiveAvgPool2d", ((5, 7),), {}, (2, 3, 13, 10)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 7, 7)),
    ("AdaptiveAvgPool2d", ((None, 3),), {}, (2, 3, 5, 8)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool1d", (7,), {}, (2, 3, 5)),
    ("MaxPool3d", (2,), {}, (1, 2, 4, 5, 6)),
    ("MaxPool3d", ((3, 2, 2),), {"stride": 2, "padding": 1, "ceil_mode": True}, (1, 2, 5, 5, 6)),
    ("AvgPool3d", (2,), {"stride": 1, "count_include_pad": False, "padding": 1}, (1, 2, 3, 4, 3)),
    ("AvgPool3d", (2,), {"divisor_override": 5}, (1, 2, 4, 4, 4)),
    ("AdaptiveAvgPool3d", ((2, 3, 1),), {}, (1, 2, 5, 7, 3)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", ((3, 5),), {}, (2, 3, 7, 11)),
    ("AdaptiveMaxPool2d", ((None, 2),), {}, (2, 3, 7, 11)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 5, 4, 3)),
    ("Upsample", (), {"scale_factor": 2}, (1, 2, 3, 4)),
    ("Upsample", (), {"size": (5, 7)}, (1, 2, 3, 4)),
    ("Upsample", (), {"scale_factor": 1.5, "mode": "nearest"}, (1, 2, 5, 3)),
    ("Upsample", (), {"scale_factor": 2, "mode": "bilinear"}, (2, 3, 4, 5)),
    ("Upsample", (), {"size": (7, 3), "mode": "bilinear"}, (2, 3, 4, 5)),
    ("Upsample", (), {"scale_factor": 2, "mode": "bilinear", "align_corners": True}, (2, 3, 4, 5)),
    ("Upsample", (), {"size": 9, "mode": "linear"}, (2, 3, 4)),
    ("Upsample", (), {"scale_factor": (2, 1, 3), "mode": "trilinear"}, (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("op, args, kwargs, shape", POOL2D)
def test_pooling_matches_torch(op, args, kwargs, shape):
    check_layer(getattr(ss, op)(*args, **kwargs), getattr(torch.nn, op)(*args, **kwargs), shape)


def test_pool_symbolic_and_adaptive_shapes():
    g = ss.Sequential(ss.MaxPool2d(2), ss.AdaptiveAvgPool2d((4, None))).infer("B, C, H, W")
    B, C = ss.sym("B"), ss.sym("C")
    assert g.output_shapes == [(B, C, 4, ss.parse_dim("W // 2"))]
    assert sorted(map(str, g.constraints)) == ["H >= 2", "W >= 2"]


def test_ceil_mode_symbolic_agrees_with_torch():
    g = ss.Sequential(ss.MaxPool2d(3, 2, ceil_mode=True)).infer("1, 1, H, 8")
    for h in range(3, 20):
        out = torch.nn.MaxPool2d(3, 2, ceil_mode=True)(torch.zeros(1, 1, h, 8)).shape[2]
        assert ss.dims.evaluate(g.output_shapes[0][2], {ss.sym("H"): h}) == out


def test_pool_padding_limit_is_a_spec_error():
    with pytest.raises(ss.SpecError, match="padding 2 must be at most half of the kernel size"):
        ss.MaxPool2d(2, padding=2)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans(), h=st.integers(1, 11),
       op=st.sampled_from(["MaxPool2d", "AvgPool2d"]))
def test_pool_shapes_match_torch_property(k, s, p, ceil, h, op):
    if p > k // 2:
        return
    check_shape(getattr(ss, op)(k, s, p, ceil_mode=ceil), getattr(torch.nn, op)(k, s, p, ceil_mode=ceil), (1, 2, h, 5))


def test_upsample_symbolic_scale():
    g = ss.Sequential(ss.Upsample(scale_factor=2), ss.Upsample(scale_factor=1.5)).infer("B, C, H, W")
    assert str(g.output_shapes[0]) == "(B, C, 3*H, 3*W)"


def test_upsample_to_symbolic_sizes_matches_torch():
    g = ss.Sequential(ss.Upsample(size=["H", "2*W"], mode="bilinear")).infer("B, C, 3, 5")
    assert str(g.output_shapes[0]) == "(B, C, H, 2*W)"
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 5)).astype(np.float32)
    y = g.bind(B=2, C=3, H=7, W=4).forward({}, x)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=(7, 8), mode="bilinear")
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ss.SpecError, match=r"size must be positive, got \[0, 'H'\]"):
        ss.Upsample(size=[0, "H"])
