"""Embedding, RNN / LSTM / GRU, MultiheadAttention and the transformer layers against torch."""

import numpy as np
import pytest
import torch
from harness import TorchAttention, check_model

import symshape as ss


def ids(shape, high, seed=0):
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(np.int64)


@pytest.mark.parametrize("args, kwargs, shape", [
    ((10, 4), {}, (2, 5)),
    ((10, 4), {"padding_idx": 0}, (3,)),
    ((12, 3), {"padding_idx": -1}, (2, 2, 3)),
    ((10, 4), {"max_norm": 1.0}, (2, 5)),
])
def test_embedding_matches_torch(args, kwargs, shape):
    check_model(ss.Sequential(ss.Embedding(*args, **kwargs)), torch.nn.Sequential(torch.nn.Embedding(*args, **kwargs)),
                ids(shape, args[0]))


def test_embedding_padding_row_is_zero_and_ids_checked():
    g = ss.Sequential(ss.Embedding(6, 3, padding_idx=2)).infer((4,))
    assert not g.materialize(seed=0)["0.weight"][2].any()
    with pytest.raises(ss.ShapeError, match="id 6 is out of range for num_embeddings=6"):
        g.forward(g.materialize(seed=0), np.array([0, 6, 1, 1]))
    with pytest.raises(ss.ShapeError, match="takes integer ids"):
        g.forward(g.materialize(seed=0), np.zeros(4, dtype=np.float32))


RNN_CASES = [
    ("RNN", (5, 7), {}, (4, 2, 5)),
    ("RNN", (5, 7, 2), {"nonlinearity": "relu", "bidirectional": True}, (4, 2, 5)),
    ("RNN", (5, 7), {"batch_first": True, "bias": False}, (2, 4, 5)),
    ("LSTM", (5, 7), {}, (4, 2, 5)),
    ("LSTM", (5, 7, 2), {"bidirectional": True, "batch_first": True}, (3, 6, 5)),
    ("LSTM", (5, 7, 2), {"proj_size": 3}, (4, 2, 5)),
    ("LSTM", (5, 6), {"proj_size": 2, "bidirectional": True}, (4, 5)),  # unbatched
    ("GRU", (5, 7), {}, (4, 2, 5)),
    ("GRU", (5, 4, 2), {"bidirectional": True}, (6, 3, 5)),
    ("GRU", (3, 4), {"batch_first": True, "dropout": 0.3, "num_layers": 2}, (2, 5, 3)),
]


@pytest.mark.parametrize("op, args, kwargs, shape", RNN_CASES)
def test_recurrent_matches_torch(op, args, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    check_model(ss.Sequential(getattr(ss, op)(*args, **kwargs)),
                _First(getattr(torch.nn, op)(*args, **kwargs)), x, rtol=1e-4, atol=1e-5)


class _First(torch.nn.Module):
    """The recurrent layer as child "0", its (output, (h_n, c_n)) flattened as symshape's outputs."""

    def __init__(self, inner):
        super().__init__()
        self.add_module("0", inner)

    def forward(self, *xs):
        out, state = getattr(self, "0")(*xs)
        return (out, *state) if isinstance(state, tuple) else (out, state)


def test_recurrent_symbolic_shapes_and_initial_state():
    g = ss.Sequential(ss.LSTM(None, 8, num_layers=2, bidirectional=True)).infer("T, B, D")
    T, B, D = ss.sym("T"), ss.sym("B"), ss.sym("D")
    assert g.output_shapes == [(T, B, 16), (4, B, 8), (4, B, 8)]
    assert g.param_shapes["0.weight_ih_l0"] == (32, D) and g.param_shapes["0.weight_ih_l1_reverse"] == (32, 16)
    x, h0 = ss.Input("T, B, 5", name="x"), ss.Input("1, B, 3", name="h0")
    gru = ss.GRU(5, 4)
    with pytest.raises(ss.ShapeMismatchError, match=r"dim 2 of initial state 1 is 4 \(expected \(1, B, 4\)\) but its input 1 \(1, B, 3\) from input h0 has 3"):
        ss.Model([x, h0], gru(x, h0)).infer()


def test_gru_with_initial_state_matches_torch():
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((5, 2, 3)).astype(np.float32), rng.standard_normal((2, 2, 4)).astype(np.float32)
    xi, hi = ss.Input("T, B, 3", name="x"), ss.Input("2, B, 4", name="h0")
    model = ss.Model([xi, hi], ss.GRU(3, 4, bidirectional=True)(xi, hi, name="gru"))
    g = model.infer().bind(T=5, B=2)
    params = g.materialize(seed=0)
    module = torch.nn.GRU(3, 4, bidirectional=True)
    module.load_state_dict({k.removeprefix("gru."): torch.from_numpy(v) for k, v in params.items()})
    out, h = g.forward(params, x, h0)
    expected_out, expected_h = module(torch.from_numpy(x), torch.from_numpy(h0))
    np.testing.assert_allclose(out, expected_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h, expected_h.detach().numpy(), rtol=1e-4, atol=1e-5)


MHA_CASES = [
    ((8, 2), {}, [(5, 3, 8), (5, 3, 8), (5, 3, 8)]),
    ((8, 4), {"batch_first": True}, [(3, 5, 8), (3, 6, 8), (3, 6, 8)]),
    ((8, 2), {"kdim": 5, "vdim": 3}, [(4, 2, 8), (6, 2, 5), (6, 2, 3)]),
    ((6, 3), {"add_bias_kv": True, "add_zero_attn": True}, [(4, 2, 6), (5, 2, 6), (5, 2, 6)]),
    ((6, 2), {"bias": False}, [(4, 6), (5, 6), (5, 6)]),  # unbatched
]


@pytest.mark.parametrize("args, kwargs, shapes", MHA_CASES)
def test_multihead_attention_matches_torch(args, kwargs, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    inputs = [ss.Input(s, name=n) for s, n in zip(shapes, ["query", "key", "value"])]
    model = ss.Model(inputs, list(ss.MultiheadAttention(*args, **kwargs)(*inputs, name="attn")))
    check_model(model, TorchAttention(*args, **kwargs), *arrays)


def test_multihead_attention_rules():
    q = ss.Input("L, B, E", name="q")
    kv = ss.Input("S, B, 16", name="kv")
    g = ss.Model([q, kv], list(ss.MultiheadAttention(None, 4)(q, kv, kv))).infer()
    assert g.fixed_sizes == {"E": 16}
    L, S, B = ss.sym("L"), ss.sym("S"), ss.sym("B")
    assert g.output_shapes == [(L, B, 16), (B, L, S)]
    x = ss.Input((5, 2, 30), name="x")
    with pytest.raises(ss.ShapeMismatchError, match=r"embed_dim is 30, not a multiple of 4 but num_heads is 4"):
        ss.Model(x, list(ss.MultiheadAttention(30, 4)(x, x, x))).infer()


class _Encoder(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.enc = torch.nn.TransformerEncoderLayer(*args, **kwargs)

    def forward(self, x):
        return self.enc(x)


@pytest.mark.parametrize("kwargs, shape", [
    ({}, (5, 2, 8)),
    ({"batch_first": True, "norm_first": True, "activation": "gelu"}, (2, 5, 8)),
    ({"bias": False}, (5, 8)),
])
def test_transformer_encoder_layer_matches_torch(kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    inp = ss.Input(shape, name="x")
    model = ss.Model(inp, ss.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kwargs)(inp, name="enc"))
    check_model(model, _Encoder(8, 2, dim_feedforward=16, **kwargs), x, rtol=1e-4, atol=1e-5)


class _Decoder(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.dec = torch.nn.TransformerDecoderLayer(*args, **kwargs)

    def forward(self, t, m):
        return self.dec(t, m)


@pytest.mark.parametrize("kwargs", [{}, {"norm_first": True, "batch_first": True}])
def test_transformer_decoder_layer_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    tgt, mem = rng.standard_normal((4, 2, 8)).astype(np.float32), rng.standard_normal((4, 6, 8)).astype(np.float32)
    if kwargs.get("batch_first"):
        mem = rng.standard_normal((4, 6, 8)).astype(np.float32)
    else:
        mem = rng.standard_normal((6, 2, 8)).astype(np.float32)
    t, m = ss.Input(tgt.shape, name="tgt"), ss.Input(mem.shape, name="memory")
    model = ss.Model([t, m], ss.TransformerDecoderLayer(8, 4, dim_feedforward=12, **kwargs)(t, m, name="dec"))
    check_model(model, _Decoder(8, 4, dim_feedforward=12, **kwargs), tgt, mem)


class _MHAOptions(torch.nn.Module):
    def __init__(self, need, average):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(6, 3)
        self.need, self.average = need, average

    def forward(self, q, k, v):
        out, weights = self.attn(q, k, v, need_weights=self.need, average_attn_weights=self.average)
        return (out, weights) if self.need else out


@pytest.mark.parametrize("need, average", [(False, True), (True, False)])
def test_multihead_attention_weight_options(need, average):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 2, 6)).astype(np.float32) for _ in range(3)]
    inputs = [ss.Input((4, 2, 6), name=n) for n in ("q", "k", "v")]
    out = ss.MultiheadAttention(6, 3, need_weights=need, average_attn_weights=average)(*inputs, name="attn")
    check_model(ss.Model(inputs, list(out) if need else out), _MHAOptions(need, average), *arrays, check_init=False)
