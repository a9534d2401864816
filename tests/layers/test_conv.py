import pytest
import torch
from harness import check_layer, check_shape
from hypothesis import given, settings
from hypothesis import strategies as st

import symshape as ss

CONV2D_CASES = [
    # (in, out, kernel, kwargs, input shape)
    (3, 8, 3, {}, (2, 3, 10, 12)),
    (3, 8, 3, {"stride": 2, "padding": 1}, (2, 3, 11, 9)),
    (4, 6, (3, 5), {"stride": (1, 2), "padding": (2, 1), "dilation": (2, 1)}, (1, 4, 13, 14)),
    (4, 8, 3, {"groups": 2, "bias": False}, (2, 4, 7, 7)),
    (6, 6, 3, {"groups": 6, "padding": "same"}, (1, 6, 8, 5)),
    (2, 5, 4, {"padding": "same", "dilation": 2}, (1, 2, 9, 10)),
    (2, 5, 3, {"padding": "valid"}, (1, 2, 9, 10)),
    (3, 4, 3, {"padding": 1, "padding_mode": "reflect"}, (2, 3, 6, 6)),
    (3, 4, 3, {"padding": 2, "padding_mode": "circular"}, (2, 3, 6, 6)),
    (3, 4, 3, {"padding": 1, "padding_mode": "replicate"}, (2, 3, 6, 6)),
    (3, 4, 3, {"padding": 1}, (3, 6, 6)),  # unbatched
    # stride 1, many output channels on a small image: the window im2col rather than the flat one
    (8, 64, 3, {"padding": 1}, (2, 8, 7, 7)),
    (8, 64, 3, {"padding": 1, "padding_mode": "reflect", "groups": 2}, (1, 8, 5, 6)),
]


def test_both_stride_1_im2col_paths_are_in_the_cases():
    from symshape.layers.conv import _flat_pays

    chosen = {_flat_pays(torch.zeros(shape).numpy(), torch.zeros(c_out, c_in // kw.get("groups", 1), k, k).numpy(),
                         [(kw.get("padding", 0),) * 2] * 2, (1, 1), kw.get("groups", 1))
              for c_in, c_out, k, kw, shape in CONV2D_CASES
              if len(shape) == 4 and isinstance(k, int) and k > 1 and kw.get("stride", 1) == 1
              and isinstance(kw.get("padding", 0), int) and kw.get("dilation", 1) == 1}
    assert chosen == {True, False}


@pytest.mark.parametrize("c_in, c_out, k, kwargs, shape", CONV2D_CASES)
def test_conv2d_matches_torch(c_in, c_out, k, kwargs, shape):
    check_layer(ss.Conv2d(c_in, c_out, k, **kwargs), torch.nn.Conv2d(c_in, c_out, k, **kwargs), shape)


@pytest.mark.parametrize("c_out, k, kwargs, shape", [
    (8, 3, {}, (2, 3, 10, 12)),
    (4, 1, {"stride": 2}, (1, 5, 7, 7)),
])
def test_lazy_conv2d_matches_torch(c_out, k, kwargs, shape):
    check_layer(ss.LazyConv2d(c_out, k, **kwargs), torch.nn.LazyConv2d(c_out, k, **kwargs), shape)


@pytest.mark.parametrize("c_in, c_out, k, kwargs, shape", [
    (3, 8, 3, {}, (2, 3, 20)),
    (4, 8, 5, {"stride": 3, "padding": 2, "dilation": 2, "groups": 4}, (2, 4, 31)),
    (2, 3, 4, {"padding": "same"}, (1, 2, 9)),
    (2, 3, 2, {"padding": 1, "padding_mode": "circular", "bias": False}, (1, 2, 9)),
])
def test_conv1d_matches_torch(c_in, c_out, k, kwargs, shape):
    check_layer(ss.Conv1d(c_in, c_out, k, **kwargs), torch.nn.Conv1d(c_in, c_out, k, **kwargs), shape)


def test_lazy_conv1d_matches_torch():
    check_layer(ss.LazyConv1d(6, 3, stride=2), torch.nn.LazyConv1d(6, 3, stride=2), (2, 5, 17))


def test_conv_symbolic_output_and_constraint():
    g = ss.Sequential(ss.LazyConv2d(16, 5), ss.LazyConv2d(4, 3, stride=2)).infer("B, C, H, W")
    H, W, B, C = (ss.sym(n) for n in "HWBC")
    assert g.output_shapes == [(B, 4, ss.parse_dim("(H - 7)//2 + 1"), ss.parse_dim("(W - 7)//2 + 1"))]
    assert g.param_shapes["0.weight"] == (16, C, 5, 5)
    assert sorted(str(c) for c in g.constraints) == ["H >= 7", "W >= 7"]


def test_kernel_larger_than_input_is_reported():
    with pytest.raises(ss.ShapeMismatchError, match=r"0 \(Conv2d\): the output size on dim 2 is -1 \(must be at "
                                                     r"least 1\) but the kernel spans 5 .* has 3 \+ padding 0"):
        ss.Sequential(ss.Conv2d(1, 2, 5)).infer((1, 1, 3, 8))


def test_groups_must_divide_channels():
    with pytest.raises(ss.ShapeMismatchError, match=r"in_channels is 6, not a multiple of 4"):
        ss.Sequential(ss.LazyConv2d(8, 3, groups=4)).infer((1, 6, 5, 5))


def test_bad_conv_arguments_are_spec_errors():
    with pytest.raises(ss.SpecError, match="padding='same' is not supported for strided"):
        ss.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ss.SpecError, match="kernel_size must be positive"):
        ss.Conv2d(3, 4, 0)
    with pytest.raises(ss.SpecError, match="padding_mode must be one of"):
        ss.Conv2d(3, 4, 3, padding_mode="mirror")


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2),
       h=st.integers(1, 12), w=st.integers(1, 12), groups=st.sampled_from([1, 2]))
def test_conv2d_shapes_match_torch_property(k, s, p, d, h, w, groups):
    check_shape(ss.Conv2d(4, 6, k, s, p, d, groups), torch.nn.Conv2d(4, 6, k, s, p, d, groups), (2, 4, h, w))


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 3), length=st.integers(1, 12))
def test_conv1d_symbolic_formula_agrees_with_torch_property(k, s, p, d, length):
    graph = ss.Sequential(ss.Conv1d(2, 3, k, s, p, d)).infer("B, 2, L")
    expected_ok = length + 2 * p - d * (k - 1) - 1 >= 0
    assert all(c.holds({ss.sym("L"): length}) for c in graph.constraints) == expected_ok
    if expected_ok:
        out = torch.nn.Conv1d(2, 3, k, s, p, d)(torch.zeros(1, 2, length)).shape[-1]
        assert ss.dims.evaluate(graph.output_shapes[0][-1], {ss.sym("L"): length}) == out


@pytest.mark.parametrize("op, args, kwargs, shape", [
    ("Conv3d", (2, 4, 3), {}, (1, 2, 5, 6, 7)),
    ("Conv3d", (4, 4, (1, 3, 2)), {"stride": (1, 2, 1), "padding": 1, "groups": 2}, (2, 4, 4, 5, 6)),
    ("LazyConv3d", (3, 2), {"dilation": 2, "padding": "same"}, (1, 2, 5, 5, 5)),
    ("ConvTranspose2d", (4, 3, 3), {}, (2, 4, 5, 6)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 4, 5, 6)),
    ("ConvTranspose2d", (4, 6, (2, 3)), {"stride": (2, 3), "groups": 2, "dilation": (1, 2), "bias": False}, (1, 4, 4, 3)),
    ("ConvTranspose2d", (3, 2, 4), {"stride": 2, "padding": 3}, (1, 3, 6, 6)),
    ("ConvTranspose2d", (2, 2, 2), {"stride": 2}, (2, 5, 5)),
    ("ConvTranspose1d", (3, 5, 4), {"stride": 3, "padding": 2, "output_padding": 2, "dilation": 2}, (2, 3, 7)),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, (1, 2, 3, 4, 2)),
    ("LazyConvTranspose2d", (8, 2), {"stride": 2}, (1, 4, 5, 5)),
    ("LazyConvTranspose1d", (3, 3), {"padding": 1}, (2, 5, 9)),
    ("LazyConvTranspose3d", (2, 3), {}, (1, 3, 2, 2, 2)),
])
def test_conv3d_and_transposed_match_torch(op, args, kwargs, shape):
    check_layer(getattr(ss, op)(*args, **kwargs), getattr(torch.nn, op)(*args, **kwargs), shape)


def test_transposed_symbolic_shape_and_argument_checks():
    g = ss.Sequential(ss.LazyConvTranspose2d(8, 2, stride=2)).infer("B, C, H, W")
    assert str(g.output_shapes[0]) == "(B, 8, 2*H, 2*W)"
    assert g.param_shapes["0.weight"] == (ss.sym("C"), 8, 2, 2)
    with pytest.raises(ss.SpecError, match="output_padding 2 must be smaller than stride or dilation"):
        ss.ConvTranspose2d(3, 3, 3, stride=2, output_padding=2)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2), op=st.integers(0, 2),
       length=st.integers(1, 6))
def test_conv_transpose1d_shapes_match_torch_property(k, s, p, d, op, length):
    if op >= max(s, d):
        return
    check_shape(ss.ConvTranspose1d(2, 3, k, s, p, op, 1, True, d), torch.nn.ConvTranspose1d(2, 3, k, s, p, op, 1, True, d),
                (1, 2, length))
