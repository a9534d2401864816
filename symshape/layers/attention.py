"""Attention: MultiheadAttention, TransformerEncoderLayer and TransformerDecoderLayer (eval mode, no masks).

MultiheadAttention: query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first: (N, L, E), ...;
unbatched: (L, E)) -> attn_output (L, N, E), attn_weights (N, L, S) averaged over heads;
``embed_dim % num_heads == 0``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer, erf

if TYPE_CHECKING:
    from ..propagate import RuleContext

ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))),
}


def attention_params(e: Dim, kdim: Dim | None, vdim: Dim | None, bias: bool, add_bias_kv: bool,
                     prefix: str = "") -> dict[str, ParamSpec]:
    """torch's MultiheadAttention parameters, in its state_dict order."""
    k, v = (e if kdim is None else kdim), (e if vdim is None else vdim)
    p: dict[str, ParamSpec] = {}
    if dims.definitely_equal(k, e) and dims.definitely_equal(v, e):
        p["in_proj_weight"] = ParamSpec((3 * e, e), "xavier_uniform")
    else:
        p["q_proj_weight"] = ParamSpec((e, e), "xavier_uniform")
        p["k_proj_weight"] = ParamSpec((e, k), "xavier_uniform")
        p["v_proj_weight"] = ParamSpec((e, v), "xavier_uniform")
    if bias:
        p["in_proj_bias"] = ParamSpec((3 * e,), "zeros")
    if add_bias_kv:
        p["bias_k"] = ParamSpec((1, 1, e), "xavier_normal")
        p["bias_v"] = ParamSpec((1, 1, e), "xavier_normal")
    p["out_proj.weight"] = ParamSpec((e, e), "uniform_fan_in", {"fan_in": e})
    if bias:
        p["out_proj.bias"] = ParamSpec((e,), "zeros")
    return {prefix + name: spec for name, spec in p.items()}


def attend(p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int,
           add_zero_attn: bool = False, average: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Batch-first multi-head attention: (N, L, E), (N, S, kdim), (N, S, vdim) -> (N, L, E) and the
    weights (N, L, S'), or (N, heads, L, S') when not averaged over the heads."""
    e = q.shape[-1]
    if "in_proj_weight" in p:
        wq, wk, wv = np.split(p["in_proj_weight"], 3)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    bq, bk, bv = np.split(p["in_proj_bias"], 3) if "in_proj_bias" in p else (0, 0, 0)
    q, k, v = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
    batch = q.shape[0]
    if "bias_k" in p:
        k = np.concatenate([k, np.broadcast_to(p["bias_k"][0], (batch, 1, e))], axis=1)
        v = np.concatenate([v, np.broadcast_to(p["bias_v"][0], (batch, 1, e))], axis=1)
    d = e // heads

    def split(t: np.ndarray) -> np.ndarray:  # (N, T, E) -> (N, heads, T, d)
        return t.reshape(t.shape[0], t.shape[1], heads, d).transpose(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    if add_zero_attn:
        zeros = np.zeros(k.shape[:2] + (1, d), dtype=k.dtype)
        k, v = np.concatenate([k, zeros], axis=2), np.concatenate([v, zeros], axis=2)
    scores = (q * np.asarray(1.0 / math.sqrt(d), dtype=q.dtype)) @ k.swapaxes(-1, -2)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, -1, e)
    out = out @ p["out_proj.weight"].T
    if "out_proj.bias" in p:
        out = out + p["out_proj.bias"]
    weights = weights.mean(axis=1) if average else weights
    return out.astype(q.dtype, copy=False), weights.astype(q.dtype, copy=False)


def _sub(p: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}


def _heads(op: str, num_heads: Any) -> int:
    if type(num_heads) is not int or num_heads <= 0:
        raise SpecError(f"{op}: num_heads must be a positive int, got {num_heads!r}")
    return num_heads


def _check_heads(ctx: RuleContext, e: Dim, heads: int, what: str = "embed_dim") -> None:
    ctx.divisible(e, heads, what=what, actual_desc=lambda: f"num_heads is {heads}",
                  fix=lambda: f"{what} must be divisible by num_heads (each head gets {what} / num_heads features).")


def _sequence(ctx: RuleContext, i: int, shape: Shape, rank: int, batch_first: bool) -> tuple[Dim, Dim | None]:
    """(length, batch) of input i; batch None when unbatched."""
    if len(shape) == 2:
        return shape[0], None
    return (shape[1], shape[0]) if batch_first else (shape[0], shape[1])


class MultiheadAttention(Layer):
    """query, key, value -> attn_output, attn_weights (averaged over heads). See the module docstring."""

    n_inputs = 3
    n_outputs = 2
    size_args = ("embed_dim", "kdim", "vdim")
    example = ({"embed_dim": None, "num_heads": 8}, ("L, B, E", "S, B, E", "S, B, E"))

    def __init__(self, embed_dim: Any, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: Any = None, vdim: Any = None,
                 batch_first: bool = False, device: Any = None, dtype: Any = None, *, need_weights: bool = True,
                 average_attn_weights: bool = True):
        # need_weights and average_attn_weights are torch's forward() arguments, fixed here per layer
        self.need_weights = self._flag("need_weights", need_weights)
        self.average_attn_weights = self._flag("average_attn_weights", average_attn_weights)
        self.n_outputs = 2 if self.need_weights else 1
        self.embed_dim = self._size("embed_dim", embed_dim, optional=True)
        self.num_heads = _heads("MultiheadAttention", num_heads)
        self.dropout = float(dropout)
        self.has_bias = self._flag("bias", bias)
        self.add_bias_kv = self._flag("add_bias_kv", add_bias_kv)
        self.add_zero_attn = self._flag("add_zero_attn", add_zero_attn)
        self.kdim = self._size("kdim", kdim, optional=True)
        self.vdim = self._size("vdim", vdim, optional=True)
        self.batch_first = self._flag("batch_first", batch_first)

    def infer(self, ctx: RuleContext, q: Shape, k: Shape, v: Shape) -> tuple[Shape, Shape] | None:
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if not all(ctx.rank(s, (2, 3), f"{layout} or (L, E)", i) for i, s in enumerate((q, k, v))):
            return None
        if not len(q) == len(k) == len(v):
            ctx.conflict("input ranks", "equal (all batched or all unbatched)",
                         f"query, key and value have ranks {len(q)}, {len(k)}, {len(v)}")
            return None
        a = ctx.args
        e = ctx.match("embed_dim", q[-1], what="embed_dim", fix=lambda: f"Use embed_dim={q[-1]} or None.")
        _check_heads(ctx, e, self.num_heads)
        for i, (shape, name) in enumerate(((k, "kdim"), (v, "vdim")), start=1):
            want = getattr(a, name)
            what = name if want is not None else f"{name} (= embed_dim)"
            ctx.equal(e if want is None else want, shape[-1], what=what,
                      actual_desc=lambda: f"{ctx.input_desc(i)} has {shape[-1]} features",
                      fix=lambda: f"Set {name}={shape[-1]} to project {('key', 'value')[i - 1]}s of that size.")
        (length, batch), (sk, bk), (sv, bv) = (_sequence(ctx, i, s, len(q), self.batch_first)
                                               for i, s in enumerate((q, k, v)))
        ctx.equal(sk, sv, what="the value length", actual_desc=lambda: f"{ctx.input_desc(2)} has {sv}",
                  expected_desc=lambda: f"the key length {sk}", fix="key and value must have the same sequence length.")
        if batch is not None:
            for i, b in ((1, bk), (2, bv)):
                ctx.equal(batch, b, what=f"the batch size of input {i}",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {b}",
                          expected_desc=lambda: f"the query's {batch}")
        s = sk + int(self.add_bias_kv) + int(self.add_zero_attn)
        heads = () if self.average_attn_weights else (self.num_heads,)
        out = (length, e) if batch is None else (batch, length, e) if self.batch_first else (length, batch, e)
        weights = (*heads, length, s) if batch is None else (batch, *heads, length, s)
        return (out, weights) if self.need_weights else out

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        return attention_params(a.embed_dim, a.kdim, a.vdim, self.has_bias, self.add_bias_kv)

    def forward(self, p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
        unbatched = q.ndim == 2
        q, k, v = (t[None] if unbatched else t if self.batch_first else t.swapaxes(0, 1) for t in (q, k, v))
        out, weights = attend(p, q, k, v, self.num_heads, self.add_zero_attn, self.average_attn_weights)
        if unbatched:
            out, weights = out[0], weights[0]
        elif not self.batch_first:
            out = np.ascontiguousarray(out.swapaxes(0, 1))
        return (out, weights) if self.need_weights else out


class _TransformerLayer(Layer):
    size_args = ("d_model",)
    example = ({"d_model": None, "nhead": 8, "dim_feedforward": 256}, ("S, B, E",))
    attention_blocks: tuple[str, ...] = ()
    norms = 0

    def __init__(self, d_model: Any, nhead: int, dim_feedforward: Any = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None):
        op = type(self).__name__
        self.d_model = self._size("d_model", d_model, optional=True)
        self.nhead = _heads(op, nhead)
        self.dim_feedforward = self._size("dim_feedforward", dim_feedforward)
        if activation not in ACTIVATIONS:
            raise SpecError(f"{op}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.dropout = float(dropout)
        self.layer_norm_eps = float(layer_norm_eps)
        self.batch_first = self._flag("batch_first", batch_first)
        self.norm_first = self._flag("norm_first", norm_first)
        self.has_bias = self._flag("bias", bias)

    def _check(self, ctx: RuleContext, x: Shape) -> Dim | None:
        layout = "(N, S, E)" if self.batch_first else "(S, N, E)"
        if not ctx.rank(x, (2, 3), f"{layout} or (S, E)"):
            return None
        d = ctx.match("d_model", x[-1], what="d_model", fix=lambda: f"Use d_model={x[-1]} or None.")
        _check_heads(ctx, d, self.nhead, "d_model")
        return d

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        d, ff = a.d_model, self.dim_feedforward
        p: dict[str, ParamSpec] = {}
        for block in self.attention_blocks:
            p.update(attention_params(d, None, None, self.has_bias, False, f"{block}."))
        p["linear1.weight"] = ParamSpec((ff, d), "uniform_fan_in", {"fan_in": d})
        if self.has_bias:
            p["linear1.bias"] = ParamSpec((ff,), "uniform_fan_in", {"fan_in": d})
        p["linear2.weight"] = ParamSpec((d, ff), "uniform_fan_in", {"fan_in": ff})
        if self.has_bias:
            p["linear2.bias"] = ParamSpec((d,), "uniform_fan_in", {"fan_in": ff})
        for i in range(1, self.norms + 1):
            p[f"norm{i}.weight"] = ParamSpec((d,), "ones")
            if self.has_bias:
                p[f"norm{i}.bias"] = ParamSpec((d,), "zeros")
        return p

    def _norm(self, p: dict, i: int, x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        y = (x - mean) / np.sqrt(var + np.asarray(self.layer_norm_eps, dtype=x.dtype)) * p[f"norm{i}.weight"]
        return y + p[f"norm{i}.bias"] if f"norm{i}.bias" in p else y

    def _feedforward(self, p: dict, x: np.ndarray) -> np.ndarray:
        h = x @ p["linear1.weight"].T + p.get("linear1.bias", 0)
        return ACTIVATIONS[self.activation](h).astype(x.dtype) @ p["linear2.weight"].T + p.get("linear2.bias", 0)

    def _batch_first(self, x: np.ndarray) -> np.ndarray:
        return x[None] if x.ndim == 2 else x if self.batch_first else x.swapaxes(0, 1)

    def _restore(self, y: np.ndarray, like: np.ndarray) -> np.ndarray:
        y = y.astype(like.dtype, copy=False)
        return y[0] if like.ndim == 2 else y if self.batch_first else np.ascontiguousarray(y.swapaxes(0, 1))


class TransformerEncoderLayer(_TransformerLayer):
    """src (S, N, E) -> (S, N, E): self-attention and a feed-forward block, each with a residual and LayerNorm."""

    attention_blocks = ("self_attn",)
    norms = 2

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return x if self._check(ctx, x) is not None else None

    def forward(self, p: dict[str, np.ndarray], src: np.ndarray) -> np.ndarray:
        x = self._batch_first(src)
        sa = _sub(p, "self_attn.")

        def attn(t: np.ndarray) -> np.ndarray:
            return attend(sa, t, t, t, self.nhead)[0]

        if self.norm_first:
            x = x + attn(self._norm(p, 1, x))
            x = x + self._feedforward(p, self._norm(p, 2, x))
        else:
            x = self._norm(p, 1, x + attn(x))
            x = self._norm(p, 2, x + self._feedforward(p, x))
        return self._restore(x, src)


class TransformerDecoderLayer(_TransformerLayer):
    """tgt (T, N, E), memory (S, N, E) -> (T, N, E): self-attention, attention over memory, feed-forward."""

    n_inputs = 2
    example = (_TransformerLayer.example[0], ("T, B, E", "S, B, E"))
    attention_blocks = ("self_attn", "multihead_attn")
    norms = 3

    def infer(self, ctx: RuleContext, tgt: Shape, memory: Shape) -> Shape | None:
        d = self._check(ctx, tgt)
        if d is None or not ctx.rank(memory, (len(tgt),), "the same rank as tgt", 1):
            return None
        ctx.equal(d, memory[-1], what="the memory's features", expected_desc=lambda: f"d_model {d}",
                  actual_desc=lambda: f"{ctx.input_desc(1)} has {memory[-1]}", fix="memory must have d_model features.")
        if len(tgt) == 3:
            axis = 0 if self.batch_first else 1
            ctx.equal(tgt[axis], memory[axis], what="the memory's batch size", expected_desc=lambda: f"{tgt[axis]}",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {memory[axis]}")
        return tgt

    def forward(self, p: dict[str, np.ndarray], tgt: np.ndarray, memory: np.ndarray) -> np.ndarray:
        x, mem = self._batch_first(tgt), self._batch_first(memory)
        sa, ca = _sub(p, "self_attn."), _sub(p, "multihead_attn.")

        def self_attn(t: np.ndarray) -> np.ndarray:
            return attend(sa, t, t, t, self.nhead)[0]

        def cross_attn(t: np.ndarray) -> np.ndarray:
            return attend(ca, t, mem, mem, self.nhead)[0]

        if self.norm_first:
            x = x + self_attn(self._norm(p, 1, x))
            x = x + cross_attn(self._norm(p, 2, x))
            x = x + self._feedforward(p, self._norm(p, 3, x))
        else:
            x = self._norm(p, 1, x + self_attn(x))
            x = self._norm(p, 2, x + cross_attn(x))
            x = self._norm(p, 3, x + self._feedforward(p, x))
        return self._restore(x, tgt)
