"""ScaledDotProductAttention: torch.nn.functional.scaled_dot_product_attention as a layer (eval mode).

query (..., L, E), key (..., S, E), value (..., S, Ev) [, attn_mask broadcastable to (..., L, S)] ->
(..., L, Ev). The batch dims broadcast; a bool mask keeps the positions that are True, a float mask is
added to the scores; a row with every position masked gives zeros, as torch does. With ``enable_gqa``
the query heads (dim -3) are a multiple of the key's and the value's, which are repeated to match.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer
from .merge import broadcast

if TYPE_CHECKING:
    from ..propagate import RuleContext


def additive_mask(mask: np.ndarray, dtype: np.dtype, masked_when: bool) -> np.ndarray:
    """A bool mask (``masked_when`` marks the positions left out) or a float one as scores to add."""
    if mask.dtype == np.bool_:
        return np.where(mask == masked_when, -np.inf, 0).astype(dtype)
    return mask.astype(dtype, copy=False)


def causal_mask(length: int, source: int, dtype: np.dtype) -> np.ndarray:
    """torch's is_causal: query i sees keys 0..i (the top-left aligned lower triangle)."""
    return np.where(np.tri(length, source, dtype=bool), 0, -np.inf).astype(dtype)


def softmax_attention(scores: np.ndarray, v: np.ndarray, need_weights: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """softmax(scores) @ v, stable, and the weights with ``need_weights`` (else None). As torch's explicit
    softmax, a row of -inf scores gives NaN with ``need_weights``; as its scaled_dot_product_attention,
    zeros without, and then the result (L, Ev) is normalized instead of the weights (L, S). The weights
    are computed in place: ``scores`` must be a fresh array the caller does not read again."""
    top = scores.max(axis=-1, keepdims=True, initial=-np.inf)
    if not need_weights:
        top = np.where(np.isneginf(top), 0, top)
    weights = scores
    with np.errstate(invalid="ignore"):  # -inf - -inf: the NaN torch's softmax gives such a row
        np.subtract(weights, top, out=weights)
    np.exp(weights, out=weights)
    total = weights.sum(axis=-1, keepdims=True)
    if v.strides[-1] != v.itemsize:  # BLAS wants unit steps along rows (a head-split view has them)
        v = np.ascontiguousarray(v)
    if need_weights:
        weights /= total
        return weights @ v, weights
    out = weights @ v
    out /= np.where(total == 0, 1, total)
    return out, None


class ScaledDotProductAttention(Layer):
    """softmax(query @ key^T * scale + mask) @ value. See the module docstring."""

    n_inputs = (3, 4)  # query, key, value [, attn_mask]
    example = ({"is_causal": True}, ("B, H, L, E", "B, H, S, E", "B, H, S, Ev"))

    def __init__(self, dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                 enable_gqa: bool = False):
        if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0 <= dropout_p <= 1:
            raise SpecError(f"ScaledDotProductAttention: dropout_p must be a probability between 0 and 1, "
                            f"got {dropout_p!r}")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))):
            raise SpecError(f"ScaledDotProductAttention: scale must be a number or None, got {scale!r}")
        self.dropout_p = float(dropout_p)  # eval mode: no dropout
        self.is_causal = self._flag("is_causal", is_causal)
        self.scale = None if scale is None else float(scale)
        self.enable_gqa = self._flag("enable_gqa", enable_gqa)

    def infer(self, ctx: RuleContext, q: Shape, k: Shape, v: Shape, *mask: Shape) -> Shape | None:
        for i, (s, meaning) in enumerate(zip((q, k, v), ("(..., L, E)", "(..., S, E)", "(..., S, Ev)"))):
            if len(s) < 2:
                ctx.conflict("input rank", f"at least 2 {meaning}", lambda: f"{ctx.input_desc(i)} has rank {len(s)}")
                return None
        ctx.equal(q[-1], k[-1], what="the key's features (E)", expected_desc=lambda: f"the query's {q[-1]}",
                  actual_desc=lambda: f"{ctx.input_desc(1)} has {k[-1]}",
                  fix="query and key must have the same last dim.")
        ctx.equal(k[-2], v[-2], what="the value length (S)", expected_desc=lambda: f"the key length {k[-2]}",
                  actual_desc=lambda: f"{ctx.input_desc(2)} has {v[-2]}",
                  fix="key and value must have the same sequence length (dim -2).")
        batches = [q[:-2], k[:-2], v[:-2]]
        if self.enable_gqa and not self._group_heads(ctx, batches):
            return None
        scores = (*broadcast(ctx, batches[:2], [0, 1], "batch dim"), q[-2], k[-2])
        if mask:
            if self.is_causal:
                ctx.conflict("an attn_mask with is_causal=True", "not allowed",
                             lambda: f"{ctx.input_desc(3)} is given",
                             "Give either the mask or is_causal=True (torch: 'Explicit attn_mask should not be set "
                             "when is_causal=True').")
            self._check_mask(ctx, mask[0], scores)
        batch = broadcast(ctx, [scores[:-2], batches[2]], [0, 2], "batch dim")
        return (*batch, q[-2], v[-1])

    def _group_heads(self, ctx: RuleContext, batches: list[Shape]) -> bool:
        """GQA: the key's and the value's heads (dim -3) divide the query's; they are repeated to match."""
        if min(len(b) for b in batches) < 1:
            ctx.conflict("input rank", "at least 3 (..., heads, L, E) with enable_gqa",
                         f"the inputs have ranks {', '.join(str(len(b) + 2) for b in batches)}")
            return False
        heads = batches[0][-1]
        for i in (1, 2):
            kv = batches[i][-1]
            ctx.divisible(heads, kv, what="the query heads (dim -3)",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {kv} heads",
                          fix="With enable_gqa the query heads must be a multiple of the key and value heads.")
            batches[i] = (*batches[i][:-1], heads)
        return True

    @staticmethod
    def _check_mask(ctx: RuleContext, mask: Shape, scores: Shape) -> None:
        """The mask is added into the scores (..., L, S): each of its dims is 1 or the scores' size."""
        if len(mask) > len(scores):
            ctx.conflict("the attn_mask rank", f"at most {len(scores)} (broadcastable to "
                         f"{dims.format_shape(scores)})", lambda: f"{ctx.input_desc(3)} has rank {len(mask)}")
            return
        for axis in range(-len(mask), 0):
            m, want = mask[axis], scores[axis]
            if m != 1:
                ctx.equal(want, m, what=f"dim {axis} of attn_mask",
                          expected_desc=lambda: f"{want} or 1 (broadcastable to {dims.format_shape(scores)})",
                          actual_desc=lambda: f"{ctx.input_desc(3)} has {m}")

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        if len(set(dtypes[:3])) > 1:
            raise SpecError(f"ScaledDotProductAttention: query, key and value must have the same dtype, "
                            f"got {', '.join(dtypes[:3])}")
        if len(dtypes) > 3 and dtypes[3] not in ("bool", dtypes[0]):
            raise SpecError(f"ScaledDotProductAttention: attn_mask must be bool or the query's dtype "
                            f"{dtypes[0]}, got {dtypes[3]}")
        return (dtypes[0],)

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """The two matmuls, as torch.utils.flop_counter counts them (FLOPs / 2): L*S*(E + Ev) per batch element."""
        if not inputs or not outputs:
            return 0
        q, k = inputs[0], inputs[1]
        out = outputs[0]
        return dims.prod([*out[:-2], q[-2], k[-2], dims.total([q[-1], out[-1]])])

    def forward(self, p: dict[str, np.ndarray], q: np.ndarray, k: np.ndarray, v: np.ndarray,
                *mask: np.ndarray) -> np.ndarray:
        if self.enable_gqa:
            k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
            v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
        scale = 1 / math.sqrt(q.shape[-1]) if self.scale is None else self.scale
        scores = (q @ k.swapaxes(-1, -2)) * np.asarray(scale, dtype=q.dtype)
        if self.is_causal:
            scores = scores + causal_mask(q.shape[-2], k.shape[-2], q.dtype)
        elif mask:
            scores = scores + additive_mask(mask[0], q.dtype, masked_when=False)
        out, _ = softmax_attention(scores, v, need_weights=False)
        return out.astype(q.dtype, copy=False)
