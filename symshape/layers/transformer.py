"""Transformers (eval mode): TransformerEncoderLayer, TransformerDecoderLayer, their stacks
TransformerEncoder and TransformerDecoder, and Transformer.

src (S, N, E) (batch first: (N, S, E); unbatched: (S, E)), tgt (T, N, E) -> the same shape. As for
MultiheadAttention, torch's forward arguments are keyword-only constructor arguments: a mask flag
(``src_mask=True``, ``src_key_padding_mask=True``, ...) says that mask is an extra input, in torch's
argument order; ``is_causal`` hints are torch's (they need the mask they describe).

A layer-valued argument (``encoder_layer``, ``norm``, ``custom_encoder``) is a layer object or, in
spec files, a mapping ``{op: TransformerEncoderLayer, d_model: 64, nhead: 4}``. As in torch, the stacks
hold ``num_layers`` copies of it (``layers.0.``, ``layers.1.``, ...); each copy is initialized on its own.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec
from .activation import gelu_erf
from .attention import (
    arity_hint,
    attend,
    attention_macs,
    attention_params,
    causal_flag,
    check_attn_mask,
    check_heads,
    check_mask_dtypes,
    check_padding_mask,
    heads_arg,
    mask_flags,
    merged_mask,
)
from .base import LAYERS, Layer
from .norm import LayerNorm, layer_norm

if TYPE_CHECKING:
    from ..propagate import RuleContext

ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": gelu_erf,
}
Masks = dict[str, np.ndarray]


def sublayer(owner: Layer, name: str, value: Any, kind: type[Layer], optional: bool = False) -> Layer | None:
    """A layer-valued argument: a layer of class ``kind`` or a mapping ``{op: ..., <its arguments>}``."""
    if value is None and optional:
        return None
    if isinstance(value, dict):
        args = dict(value)
        op = args.pop("op", None)
        cls = LAYERS.get(op) if isinstance(op, str) else None
        if cls is None or not issubclass(cls, kind):
            raise SpecError(f"{owner.op}: {name} must be a {kind.__name__} mapping {{op: {kind.__name__}, ...}}, "
                            f"got op {op!r}")
        try:
            value = cls(**args)
        except SpecError as exc:
            raise SpecError(f"{owner.op}: {name}: {exc}") from None
    if not isinstance(value, kind):
        raise SpecError(f"{owner.op}: {name} must be a {kind.__name__}"
                        f"{' or None' if optional else ''}, got {value!r}")
    return value


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _count(op: str, name: str, value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise SpecError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


def _sub(p: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}


def _attention(p: dict[str, np.ndarray], x: np.ndarray, mem: np.ndarray, heads: int, key_padding_mask: Any,
               attn_mask: Any, is_causal: bool) -> np.ndarray:
    """torch's _sa_block / _mha_block: attention without weights; the causal hint replaces the mask
    when there is no key padding mask."""
    causal = bool(is_causal) and key_padding_mask is None
    mask = None if causal else merged_mask(x.shape[0], heads, x.dtype, key_padding_mask, attn_mask)
    return attend(p, x, mem, mem, heads, mask=mask, causal=causal, need_weights=False)[0]


def _to_batch_first(x: np.ndarray, batch_first: bool) -> np.ndarray:
    return x[None] if x.ndim == 2 else x if batch_first else x.swapaxes(0, 1)


def _restore(y: np.ndarray, like: np.ndarray, batch_first: bool) -> np.ndarray:
    y = y.astype(like.dtype, copy=False)
    return y[0] if like.ndim == 2 else y if batch_first else np.ascontiguousarray(y.swapaxes(0, 1))


def _sequence(shape: Shape, batch_first: bool) -> tuple[Dim, Dim | None]:
    if len(shape) == 2:
        return shape[0], None
    return (shape[1], shape[0]) if batch_first else (shape[0], shape[1])


class _MaskedInputs(Layer):
    """A layer whose masks are optional extra inputs, chosen by constructor flags (``MASKS``, in
    torch's argument order). ``MASK_SHAPES`` says, per mask, its kind and its (query, key) sequences."""

    MAIN: tuple[str, ...] = ("src",)
    MASKS: tuple[str, ...] = ()
    MASK_SHAPES: dict[str, tuple[str, str, str]] = {}

    def _set_masks(self, values: tuple[Any, ...]) -> None:
        self.masks = mask_flags(self, self.MASKS, values)
        self.n_inputs = len(self.MAIN) + len(self.masks)

    def arity_problem(self, n: int) -> str:
        return arity_hint(self, n, self.MASKS)

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        check_mask_dtypes(self.op, dtypes, list(self.masks))
        return (dtypes[0],)

    def mask_heads(self, name: str) -> int:
        """The heads of the attention a mask is for ((N*num_heads, L, S) masks)."""
        return self.nhead

    def _check_masks(self, ctx: RuleContext, masks: tuple[Shape, ...], lengths: dict[str, Dim],
                     batch: Dim | None) -> None:
        for i, (name, shape) in enumerate(zip(self.masks, masks), start=len(self.MAIN)):
            kind, query, key = self.MASK_SHAPES[name]
            if kind == "padding":
                check_padding_mask(ctx, i, shape, batch, lengths[key], name)
            else:
                check_attn_mask(ctx, i, shape, batch, self.mask_heads(name), lengths[query], lengths[key], name)

    def _given(self, masks: tuple[np.ndarray, ...]) -> Masks:
        return dict(zip(self.masks, masks))


class _TransformerLayer(_MaskedInputs):
    size_args = ("d_model",)
    example = ({"d_model": None, "nhead": 8, "dim_feedforward": 256}, ("S, B, E",))
    attention_blocks: tuple[str, ...] = ()
    norms = 0

    def _setup(self, d_model: Any, nhead: int, dim_feedforward: Any, dropout: float, activation: str,
               layer_norm_eps: float, batch_first: bool, norm_first: bool, bias: bool) -> None:
        op = self.op
        self.d_model = self._size("d_model", d_model, optional=True)
        self.nhead = heads_arg(op, nhead, "nhead")
        self.dim_feedforward = self._size("dim_feedforward", dim_feedforward)
        if activation not in ACTIVATIONS:
            raise SpecError(f"{op}: activation should be relu/gelu, not {activation!r}")
        self.activation = activation
        self.dropout = _number(op, "dropout", dropout)
        if not 0 <= self.dropout <= 1:
            raise SpecError(f"{op}: dropout probability has to be between 0 and 1, but got {dropout!r}")
        self.layer_norm_eps = _number(op, "layer_norm_eps", layer_norm_eps)
        self.batch_first = self._flag("batch_first", batch_first)
        self.norm_first = self._flag("norm_first", norm_first)
        self.has_bias = self._flag("bias", bias)

    def check_input(self, ctx: RuleContext, x: Shape, i: int = 0) -> Dim | None:
        """The rank and d_model of an input (src or tgt)."""
        layout = "(N, S, E)" if self.batch_first else "(S, N, E)"
        if not ctx.rank(x, (2, 3), f"{layout} or (S, E)", i):
            return None
        d = ctx.match("d_model", x[-1], what="d_model", fix=lambda: f"Use d_model={x[-1]} or None.",
                      input_index=i)
        check_heads(ctx, d, self.nhead, "d_model")
        return d

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        d, ff = dims.sym("d_model") if a.d_model is None else a.d_model, self.dim_feedforward
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

    def block_macs(self, params: dict[str, ParamSpec], batch: Dim, length: Dim, memory: Dim) -> Dim:
        """One layer: its attention blocks (self-attention over ``length`` positions, cross-attention over
        ``memory``) and its feed-forward block."""
        parts = [attention_macs(_sub(params, f"{block}."), batch, length, keys, keys)
                 for block, keys in zip(self.attention_blocks, (length, memory))]
        parts += [dims.prod([batch, length, *params[name].shape]) for name in ("linear1.weight", "linear2.weight")]
        return dims.total(parts)

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        (length, batch), (memory, _) = (_sequence(s, self.batch_first) for s in (inputs[0], inputs[len(self.MAIN) - 1]))
        return self.block_macs(params, batch or 1, length, memory)

    def _norm(self, p: dict, i: int, x: np.ndarray) -> np.ndarray:
        return layer_norm(x, (-1,), self.layer_norm_eps, p[f"norm{i}.weight"], p.get(f"norm{i}.bias"))

    def _feedforward(self, p: dict, x: np.ndarray) -> np.ndarray:
        h = x @ p["linear1.weight"].T + p.get("linear1.bias", 0)
        return ACTIVATIONS[self.activation](h).astype(x.dtype) @ p["linear2.weight"].T + p.get("linear2.bias", 0)


class TransformerEncoderLayer(_TransformerLayer):
    """src [, src_mask] [, src_key_padding_mask] -> (S, N, E): self-attention and a feed-forward block,
    each with a residual and LayerNorm."""

    attention_blocks = ("self_attn",)
    norms = 2
    MASKS = ("src_mask", "src_key_padding_mask")
    MASK_SHAPES = {"src_mask": ("attn", "S", "S"), "src_key_padding_mask": ("padding", "S", "S")}

    def __init__(self, d_model: Any, nhead: int, dim_feedforward: Any = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None, *,
                 src_mask: bool = False, src_key_padding_mask: bool = False, is_causal: bool = False):
        self._setup(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                    bias)
        self._set_masks((src_mask, src_key_padding_mask))
        self.is_causal = causal_flag(self, "is_causal", is_causal, "src_mask", self.masks)

    def infer(self, ctx: RuleContext, x: Shape, *masks: Shape) -> Shape | None:
        if self.check_input(ctx, x) is None:
            return None
        length, batch = _sequence(x, self.batch_first)
        self._check_masks(ctx, masks, {"S": length}, batch)
        return x

    def forward(self, p: dict[str, np.ndarray], src: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        m = self._given(masks)
        y = self.encode(p, _to_batch_first(src, self.batch_first), m.get("src_mask"),
                        m.get("src_key_padding_mask"), self.is_causal)
        return _restore(y, src, self.batch_first)

    def encode(self, p: dict[str, np.ndarray], x: np.ndarray, src_mask: Any, key_padding_mask: Any,
               is_causal: bool) -> np.ndarray:
        """The layer on batch-first arrays (torch's forward after its layout handling)."""
        sa = _sub(p, "self_attn.")

        def attn(t: np.ndarray) -> np.ndarray:
            return _attention(sa, t, t, self.nhead, key_padding_mask, src_mask, is_causal)

        if self.norm_first:
            x = x + attn(self._norm(p, 1, x))
            return x + self._feedforward(p, self._norm(p, 2, x))
        x = self._norm(p, 1, x + attn(x))
        return self._norm(p, 2, x + self._feedforward(p, x))


class TransformerDecoderLayer(_TransformerLayer):
    """tgt, memory [, tgt_mask] [, memory_mask] [, tgt_key_padding_mask] [, memory_key_padding_mask] ->
    (T, N, E): self-attention, attention over memory, feed-forward."""

    example = (_TransformerLayer.example[0], ("T, B, E", "S, B, E"))
    attention_blocks = ("self_attn", "multihead_attn")
    norms = 3
    MAIN = ("tgt", "memory")
    MASKS = ("tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")
    MASK_SHAPES = {"tgt_mask": ("attn", "T", "T"), "memory_mask": ("attn", "T", "S"),
                   "tgt_key_padding_mask": ("padding", "T", "T"), "memory_key_padding_mask": ("padding", "T", "S")}

    def __init__(self, d_model: Any, nhead: int, dim_feedforward: Any = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None, *,
                 tgt_mask: bool = False, memory_mask: bool = False, tgt_key_padding_mask: bool = False,
                 memory_key_padding_mask: bool = False, tgt_is_causal: bool = False, memory_is_causal: bool = False):
        self._setup(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                    bias)
        self._set_masks((tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask))
        self.tgt_is_causal = causal_flag(self, "tgt_is_causal", tgt_is_causal, "tgt_mask", self.masks)
        self.memory_is_causal = causal_flag(self, "memory_is_causal", memory_is_causal, "memory_mask", self.masks)

    def infer(self, ctx: RuleContext, tgt: Shape, memory: Shape, *masks: Shape) -> Shape | None:
        if self.check_memory(ctx, tgt, memory) is None:
            return None
        (t, batch), (s, _) = _sequence(tgt, self.batch_first), _sequence(memory, self.batch_first)
        self._check_masks(ctx, masks, {"T": t, "S": s}, batch)
        return tgt

    def check_memory(self, ctx: RuleContext, tgt: Shape, memory: Shape) -> Dim | None:
        d = self.check_input(ctx, tgt)
        if d is None or not ctx.rank(memory, (len(tgt),), "the same rank as tgt", 1):
            return None
        ctx.equal(d, memory[-1], what="the memory's features", expected_desc=lambda: f"d_model {d}",
                  actual_desc=lambda: f"{ctx.input_desc(1)} has {memory[-1]}", fix="memory must have d_model features.")
        if len(tgt) == 3:
            axis = 0 if self.batch_first else 1
            ctx.equal(tgt[axis], memory[axis], what="the memory's batch size", expected_desc=lambda: f"{tgt[axis]}",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {memory[axis]}")
        return d

    def forward(self, p: dict[str, np.ndarray], tgt: np.ndarray, memory: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        x, mem = _to_batch_first(tgt, self.batch_first), _to_batch_first(memory, self.batch_first)
        y = self.decode(p, x, mem, self._given(masks), self.tgt_is_causal, self.memory_is_causal)
        return _restore(y, tgt, self.batch_first)

    def decode(self, p: dict[str, np.ndarray], x: np.ndarray, mem: np.ndarray, m: Masks, tgt_is_causal: bool,
               memory_is_causal: bool) -> np.ndarray:
        """The layer on batch-first arrays; ``m`` holds the masks given, by torch's names."""
        sa, ca = _sub(p, "self_attn."), _sub(p, "multihead_attn.")

        def self_attn(t: np.ndarray) -> np.ndarray:
            return _attention(sa, t, t, self.nhead, m.get("tgt_key_padding_mask"), m.get("tgt_mask"), tgt_is_causal)

        def cross_attn(t: np.ndarray) -> np.ndarray:
            return _attention(ca, t, mem, self.nhead, m.get("memory_key_padding_mask"), m.get("memory_mask"),
                              memory_is_causal)

        if self.norm_first:
            x = x + self_attn(self._norm(p, 1, x))
            x = x + cross_attn(self._norm(p, 2, x))
            return x + self._feedforward(p, self._norm(p, 3, x))
        x = self._norm(p, 1, x + self_attn(x))
        x = self._norm(p, 2, x + cross_attn(x))
        return self._norm(p, 3, x + self._feedforward(p, x))


class _Stack(_MaskedInputs):
    """num_layers copies of a layer (``layers.0.`` ...) and an optional final norm (``norm.``)."""

    size_args = ("d_model",)
    kind: type[_TransformerLayer] = _TransformerLayer

    def _stack(self, name: str, layer: Any, num_layers: Any, norm: Any) -> None:
        self.layer = sublayer(self, name, layer, self.kind)
        if self.layer.masks or any(getattr(self.layer, f) for f in ("is_causal", "tgt_is_causal", "memory_is_causal")
                                   if hasattr(self.layer, f)):
            raise SpecError(f"{self.op}: give the masks and is_causal hints to the {self.op} itself, not to its "
                            f"{name} (torch passes them from the stack's forward)")
        self.num_layers = _count(self.op, "num_layers", num_layers)
        self.norm = sublayer(self, "norm", norm, LayerNorm, optional=True)
        if self.norm is not None and len(self.norm.normalized_shape) != 1:
            raise SpecError(f"{self.op}: norm must normalize the last dim only (d_model), "
                            f"got normalized_shape={list(self.norm.normalized_shape)}")
        self.d_model = self.layer.d_model
        self.batch_first = self.layer.batch_first
        self.nhead = self.layer.nhead

    def check_norm(self, ctx: RuleContext, d: Dim) -> None:
        want = None if self.norm is None else self.norm.normalized_shape[0]
        if want is not None:
            ctx.equal(d, want, what="the norm's normalized_shape", expected_desc=lambda: f"d_model {d}",
                      actual_desc=lambda: f"the norm normalizes {want} features",
                      fix="The final norm must normalize d_model features.")

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        p: dict[str, ParamSpec] = {}
        inner = self.layer.params(SimpleNamespace(d_model=a.d_model))
        for i in range(self.num_layers):
            p.update({f"layers.{i}.{k}": spec for k, spec in inner.items()})
        if self.norm is not None:
            shape = SimpleNamespace(normalized_shape=(a.d_model,))
            p.update({f"norm.{k}": spec for k, spec in self.norm.params(shape).items()})
        return p

    def stack_macs(self, params: dict[str, ParamSpec], batch: Dim, length: Dim, memory: Dim) -> Dim:
        return dims.total([self.layer.block_macs(_sub(params, f"layers.{i}."), batch, length, memory)
                           for i in range(self.num_layers)])

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        (length, batch), (memory, _) = (_sequence(s, self.batch_first) for s in (inputs[0], inputs[len(self.MAIN) - 1]))
        return self.stack_macs(params, batch or 1, length, memory)

    def _final(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return x if self.norm is None else self.norm.forward(_sub(p, "norm."), x)


class TransformerEncoder(_Stack):
    """src [, mask] [, src_key_padding_mask] -> (S, N, E): ``num_layers`` encoder layers, then ``norm``.

    As torch's inference fast path does (under torch.no_grad), with ``enable_nested_tensor`` (and a layer
    it supports: batch_first, not norm_first, bias, an even nhead), batched inputs, a key padding mask and
    no mask, the padded positions of the output are zeros (before the norm); with ``mask_check=False`` the
    sequences are taken to be left aligned (their first unpadded-count positions)."""

    kind = TransformerEncoderLayer
    example = ({"encoder_layer": {"op": "TransformerEncoderLayer", "d_model": None, "nhead": 4,
                                  "dim_feedforward": 64}, "num_layers": 2}, ("S, B, E",))
    MASKS = ("mask", "src_key_padding_mask")
    MASK_SHAPES = {"mask": ("attn", "S", "S"), "src_key_padding_mask": ("padding", "S", "S")}

    def __init__(self, encoder_layer: Any, num_layers: int, norm: Any = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True, *, mask: bool = False, src_key_padding_mask: bool = False,
                 is_causal: bool | None = None):
        self._stack("encoder_layer", encoder_layer, num_layers, norm)
        self.enable_nested_tensor = self._flag("enable_nested_tensor", enable_nested_tensor)
        self.mask_check = self._flag("mask_check", mask_check)
        self._set_masks((mask, src_key_padding_mask))
        self.is_causal = causal_flag(self, "is_causal", is_causal, "mask", self.masks, optional=True)
        layer = self.layer
        self.use_nested_tensor = (self.enable_nested_tensor and layer.batch_first and not layer.norm_first
                                  and layer.has_bias and layer.nhead % 2 == 0)

    def infer(self, ctx: RuleContext, x: Shape, *masks: Shape) -> Shape | None:
        d = self.layer.check_input(ctx, x)
        if d is None:
            return None
        length, batch = _sequence(x, self.batch_first)
        self._check_masks(ctx, masks, {"S": length}, batch)
        self.check_norm(ctx, d)
        return x

    def forward(self, p: dict[str, np.ndarray], src: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        m = self._given(masks)
        y = self.encode(p, _to_batch_first(src, self.batch_first), m, src.ndim == 3, bool(self.is_causal))
        return _restore(y, src, self.batch_first)

    def encode(self, p: dict[str, np.ndarray], x: np.ndarray, m: Masks, batched: bool, is_causal: bool) -> np.ndarray:
        """The stack on batch-first arrays; ``m`` holds the masks given, by this layer's names."""
        mask, padding = m.get("mask"), m.get("src_key_padding_mask")
        valid = self._nested_lengths(padding) if batched and mask is None and padding is not None else None
        if valid is not None:  # torch's nested tensors: the first ``valid`` positions of each sequence
            padding = np.arange(x.shape[1]) >= valid[:, None]
        for i in range(self.num_layers):
            x = self.layer.encode(_sub(p, f"layers.{i}."), x, mask, padding, is_causal)
        if valid is not None:
            x = np.where(padding[..., None], np.zeros((), x.dtype), x)
        return self._final(p, x)

    def _nested_lengths(self, padding: np.ndarray) -> np.ndarray | None:
        """The sequence lengths torch's nested-tensor path uses, or None when it does not take it."""
        if not self.use_nested_tensor:
            return None
        keep = padding == 0 if padding.dtype != np.bool_ else ~padding
        lengths = keep.sum(axis=-1)
        if self.mask_check and not np.array_equal(keep, np.arange(keep.shape[-1]) < lengths[:, None]):
            return None  # not left aligned
        return lengths


class TransformerDecoder(_Stack):
    """tgt, memory [, tgt_mask] [, memory_mask] [, tgt_key_padding_mask] [, memory_key_padding_mask] ->
    (T, N, E): ``num_layers`` decoder layers, then ``norm``."""

    kind = TransformerDecoderLayer
    example = ({"decoder_layer": {"op": "TransformerDecoderLayer", "d_model": None, "nhead": 4,
                                  "dim_feedforward": 64}, "num_layers": 2}, ("T, B, E", "S, B, E"))
    MAIN = TransformerDecoderLayer.MAIN
    MASKS = TransformerDecoderLayer.MASKS
    MASK_SHAPES = TransformerDecoderLayer.MASK_SHAPES

    def __init__(self, decoder_layer: Any, num_layers: int, norm: Any = None, *, tgt_mask: bool = False,
                 memory_mask: bool = False, tgt_key_padding_mask: bool = False, memory_key_padding_mask: bool = False,
                 tgt_is_causal: bool | None = None, memory_is_causal: bool = False):
        self._stack("decoder_layer", decoder_layer, num_layers, norm)
        self._set_masks((tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask))
        self.tgt_is_causal = causal_flag(self, "tgt_is_causal", tgt_is_causal, "tgt_mask", self.masks, optional=True)
        self.memory_is_causal = causal_flag(self, "memory_is_causal", memory_is_causal, "memory_mask", self.masks)

    def infer(self, ctx: RuleContext, tgt: Shape, memory: Shape, *masks: Shape) -> Shape | None:
        d = self.layer.check_memory(ctx, tgt, memory)
        if d is None:
            return None
        (t, batch), (s, _) = _sequence(tgt, self.batch_first), _sequence(memory, self.batch_first)
        self._check_masks(ctx, masks, {"T": t, "S": s}, batch)
        self.check_norm(ctx, d)
        return tgt

    def forward(self, p: dict[str, np.ndarray], tgt: np.ndarray, memory: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        x, mem = _to_batch_first(tgt, self.batch_first), _to_batch_first(memory, self.batch_first)
        y = self.decode(p, x, mem, self._given(masks), bool(self.tgt_is_causal), self.memory_is_causal)
        return _restore(y, tgt, self.batch_first)

    def decode(self, p: dict[str, np.ndarray], x: np.ndarray, mem: np.ndarray, m: Masks, tgt_is_causal: bool,
               memory_is_causal: bool) -> np.ndarray:
        """The stack on batch-first arrays; ``m`` holds the masks given, by torch's names."""
        for i in range(self.num_layers):
            x = self.layer.decode(_sub(p, f"layers.{i}."), x, mem, m, tgt_is_causal, memory_is_causal)
        return self._final(p, x)


class Transformer(_MaskedInputs):
    """src, tgt [, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
    memory_key_padding_mask] -> (T, N, E): a TransformerEncoder (``encoder.``) over src and a
    TransformerDecoder (``decoder.``) over tgt and the encoded memory. As torch does, every parameter
    with more than one dim is initialized with xavier_uniform."""

    size_args = ("d_model",)
    example = ({"d_model": None, "nhead": 4, "num_encoder_layers": 1, "num_decoder_layers": 1,
                "dim_feedforward": 64}, ("S, B, E", "T, B, E"))
    MAIN = ("src", "tgt")
    MASKS = ("src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask", "tgt_key_padding_mask",
             "memory_key_padding_mask")
    MASK_SHAPES = {"src_mask": ("attn", "S", "S"), "tgt_mask": ("attn", "T", "T"), "memory_mask": ("attn", "T", "S"),
                   "src_key_padding_mask": ("padding", "S", "S"), "tgt_key_padding_mask": ("padding", "T", "T"),
                   "memory_key_padding_mask": ("padding", "T", "S")}

    def __init__(self, d_model: Any = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: Any = 2048, dropout: float = 0.1, activation: str = "relu",
                 custom_encoder: Any = None, custom_decoder: Any = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, src_mask: bool = False, tgt_mask: bool = False, memory_mask: bool = False,
                 src_key_padding_mask: bool = False, tgt_key_padding_mask: bool = False,
                 memory_key_padding_mask: bool = False, src_is_causal: bool | None = None,
                 tgt_is_causal: bool | None = None, memory_is_causal: bool = False):
        self.d_model = self._size("d_model", d_model, optional=True)
        common = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                      activation=activation, layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                      norm_first=norm_first, bias=bias)
        try:
            if custom_encoder is None:
                _count("Transformer", "num_encoder_layers", num_encoder_layers)
                layer, norm = TransformerEncoderLayer(**common), LayerNorm(d_model, layer_norm_eps, bias=bias)
                custom_encoder = TransformerEncoder(layer, num_encoder_layers, norm)
            if custom_decoder is None:
                _count("Transformer", "num_decoder_layers", num_decoder_layers)
                layer, norm = TransformerDecoderLayer(**common), LayerNorm(d_model, layer_norm_eps, bias=bias)
                custom_decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        except SpecError as exc:
            message = str(exc)
            raise SpecError(message if message.startswith("Transformer:") else f"Transformer: {message}") from None
        self.encoder = sublayer(self, "custom_encoder", custom_encoder, TransformerEncoder)
        self.decoder = sublayer(self, "custom_decoder", custom_decoder, TransformerDecoder)
        if self.encoder.masks or self.decoder.masks:
            raise SpecError("Transformer: give the masks to the Transformer itself, not to custom_encoder or "
                            "custom_decoder")
        self.batch_first = self._flag("batch_first", batch_first)
        self._set_masks((src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                         memory_key_padding_mask))
        self.src_is_causal = causal_flag(self, "src_is_causal", src_is_causal, "src_mask", self.masks, optional=True)
        self.tgt_is_causal = causal_flag(self, "tgt_is_causal", tgt_is_causal, "tgt_mask", self.masks, optional=True)
        self.memory_is_causal = causal_flag(self, "memory_is_causal", memory_is_causal, "memory_mask", self.masks)

    def infer(self, ctx: RuleContext, src: Shape, tgt: Shape, *masks: Shape) -> Shape | None:
        layout = "(N, S, E)" if self.batch_first else "(S, N, E)"
        if not (ctx.rank(src, (2, 3), f"{layout} or (S, E)") and ctx.rank(tgt, (len(src),), "the rank of src", 1)):
            return None
        d = ctx.match("d_model", src[-1], what="d_model", fix=lambda: f"Use d_model={src[-1]} or None.")
        for i, shape in ((1, tgt),):
            ctx.equal(d, shape[-1], what="the tgt's features", expected_desc=lambda: f"d_model {d}",
                      actual_desc=lambda: f"{ctx.input_desc(i)} has {shape[-1]}",
                      fix="the feature number of src and tgt must be equal to d_model.")
        for part in (self.encoder, self.decoder):
            check_heads(ctx, d, part.nhead, "d_model")
            if part.d_model is not None:
                ctx.equal(d, part.d_model, what=f"the {part.op}'s d_model", expected_desc=lambda: f"d_model {d}",
                          actual_desc=lambda: f"its layers have d_model {part.d_model}")
            part.check_norm(ctx, d)
        (s, batch), (t, tgt_batch) = _sequence(src, self.batch_first), _sequence(tgt, self.batch_first)
        if batch is not None:
            ctx.equal(batch, tgt_batch, what="the batch size of tgt", expected_desc=lambda: f"src's {batch}",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {tgt_batch}",
                      fix="the batch number of src and tgt must be equal.")
        self._check_masks(ctx, masks, {"S": s, "T": t}, batch)
        return tgt

    def mask_heads(self, name: str) -> int:
        return (self.encoder if name.startswith("src") else self.decoder).nhead

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        p: dict[str, ParamSpec] = {}
        for prefix, part in (("encoder.", self.encoder), ("decoder.", self.decoder)):
            p.update({prefix + k: ParamSpec(s.shape, "xavier_uniform") if len(s.shape) > 1 else s
                      for k, s in part.params(a).items()})
        return p

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        (s, batch), (t, _) = (_sequence(shape, self.batch_first) for shape in inputs[:2])
        return dims.total([self.encoder.stack_macs(_sub(params, "encoder."), batch or 1, s, s),
                           self.decoder.stack_macs(_sub(params, "decoder."), batch or 1, t, s)])

    def forward(self, p: dict[str, np.ndarray], src: np.ndarray, tgt: np.ndarray, *masks: np.ndarray) -> np.ndarray:
        m = self._given(masks)
        x, y = _to_batch_first(src, self.batch_first), _to_batch_first(tgt, self.batch_first)
        enc = {"mask": m.get("src_mask"), "src_key_padding_mask": m.get("src_key_padding_mask")}
        memory = self.encoder.encode(_sub(p, "encoder."), x, {k: v for k, v in enc.items() if v is not None},
                                     src.ndim == 3, bool(self.src_is_causal))
        out = self.decoder.decode(_sub(p, "decoder."), y, memory, m, bool(self.tgt_is_causal), self.memory_is_causal)
        return _restore(out, tgt, self.batch_first)
