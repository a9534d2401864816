"""MultiheadAttention (eval mode), and the attention core and mask rules the transformer layers share.

query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first: (N, L, E), ...; unbatched: (L, E))
[, key_padding_mask (N, S) or (S)] [, attn_mask (L, S) or (N*num_heads, L, S)] -> attn_output (L, N, E),
attn_weights (N, L, S) averaged over heads; ``embed_dim % num_heads == 0``.

torch's forward options are keyword-only constructor arguments, fixed per layer: ``need_weights``,
``average_attn_weights``, ``is_causal``, and the flags ``key_padding_mask`` and ``attn_mask`` that say
the mask is given as an extra input (in torch's argument order, after query, key and value). A bool
mask marks with True the positions left out; a float mask is added to the scores.
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
from .base import Layer
from .sdpa import additive_mask, causal_mask, softmax_attention

if TYPE_CHECKING:
    from ..propagate import RuleContext


def attention_params(e: Dim, kdim: Dim | None, vdim: Dim | None, bias: bool, add_bias_kv: bool,
                     prefix: str = "") -> dict[str, ParamSpec]:
    """torch's MultiheadAttention parameters, in its state_dict order (a lazy size the rule could not infer,
    after an error, stays a symbol)."""
    e = dims.sym("embed_dim") if e is None else e
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


def merged_mask(batch: int, heads: int, dtype: np.dtype, key_padding_mask: np.ndarray | None = None,
                attn_mask: np.ndarray | None = None) -> np.ndarray | None:
    """torch's merge of attn_mask ((L, S) or (N*heads, L, S)) and key_padding_mask ((N, S) or (S)) into
    one additive mask broadcastable to (N, heads, L, S); bool masks mark with True what is left out."""
    total = None
    if attn_mask is not None:
        am = additive_mask(attn_mask, dtype, masked_when=True)
        total = am[None, None] if am.ndim == 2 else am.reshape(batch, heads, *am.shape[1:])
    if key_padding_mask is not None:
        kpm = additive_mask(key_padding_mask, dtype, masked_when=True)
        kpm = kpm.reshape(-1, 1, 1, kpm.shape[-1])
        total = kpm if total is None else total + kpm
    return total


def attend(p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int,
           add_zero_attn: bool = False, average: bool = True, mask: np.ndarray | None = None,
           causal: bool = False, need_weights: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Batch-first multi-head attention: (N, L, E), (N, S, kdim), (N, S, vdim) -> (N, L, E) and the
    weights (N, L, S'), or (N, heads, L, S') when not averaged over the heads. ``mask`` is additive,
    broadcastable to (N, heads, L, S); ``causal`` replaces it by the causal mask. As in torch, a fully
    masked row gives NaN with ``need_weights`` (an explicit softmax) and zeros without (SDPA), and no
    weights (None) are returned."""
    e = q.shape[-1]
    if "in_proj_weight" in p and q is k and k is v:  # self-attention: one matmul for the three projections
        qkv = q @ p["in_proj_weight"].T
        if "in_proj_bias" in p:
            qkv += p["in_proj_bias"]
        q, k, v = np.split(qkv, 3, axis=-1)
    else:
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
    if causal:
        scores = scores + causal_mask(q.shape[2], k.shape[2], q.dtype)
    elif mask is not None:
        extra = k.shape[2] - mask.shape[-1]  # bias_k and the zero attention are never masked
        scores = scores + (np.pad(mask, [(0, 0)] * 3 + [(0, extra)]) if extra else mask)
    attended, weights = softmax_attention(scores, v, need_weights)
    out = attended.transpose(0, 2, 1, 3).reshape(batch, -1, e)
    out = out @ p["out_proj.weight"].T
    if "out_proj.bias" in p:
        out += p["out_proj.bias"]  # cast to the matmul's dtype, as the result is below
    if not need_weights:
        return out.astype(q.dtype, copy=False), None
    weights = weights.mean(axis=1) if average else weights
    return out.astype(q.dtype, copy=False), weights.astype(q.dtype, copy=False)


def heads_arg(op: str, num_heads: Any, name: str = "num_heads") -> int:
    if type(num_heads) is not int or num_heads <= 0:
        raise SpecError(f"{op}: {name} must be a positive int, got {num_heads!r}")
    return num_heads


def check_heads(ctx: RuleContext, e: Dim, heads: int, what: str = "embed_dim") -> None:
    ctx.divisible(e, heads, what=what, actual_desc=lambda: f"num_heads is {heads}",
                  fix=lambda: f"{what} must be divisible by num_heads (each head gets {what} / num_heads features).")


def check_padding_mask(ctx: RuleContext, i: int, shape: Shape, batch: Dim | None, source: Dim, name: str) -> None:
    """A key padding mask is (N, S), or (S) for unbatched inputs."""
    _check_mask_shape(ctx, i, shape, [(source,) if batch is None else (batch, source)], name,
                      "(S) for unbatched inputs" if batch is None else "(N, S)")


def check_attn_mask(ctx: RuleContext, i: int, shape: Shape, batch: Dim | None, heads: int, length: Dim,
                    source: Dim, name: str) -> None:
    """An attention mask is (L, S) or (N*num_heads, L, S) ((num_heads, L, S) for unbatched inputs)."""
    stacked = heads if batch is None else dims.prod([batch, heads])
    _check_mask_shape(ctx, i, shape, [(length, source), (stacked, length, source)], name,
                      "(L, S) or " + ("(num_heads, L, S)" if batch is None else "(N*num_heads, L, S)"))


def _check_mask_shape(ctx: RuleContext, i: int, shape: Shape, allowed: list[Shape], name: str, layout: str) -> None:
    want = next((w for w in allowed if len(w) == len(shape)), None)
    if want is None:
        ctx.conflict(f"the rank of {name}", f"{' or '.join(str(len(w)) for w in allowed)} {layout}",
                     lambda: f"{ctx.input_desc(i)} has rank {len(shape)}")
        return
    for axis, (w, s) in enumerate(zip(want, shape)):
        ctx.equal(w, s, what=f"dim {axis} of {name}", actual_desc=lambda: f"{ctx.input_desc(i)} has {s}",
                  expected_desc=lambda: f"{ctx.show(w)} (expected {dims.format_shape(want)}, {layout})")


def check_mask_dtypes(op: str, dtypes: tuple[str, ...], names: list[str]) -> None:
    """Masks are bool or of the query's float dtype (torch: 'only bool and floating types')."""
    for name, dtype in zip(names, dtypes[len(dtypes) - len(names):]):
        if dtype not in ("bool", dtypes[0]):
            raise SpecError(f"{op}: {name} must be bool or {dtypes[0]} (the query's dtype), got {dtype}")


def mask_flags(layer: Layer, names: tuple[str, ...], values: tuple[Any, ...]) -> tuple[str, ...]:
    """The masks given as extra inputs, from their constructor flags (``attn_mask=True``)."""
    return tuple(n for n, v in zip(names, values) if layer._flag(n, v))


def causal_flag(layer: Layer, name: str, value: Any, mask_name: str, given: tuple[str, ...],
                optional: bool = False) -> bool | None:
    """torch's is_causal hint needs the mask it describes: 'Need attn_mask if specifying the is_causal hint'."""
    flag = None if optional and value is None else layer._flag(name, value)
    if flag and mask_name not in given:
        raise SpecError(f"{layer.op}: {name}=True is a hint that {mask_name} is the causal mask; set "
                        f"{mask_name}=True and give the mask as an input (torch: 'Need attn_mask if specifying "
                        f"the is_causal hint')")
    return flag


def arity_hint(layer: Layer, n: int, flags: tuple[str, ...]) -> str:
    """Why ``n`` inputs do not suit a layer whose masks are optional inputs, with the flags to set."""
    problem = Layer.arity_problem(layer, n)
    if problem and n > layer.n_inputs:
        problem += f" (masks are extra inputs when their flags are set: {', '.join(f'{f}=True' for f in flags)})"
    return problem


def attention_macs(params: dict[str, ParamSpec], batch: Dim, length: Dim, sk: Dim, sv: Dim, extra_keys: int = 0) -> Dim:
    """The projections (every weight element once per token), then q @ k.T and weights @ v:
    batch * L * S * embed_dim each, with S counting a bias_kv and a zero-attention key (``extra_keys``)."""
    projections = dims.total([
        dims.prod([batch, length, *params[name].shape]) if name in ("q_proj_weight", "out_proj.weight") else
        dims.prod([batch, sk if name == "k_proj_weight" else sv, *params[name].shape])
        for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight") if name in params])
    if "in_proj_weight" in params:  # one packed (3E, E) weight: queries, keys and values
        e = params["in_proj_weight"].shape[1]
        projections = dims.total([projections, dims.prod([batch, e, e, dims.total([length, sk, sv])])])
    s = dims.total([sk, extra_keys])
    e = params["out_proj.weight"].shape[0]
    return dims.total([projections, dims.prod([2, batch, length, s, e])])


def _sequence(shape: Shape, batch_first: bool) -> tuple[Dim, Dim | None]:
    """(length, batch) of an input; batch None when unbatched."""
    if len(shape) == 2:
        return shape[0], None
    return (shape[1], shape[0]) if batch_first else (shape[0], shape[1])


class MultiheadAttention(Layer):
    """query, key, value [, key_padding_mask] [, attn_mask] -> attn_output, attn_weights. See the module docstring."""

    n_outputs = 2
    size_args = ("embed_dim", "kdim", "vdim")
    example = ({"embed_dim": None, "num_heads": 8}, ("L, B, E", "S, B, E", "S, B, E"))
    MASKS = ("key_padding_mask", "attn_mask")

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        (length, batch), (sk, _), (sv, _) = (_sequence(s, self.batch_first) for s in inputs[:3])
        return attention_macs(params, batch or 1, length, sk, sv, int(self.add_bias_kv) + int(self.add_zero_attn))

    def __init__(self, embed_dim: Any, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: Any = None, vdim: Any = None,
                 batch_first: bool = False, device: Any = None, dtype: Any = None, *, need_weights: bool = True,
                 average_attn_weights: bool = True, is_causal: bool = False, key_padding_mask: bool = False,
                 attn_mask: bool = False):
        # need_weights, average_attn_weights, is_causal and the mask flags are torch's forward() arguments
        self.need_weights = self._flag("need_weights", need_weights)
        self.average_attn_weights = self._flag("average_attn_weights", average_attn_weights)
        self.masks = mask_flags(self, self.MASKS, (key_padding_mask, attn_mask))
        self.is_causal = causal_flag(self, "is_causal", is_causal, "attn_mask", self.masks)
        self.n_inputs = 3 + len(self.masks)
        self.n_outputs = 2 if self.need_weights else 1
        self.embed_dim = self._size("embed_dim", embed_dim, optional=True)
        self.num_heads = heads_arg("MultiheadAttention", num_heads)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise SpecError(f"MultiheadAttention: dropout must be a number, got {dropout!r}")
        self.dropout = float(dropout)
        self.has_bias = self._flag("bias", bias)
        self.add_bias_kv = self._flag("add_bias_kv", add_bias_kv)
        self.add_zero_attn = self._flag("add_zero_attn", add_zero_attn)
        self.kdim = self._size("kdim", kdim, optional=True)
        self.vdim = self._size("vdim", vdim, optional=True)
        self.batch_first = self._flag("batch_first", batch_first)

    def arity_problem(self, n: int) -> str:
        return arity_hint(self, n, self.MASKS)

    def infer(self, ctx: RuleContext, q: Shape, k: Shape, v: Shape, *masks: Shape) -> tuple[Shape, Shape] | None:
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        failed = None if self.n_outputs == 1 else (None,) * self.n_outputs
        if not all(ctx.rank(s, (2, 3), f"{layout} or (L, E)", i) for i, s in enumerate((q, k, v))):
            return failed
        if not len(q) == len(k) == len(v):
            ctx.conflict("input ranks", "equal (all batched or all unbatched)",
                         f"query, key and value have ranks {len(q)}, {len(k)}, {len(v)}")
            return failed
        a = ctx.args
        e = ctx.match("embed_dim", q[-1], what="embed_dim", fix=lambda: f"Use embed_dim={q[-1]} or None.")
        check_heads(ctx, e, self.num_heads)
        for i, (shape, name) in enumerate(((k, "kdim"), (v, "vdim")), start=1):
            want = getattr(a, name)
            what = name if want is not None else f"{name} (= embed_dim)"
            ctx.equal(e if want is None else want, shape[-1], what=what,
                      actual_desc=lambda: f"{ctx.input_desc(i)} has {shape[-1]} features",
                      fix=lambda: f"Set {name}={shape[-1]} to project {('key', 'value')[i - 1]}s of that size.")
        (length, batch), (sk, bk), (sv, bv) = (_sequence(s, self.batch_first) for s in (q, k, v))
        ctx.equal(sk, sv, what="the value length", actual_desc=lambda: f"{ctx.input_desc(2)} has {sv}",
                  expected_desc=lambda: f"the key length {sk}", fix="key and value must have the same sequence length.")
        if batch is not None:
            for i, b in ((1, bk), (2, bv)):
                ctx.equal(batch, b, what=f"the batch size of input {i}",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {b}",
                          expected_desc=lambda: f"the query's {batch}")
        for i, (name, shape) in enumerate(zip(self.masks, masks), start=3):
            if name == "key_padding_mask":
                check_padding_mask(ctx, i, shape, batch, sk, name)
            else:
                check_attn_mask(ctx, i, shape, batch, self.num_heads, length, sk, name)
        s = sk + int(self.add_bias_kv) + int(self.add_zero_attn)
        heads = () if self.average_attn_weights else (self.num_heads,)
        out = (length, e) if batch is None else (batch, length, e) if self.batch_first else (length, batch, e)
        weights = (*heads, length, s) if batch is None else (batch, *heads, length, s)
        return (out, weights) if self.need_weights else out

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        check_mask_dtypes(self.op, dtypes, list(self.masks))
        return (dtypes[0],) * self.n_outputs

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        return attention_params(a.embed_dim, a.kdim, a.vdim, self.has_bias, self.add_bias_kv)

    def forward(self, p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray,
                *masks: np.ndarray) -> tuple[np.ndarray, ...]:
        unbatched = q.ndim == 2

        def batch_first(t: np.ndarray) -> np.ndarray:
            return t[None] if unbatched else t if self.batch_first else t.swapaxes(0, 1)

        same_k, same_v = k is q, v is k  # one view of a tensor given twice: attend sees self-attention
        q = batch_first(q)
        k = q if same_k else batch_first(k)
        v = k if same_v else batch_first(v)
        given = dict(zip(self.masks, masks))
        out, weights = self.apply(p, q, k, v, given.get("key_padding_mask"), given.get("attn_mask"))
        if unbatched:
            out, weights = out[0], None if weights is None else weights[0]
        elif not self.batch_first:
            out = np.ascontiguousarray(out.swapaxes(0, 1))
        return (out, weights) if self.need_weights else out

    def apply(self, p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray,
              key_padding_mask: np.ndarray | None, attn_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Batch-first attention with torch's choice: the is_causal hint replaces attn_mask when there is
        no key_padding_mask and no weights are asked for (torch then calls SDPA with is_causal)."""
        causal = self.is_causal and key_padding_mask is None and not self.need_weights
        mask = None if causal else merged_mask(q.shape[0], self.num_heads, q.dtype, key_padding_mask, attn_mask)
        return attend(p, q, k, v, self.num_heads, self.add_zero_attn, self.average_attn_weights, mask, causal,
                      self.need_weights)
