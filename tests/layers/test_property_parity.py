"""Hypothesis-generated layer configurations: shapes, state_dict layout and forward outputs equal torch's."""

import numpy as np
import pytest
import torch
from harness import TorchAttention, check_layer, check_model
from hypothesis import given, settings
from hypothesis import strategies as st

import symshape as ss

FAST = settings(max_examples=20, deadline=None)


@FAST
@given(batch=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 9), n_out=st.integers(1, 9),
       bias=st.booleans(), lazy=st.booleans())
def test_linear(batch, n_in, n_out, bias, lazy):
    layer = ss.LazyLinear(n_out, bias=bias) if lazy else ss.Linear(n_in, n_out, bias=bias)
    check_layer(layer, torch.nn.Linear(n_in, n_out, bias=bias), (*batch, n_in), check_init=False)


@FAST
@given(groups=st.sampled_from([1, 2]), c=st.integers(1, 3), o=st.integers(1, 3), k=st.integers(1, 3),
       s=st.integers(1, 2), p=st.integers(0, 2), d=st.integers(1, 2), h=st.integers(5, 9), w=st.integers(5, 9),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
def test_conv2d(groups, c, o, k, s, p, d, h, w, mode):
    args = (c * groups, o * groups, k, s, p, d, groups, True, mode)
    check_layer(ss.Conv2d(*args), torch.nn.Conv2d(*args), (2, c * groups, h, w), check_init=False)


@FAST
@given(groups=st.sampled_from([1, 2]), k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1),
       d=st.integers(1, 2), extra=st.integers(0, 2), length=st.integers(1, 5))
def test_conv_transpose2d(groups, k, s, p, d, extra, length):
    if extra >= max(s, d):
        return
    args = (2 * groups, 3 * groups, k, s, p, extra, groups, True, d)
    shape = (1, 2 * groups, length, length + 1)
    if (length - 1) * s - 2 * p + d * (k - 1) + extra + 1 < 1:
        # torch refuses a negative size and returns an empty tensor for 0; symshape refuses both
        with pytest.raises(ss.ShapeMismatchError, match="the output size on dim 2"):
            ss.Sequential(ss.ConvTranspose2d(*args)).infer(shape)
        return
    check_layer(ss.ConvTranspose2d(*args), torch.nn.ConvTranspose2d(*args), shape, check_init=False)


@FAST
@given(op=st.sampled_from(["MaxPool2d", "AvgPool2d"]), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       ceil=st.booleans(), include=st.booleans(), h=st.integers(4, 9), w=st.integers(4, 9))
def test_pool2d(op, k, s, p, ceil, include, h, w):
    if p > k // 2:
        return
    kwargs = {"ceil_mode": ceil} | ({"count_include_pad": include} if op == "AvgPool2d" else {})
    check_layer(getattr(ss, op)(k, s, p, **kwargs), getattr(torch.nn, op)(k, s, p, **kwargs), (1, 2, h, w))


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), k=st.integers(1, 2), affine=st.booleans())
def test_layer_norm(shape, k, affine):
    k = min(k, len(shape))
    normalized = shape[len(shape) - k:]
    check_layer(ss.LayerNorm(normalized, elementwise_affine=affine), torch.nn.LayerNorm(normalized,
                elementwise_affine=affine), tuple(shape), check_init=False)


@FAST
@given(groups=st.integers(1, 3), per_group=st.integers(1, 3), spatial=st.lists(st.integers(1, 4), max_size=2))
def test_group_norm(groups, per_group, spatial):
    c = groups * per_group
    check_layer(ss.GroupNorm(groups, c), torch.nn.GroupNorm(groups, c), (2, c, *spatial), check_init=False)


class _Flat(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.add_module("0", inner)

    def forward(self, x):
        out, state = getattr(self, "0")(x)
        return (out, *state) if isinstance(state, tuple) else (out, state)


@settings(max_examples=12, deadline=None)
@given(op=st.sampled_from(["RNN", "LSTM", "GRU"]), hidden=st.integers(1, 5), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), batched=st.booleans(), length=st.integers(1, 4),
       proj=st.integers(0, 3))
def test_recurrent(op, hidden, layers, bidirectional, batch_first, batched, length, proj):
    kwargs = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
    if op == "LSTM" and proj < hidden:
        kwargs["proj_size"] = proj
    shape = ((2, length, 3) if batch_first else (length, 2, 3)) if batched else (length, 3)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    check_model(ss.Sequential(getattr(ss, op)(3, hidden, **kwargs)), _Flat(getattr(torch.nn, op)(3, hidden, **kwargs)),
                x, check_init=False)


@settings(max_examples=12, deadline=None)
@given(heads=st.integers(1, 3), head_dim=st.integers(1, 3), kdim=st.integers(1, 4), vdim=st.integers(1, 4),
       separate=st.booleans(), bias=st.booleans(), bias_kv=st.booleans(), zero_attn=st.booleans(),
       batch_first=st.booleans(), l_len=st.integers(1, 3), s_len=st.integers(1, 3))
def test_multihead_attention(heads, head_dim, kdim, vdim, separate, bias, bias_kv, zero_attn, batch_first, l_len,
                             s_len):
    e = heads * head_dim
    kdim, vdim = (kdim, vdim) if separate else (e, e)
    kwargs = dict(bias=bias, add_bias_kv=bias_kv, add_zero_attn=zero_attn, kdim=kdim, vdim=vdim,
                  batch_first=batch_first)

    def shape(length, d):
        return (2, length, d) if batch_first else (length, 2, d)

    shapes = [shape(l_len, e), shape(s_len, kdim), shape(s_len, vdim)]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    inputs = [ss.Input(s, name=n) for s, n in zip(shapes, ["q", "k", "v"])]
    model = ss.Model(inputs, list(ss.MultiheadAttention(e, heads, **kwargs)(*inputs, name="attn")))
    check_model(model, TorchAttention(e, heads, **kwargs), *arrays, check_init=False)


@FAST
@given(mode=st.sampled_from(["nearest", "bilinear"]), scale=st.sampled_from([1, 2, 3, 1.5, 0.5]),
       align=st.booleans(), h=st.integers(2, 6), w=st.integers(2, 6))
def test_upsample(mode, scale, align, h, w):
    kwargs = {"scale_factor": scale, "mode": mode} | ({"align_corners": align} if mode == "bilinear" else {})
    check_layer(ss.Upsample(**kwargs), torch.nn.Upsample(**kwargs), (1, 2, h, w))
