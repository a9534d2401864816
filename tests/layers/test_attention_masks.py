"""MultiheadAttention and the transformer layers with their forward options (masks, is_causal) against torch."""

import numpy as np
import pytest
import torch
from harness import check_model

import symshape as ss

RNG = np.random.default_rng(0)


class Call(torch.nn.Module):
    """``module`` as child ``name``, called with ``n_main`` positional inputs, the rest as the masks named
    ``masks``, and fixed keyword options: symshape's layer with its extra inputs."""

    def __init__(self, name, module, n_main, masks=(), **options):
        super().__init__()
        self.name, self.n_main, self.masks, self.options = name, n_main, masks, options
        self.add_module(name, module)

    def forward(self, *xs):
        kwargs = dict(zip(self.masks, xs[self.n_main:]), **self.options)
        out = getattr(self, self.name)(*xs[:self.n_main], **kwargs)
        return out[0] if isinstance(out, tuple) and out[1] is None else out  # need_weights=False


def padding_mask(batch, length, bool_mask=True, lengths=None):
    """True (or -inf) on the padded positions; every sequence keeps at least one position."""
    lengths = RNG.integers(1, length + 1, batch) if lengths is None else np.asarray(lengths)
    mask = np.arange(length) >= lengths[:, None]
    return mask if bool_mask else np.where(mask, -np.inf, 0).astype(np.float32)


def attn_mask(shape, bool_mask=True):
    """Random positions left out (True or -inf), never a whole row."""
    mask = RNG.random(shape) < 0.3
    mask[..., 0] = False
    return mask if bool_mask else np.where(mask, -np.inf, RNG.standard_normal(shape)).astype(np.float32)


def causal(length, source=None):
    return np.triu(np.full((length, source or length), -np.inf, dtype=np.float32), 1)


def run(layer, module, arrays, names, node="attn", **kw):
    inputs = [ss.Input(a.shape, name=n, dtype=str(a.dtype)) for a, n in zip(arrays, names)]
    out = layer(*inputs, name=node)
    return check_model(ss.Model(inputs, list(out) if isinstance(out, tuple) else out), module, *arrays, **kw)


def floats(*shapes):
    return [RNG.standard_normal(s).astype(np.float32) for s in shapes]


MHA_CASES = [  # (embed_dim, num_heads, kwargs, query/key shapes, masks)
    (8, 2, {}, ((5, 3, 8), (6, 3, 8)), {"key_padding_mask": padding_mask(3, 6)}),
    (8, 2, {}, ((5, 3, 8), (6, 3, 8)), {"key_padding_mask": padding_mask(3, 6, bool_mask=False)}),
    (8, 2, {"batch_first": True}, ((3, 5, 8), (3, 6, 8)), {"attn_mask": attn_mask((5, 6))}),
    (8, 2, {}, ((5, 3, 8), (6, 3, 8)), {"attn_mask": attn_mask((6, 5, 6), bool_mask=False)}),
    (8, 4, {"need_weights": False}, ((5, 3, 8), (6, 3, 8)),
     {"key_padding_mask": padding_mask(3, 6), "attn_mask": attn_mask((12, 5, 6))}),
    (8, 2, {"average_attn_weights": False}, ((5, 8), (6, 8)),  # unbatched
     {"key_padding_mask": padding_mask(1, 6)[0], "attn_mask": attn_mask((2, 5, 6))}),
    (6, 3, {"add_bias_kv": True, "add_zero_attn": True}, ((4, 2, 6), (5, 2, 6)),
     {"key_padding_mask": padding_mask(2, 5), "attn_mask": attn_mask((4, 5), bool_mask=False)}),
    (8, 2, {"is_causal": True, "need_weights": False}, ((5, 2, 8), (5, 2, 8)), {"attn_mask": causal(5)}),
    (8, 2, {"is_causal": True}, ((5, 2, 8), (5, 2, 8)), {"attn_mask": causal(5)}),
    (8, 2, {"is_causal": True, "need_weights": False}, ((5, 2, 8), (5, 2, 8)),
     {"key_padding_mask": padding_mask(2, 5), "attn_mask": causal(5)}),
]


@pytest.mark.parametrize("e, heads, kwargs, shapes, masks", MHA_CASES)
def test_multihead_attention_masks_match_torch(e, heads, kwargs, shapes, masks):
    q, k = shapes
    arrays = floats(q, k, k) + list(masks.values())
    flags = {name: True for name in masks}
    torch_options = {o: kwargs[o] for o in ("need_weights", "average_attn_weights", "is_causal") if o in kwargs}
    ctor = {k: v for k, v in kwargs.items() if k not in torch_options}
    layer = ss.MultiheadAttention(e, heads, **kwargs, **flags)
    module = Call("attn", torch.nn.MultiheadAttention(e, heads, **ctor), 3, tuple(masks), **torch_options)
    run(layer, module, arrays, ["query", "key", "value", *masks], check_init=False)


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_as_torch(need_weights):
    """torch's explicit softmax gives NaN on a row with every key masked; its SDPA path gives zeros."""
    mask = attn_mask((4, 5))
    mask[1] = True
    arrays = floats((4, 2, 8), (5, 2, 8), (5, 2, 8)) + [mask]
    layer = ss.MultiheadAttention(8, 2, need_weights=need_weights, attn_mask=True)
    module = Call("attn", torch.nn.MultiheadAttention(8, 2), 3, ("attn_mask",), need_weights=need_weights)
    run(layer, module, arrays, ["q", "k", "v", "m"], check_init=False)


def test_mask_shapes_are_checked():
    q, kv = ss.Input("L, B, 8", name="q"), ss.Input("S, B, 8", name="kv")
    with pytest.raises(ss.ShapeMismatchError, match=r"attn \(MultiheadAttention\).*dim 0 of key_padding_mask.*"
                                                   r"3 \(expected \(3, S\), \(N, S\)\).*has 7"):
        x, pad = ss.Input("L, 3, 8", name="x"), ss.Input("7, S", name="pad", dtype="bool")
        ss.Model([x, kv, pad], list(ss.MultiheadAttention(8, 2, key_padding_mask=True)(x, kv, kv, pad, name="attn"))
                 ).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"rank of attn_mask.*2 or 3 \(L, S\) or \(N\*num_heads, L, S\)"):
        m = ss.Input("B, 2, L, S", name="m")
        ss.Model([q, kv, m], list(ss.MultiheadAttention(8, 2, attn_mask=True)(q, kv, kv, m, name="attn"))).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"dim 0 of attn_mask.*6 \(expected \(6, 4, 5\)"):
        x, y, m = ss.Input((4, 3, 8), name="x"), ss.Input((5, 3, 8), name="y"), ss.Input((3, 4, 5), name="m")
        ss.Model([x, y, m], list(ss.MultiheadAttention(8, 2, attn_mask=True)(x, y, y, m, name="attn"))).infer()
    m = ss.Input("2*B, L, S", name="m")
    g = ss.Model([q, kv, m], list(ss.MultiheadAttention(8, 2, attn_mask=True)(q, kv, kv, m, name="attn"))).infer()
    assert g.output_shapes == [(ss.sym("L"), ss.sym("B"), 8), (ss.sym("B"), ss.sym("L"), ss.sym("S"))]


def test_mask_misuse_messages():
    x = ss.Input("L, B, 8", name="x")
    m = ss.Input("L, L", name="m")
    with pytest.raises(ss.SpecError, match=r"MultiheadAttention takes 3 input\(s\), got 4 \(masks are extra inputs "
                                           r"when their flags are set: key_padding_mask=True, attn_mask=True\)"):
        ss.MultiheadAttention(8, 2)(x, x, x, m)
    with pytest.raises(ss.SpecError, match=r"MultiheadAttention: is_causal=True .* set attn_mask=True"):
        ss.MultiheadAttention(8, 2, is_causal=True)
    with pytest.raises(ss.SpecError, match=r"TransformerEncoderLayer: is_causal=True .* set src_mask=True"):
        ss.TransformerEncoderLayer(8, 2, is_causal=True)
    with pytest.raises(ss.SpecError, match=r"attn_mask must be true or false"):
        ss.MultiheadAttention(8, 2, attn_mask="yes")
    with pytest.raises(ss.SpecError, match=r"MultiheadAttention: attn_mask must be bool or float32"):
        ints = ss.Input("L, L", name="i", dtype="int64")
        ss.Model([x, ints], list(ss.MultiheadAttention(8, 2, attn_mask=True)(x, x, x, ints))).infer()


ENCODER_CASES = [  # (kwargs, src shape, masks)
    ({}, (5, 2, 8), {"src_mask": attn_mask((5, 5))}),
    ({"batch_first": True}, (2, 5, 8), {"src_key_padding_mask": padding_mask(2, 5)}),
    ({"norm_first": True, "activation": "gelu"}, (5, 2, 8),
     {"src_mask": attn_mask((4, 5, 5), bool_mask=False), "src_key_padding_mask": padding_mask(2, 5)}),
    ({"is_causal": True, "batch_first": True}, (2, 5, 8), {"src_mask": causal(5)}),
    ({"bias": False}, (5, 8), {"src_key_padding_mask": padding_mask(1, 5, bool_mask=False)[0]}),
]


@pytest.mark.parametrize("kwargs, shape, masks", ENCODER_CASES)
def test_transformer_encoder_layer_masks_match_torch(kwargs, shape, masks):
    options = {k: kwargs[k] for k in ("is_causal",) if k in kwargs}
    ctor = {k: v for k, v in kwargs.items() if k not in options}
    layer = ss.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kwargs, **{n: True for n in masks})
    module = Call("enc", torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **ctor), 1, tuple(masks), **options)
    run(layer, module, floats(shape) + list(masks.values()), ["src", *masks], node="enc")


DECODER_CASES = [
    ({}, (4, 2, 8), (6, 2, 8), {"tgt_mask": causal(4), "memory_key_padding_mask": padding_mask(2, 6)}),
    ({"batch_first": True, "norm_first": True}, (2, 4, 8), (2, 6, 8),
     {"memory_mask": attn_mask((4, 6)), "tgt_key_padding_mask": padding_mask(2, 4)}),
    ({"tgt_is_causal": True}, (4, 2, 8), (6, 2, 8),
     {"tgt_mask": causal(4), "memory_mask": attn_mask((8, 4, 6), bool_mask=False)}),
]


@pytest.mark.parametrize("kwargs, tgt, memory, masks", DECODER_CASES)
def test_transformer_decoder_layer_masks_match_torch(kwargs, tgt, memory, masks):
    options = {k: kwargs[k] for k in ("tgt_is_causal", "memory_is_causal") if k in kwargs}
    ctor = {k: v for k, v in kwargs.items() if k not in options}
    layer = ss.TransformerDecoderLayer(8, 4, 12, **kwargs, **{n: True for n in masks})
    module = Call("dec", torch.nn.TransformerDecoderLayer(8, 4, 12, **ctor), 2, tuple(masks), **options)
    run(layer, module, floats(tgt, memory) + list(masks.values()), ["tgt", "memory", *masks], node="dec")


def test_transformer_layer_mask_rules_symbolic():
    t, m = ss.Input("T, B, E", name="t"), ss.Input("S, B, E", name="m")
    tm, mm = ss.Input("T, T", name="tm"), ss.Input("4*B, T, S", name="mm")
    pad = ss.Input("B, S", name="pad", dtype="bool")
    layer = ss.TransformerDecoderLayer(None, 4, 32, tgt_mask=True, memory_mask=True, memory_key_padding_mask=True)
    g = ss.Model([t, m, tm, mm, pad], layer(t, m, tm, mm, pad, name="dec")).infer()
    assert g.output_shapes == [(ss.sym("T"), ss.sym("B"), ss.sym("E"))]
    wrong = ss.Input("B, T", name="wrong", dtype="bool")
    model = ss.Model([t, m, tm, mm, wrong], layer(t, m, tm, mm, wrong, name="dec"))
    with pytest.raises(ss.ShapeMismatchError, match=r"dec \(TransformerDecoderLayer\): dim 1 of memory_key_padding_mask"
                                                   r".*5 \(expected \(2, 5\), \(N, S\)\).*wrong.*has 3"):
        model.infer(t=(3, 2, 8), m=(5, 2, 8), tm=(3, 3), mm=(8, 3, 5), wrong=(2, 3))


@pytest.mark.parametrize("kwargs, message", [
    ({"dropout": 7.0}, r"dropout probability has to be between 0 and 1, but got 7.0"),
    ({"activation": "tanh"}, r"activation should be relu/gelu, not 'tanh'"),
    ({"layer_norm_eps": "small"}, r"layer_norm_eps must be a number"),
    ({"nhead": 0}, r"nhead must be a positive int"),
    ({"norm_first": "yes"}, r"norm_first must be true or false"),
])
def test_transformer_layer_argument_errors(kwargs, message):
    args = {"d_model": 8, "nhead": 2, **kwargs}
    with pytest.raises(ss.SpecError, match=rf"TransformerEncoderLayer: {message}"):
        ss.TransformerEncoderLayer(**args)
