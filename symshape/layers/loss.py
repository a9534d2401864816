"""Losses: inputs (prediction, target[, ...]) -> a scalar () with reduction 'mean' or 'sum', or the
per-element (or per-sample) losses with reduction 'none'.

The deprecated ``size_average``/``reduce`` arguments override ``reduction`` as in torch. Class weights
(``weight``, ``pos_weight``) are tensors in torch; symshape takes only their default, None.
AdaptiveLogSoftmaxWithLoss and LinearCrossEntropyLoss carry parameters (their projections), as in torch.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import ShapeError, SpecError
from ..params import ParamSpec
from .base import Layer
from .merge import broadcast

if TYPE_CHECKING:
    from ..propagate import RuleContext


def _number(op: str, name: str, value: Any, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{op}: {name} must be a number, got {value!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise SpecError(f"{op}: {name} must be {'above' if strict else 'at least'} {minimum}, got {value!r}")
    return float(value)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0, -x)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class _Loss(Layer):
    n_inputs: ClassVar[int | tuple[int, ...] | None] = 2
    reductions: ClassVar[tuple[str, ...]] = ("none", "mean", "sum")
    same_shape: ClassVar[bool] = False  # torch requires equal shapes instead of broadcasting
    example = ({"reduction": "none"}, ("N, C", "N, C"))

    def _setup(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean", weight: Any = None,
               **tensors: Any) -> None:
        op = type(self).__name__
        for name, value in {"weight": weight, **tensors}.items():
            if value is not None:
                raise SpecError(f"{op}: a {name} tensor is not supported; only {name}=None")
        if size_average is not None or reduce is not None:  # torch's _Reduction.legacy_get_string
            size_average = True if size_average is None else bool(size_average)
            reduction = ("mean" if size_average else "sum") if (True if reduce is None else bool(reduce)) else "none"
        if reduction not in self.reductions:
            raise SpecError(f"{op}: reduction must be {', '.join(map(repr, self.reductions))}, got {reduction!r}")
        self.reduction = reduction

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        shape = self.loss_shape(ctx, *shapes)
        if shape is None:
            return None
        return shape if self.reduction == "none" else ()

    def loss_shape(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        """The shape of the unreduced loss (default: the inputs, broadcast or equal)."""
        if self.same_shape:
            x, target = shapes
            if len(x) != len(target):
                ctx.conflict("the target's rank", f"{len(x)}, as the input's",
                             f"{ctx.input_desc(1)} has rank {len(target)}", "Give the target the input's shape.")
                return None
            for axis, (a, b) in enumerate(zip(x, target)):
                ctx.equal(a, b, what=f"dim {axis} of the target", expected_desc=lambda: f"{a}, as on the input",
                          actual_desc=lambda: f"{ctx.input_desc(1)} has {b}",
                          fix=f"{self.op} does not broadcast: give the target the input's shape.")
            return x
        return broadcast(ctx, list(shapes), list(range(len(shapes))))

    def reduce(self, loss: np.ndarray, dtype: Any) -> np.ndarray:
        if self.reduction == "sum":
            loss = loss.sum()
        elif self.reduction == "mean":
            loss = loss.mean()
        return np.asarray(loss).astype(dtype, copy=False)

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return self.reduce(self.pointwise(*np.broadcast_arrays(*xs)), xs[0].dtype)

    def pointwise(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class L1Loss(_Loss):
    """|input - target|, reduced; input and target broadcast."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.abs(x - t)


class MSELoss(_Loss):
    """(input - target)^2, reduced; input and target broadcast."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (x - t) ** 2


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta/2 (d = input - target), reduced."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean", beta: float = 1.0):
        self._setup(size_average, reduce, reduction)
        self.beta = _number("SmoothL1Loss", "beta", beta, 0)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        d = np.abs(x - t)
        if self.beta == 0:
            return d
        return np.where(d < self.beta, 0.5 * d * d / self.beta, d - 0.5 * self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| <= delta, else delta * (|d| - delta/2) (d = input - target), reduced."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        self._setup(reduction=reduction)
        self.delta = _number("HuberLoss", "delta", delta, 0, strict=True)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        d = np.abs(x - t)
        return np.where(d <= self.delta, 0.5 * d * d, self.delta * (d - 0.5 * self.delta))


class SoftMarginLoss(_Loss):
    """log(1 + exp(-target * input)), reduced; targets are 1 or -1. The loss has the input's shape: as in
    torch (which writes it into an input-shaped output), the target broadcasts to the input, not the reverse."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        if len(target) > len(x):
            ctx.conflict("the target's rank", f"at most {len(x)}, the input's (the target broadcasts to the input)",
                         f"{ctx.input_desc(1)} has rank {len(target)}")
            return None
        for axis, (a, b) in enumerate(zip(x[len(x) - len(target):], target), len(x) - len(target)):
            if b != 1 and a != b:
                ctx.equal(a, b, what=f"dim {axis} of the target", expected_desc=lambda: f"{a} or 1, as on the input",
                          actual_desc=lambda: f"{ctx.input_desc(1)} has {b}",
                          fix="The target broadcasts to the input's shape, not the reverse.")
        return x

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.logaddexp(0, -t * x)


class BCELoss(_Loss):
    """-(t log x + (1 - t) log(1 - x)), each log at least -100, reduced; input in [0, 1], target of its shape."""

    same_shape = True

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction, weight)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        if x.size and (x.min() < 0 or x.max() > 1):
            bad = x.min() if x.min() < 0 else x.max()
            raise ShapeError(f"BCELoss: every input element must lie in [0, 1], got {bad}")
        with np.errstate(divide="ignore"):
            return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))


class BCEWithLogitsLoss(_Loss):
    """BCELoss of sigmoid(input), computed stably, reduced; the target has the input's shape."""

    same_shape = True

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 pos_weight: Any = None):
        self._setup(size_average, reduce, reduction, weight, pos_weight=pos_weight)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (1 - t) * x - _log_sigmoid(x)


class HingeEmbeddingLoss(_Loss):
    """input where target is 1, max(0, margin - input) where target is -1, reduced."""

    def __init__(self, margin: float = 1.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)
        self.margin = _number("HingeEmbeddingLoss", "margin", margin)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t != 1, np.maximum(self.margin - x, 0), 0) + np.where(t != -1, x, 0)


class KLDivLoss(_Loss):
    """target * (log(target) - input) (input holds log-probabilities), reduced; 'batchmean' divides the sum by N."""

    reductions = ("none", "mean", "sum", "batchmean")

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False):
        self._setup(size_average, reduce, reduction)
        self.log_target = self._flag("log_target", log_target)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.log_target:
            return np.exp(t) * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):  # torch's xlogy: 0 where the target is 0
            return np.where(t == 0, 0, t * np.log(t)) - t * x

    def reduce(self, loss: np.ndarray, dtype: Any) -> np.ndarray:
        if self.reduction == "batchmean":
            return np.asarray(loss.sum() / (loss.shape[0] if loss.ndim else 1)).astype(dtype, copy=False)
        return super().reduce(loss, dtype)


class PoissonNLLLoss(_Loss):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); full adds Stirling's term."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average: Any = None, eps: float = 1e-8,
                 reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)
        self.log_input = self._flag("log_input", log_input)
        self.full = self._flag("full", full)
        self.eps = _number("PoissonNLLLoss", "eps", eps, 0)

    def pointwise(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.exp(x) - t * x if self.log_input else x - t * np.log(x + self.eps)
            if self.full:
                safe = np.where(t > 1, t, 1)
                loss = loss + np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0)
        return loss


class MarginRankingLoss(_Loss):
    """Inputs x1, x2, target broadcast: max(0, -target * (x1 - x2) + margin), reduced."""

    n_inputs = 3
    example = ({"reduction": "none"}, ("N", "N", "N"))

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)
        self.margin = _number("MarginRankingLoss", "margin", margin)

    def pointwise(self, x1: np.ndarray, x2: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.maximum(-t * (x1 - x2) + self.margin, 0)


class MultiLabelSoftMarginLoss(_Loss):
    """(*, C), targets in {0, 1} broadcast: the binary cross-entropies summed over the input's last dim and
    divided by its size C (torch's class_dim), that dim dropped when unreduced."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction, weight)

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        shape = broadcast(ctx, [x, target], [0, 1])
        if not x:
            ctx.conflict("input rank", "at least 1 ((*, C))", f"{ctx.input_desc()} has rank 0")
            return None
        return shape[: len(x) - 1] + shape[len(x):]

    def forward(self, p: dict, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        loss = -(t * _log_sigmoid(x) + (1 - t) * _log_sigmoid(-x))
        return self.reduce(loss.sum(axis=x.ndim - 1) / x.shape[-1], x.dtype)


class _PairLoss(_Loss):
    """Inputs (N, D) or (D,) and a per-sample third input: an (N,) or () loss before reduction."""

    n_inputs = 3
    example = ({"reduction": "none"}, ("N, D", "N, D", "N"))
    layout = ""

    def loss_shape(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        first = shapes[0]
        if not ctx.rank(first, (1, 2), self.layout):
            return None
        for i, shape in enumerate(shapes[1:], 1):
            expected = self.expected(first, i)
            if not ctx.rank(shape, (len(expected),), self.layout, i=i):
                return None
            for axis, (a, b) in enumerate(zip(expected, shape)):
                ctx.equal(a, b, what=f"dim {axis} of input {i}", expected_desc=lambda: f"{a}, as on input 0",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {b}")
        return first[:-1]

    def expected(self, first: Shape, i: int) -> Shape:
        return first


class CosineEmbeddingLoss(_PairLoss):
    """x1, x2 (N, D) or (D,), target (N,) or (): 1 - cos(x1, x2) where target is 1, max(0, cos - margin) where -1.

    As in torch, x1 and x2 broadcast, and so do their cosines (N,) and the target."""

    layout = "x1, x2 (N, D) or (D,); target (N,) or ()"

    def loss_shape(self, ctx: RuleContext, x1: Shape, x2: Shape, target: Shape) -> Shape | None:
        if not ctx.rank(target, (0, 1), self.layout, i=2):
            return None
        if not ctx.rank(x1, (len(target) + 1,), self.layout) or not ctx.rank(x2, (len(target) + 1,), self.layout, i=1):
            return None
        return broadcast(ctx, [broadcast(ctx, [x1, x2], [0, 1])[:-1], target], [0, 2])

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)
        self.margin = _number("CosineEmbeddingLoss", "margin", margin)

    def expected(self, first: Shape, i: int) -> Shape:
        return first if i == 1 else first[:-1]

    def forward(self, p: dict, x1: np.ndarray, x2: np.ndarray, t: np.ndarray) -> np.ndarray:
        eps = 1e-12  # torch's EPSILON in cosine_embedding_loss
        cos = (x1 * x2).sum(-1) / np.sqrt(((x1 * x1).sum(-1) + eps) * ((x2 * x2).sum(-1) + eps))
        loss = np.where(t == 1, 1 - cos, 0) + np.where(t == -1, np.maximum(cos - self.margin, 0), 0)
        return self.reduce(loss, x1.dtype)


class TripletMarginLoss(_PairLoss):
    """anchor, positive, negative (*, D) of one rank: max(0, margin + d(a, p) - d(a, n)), d the p-norm distance
    over the last dim; as in torch (pairwise_distance), each pair broadcasts."""

    example = ({"reduction": "none"}, ("N, D", "N, D", "N, D"))
    layout = "(*, D), all three of one rank"

    def loss_shape(self, ctx: RuleContext, a: Shape, pos: Shape, neg: Shape) -> Shape | None:
        if not ctx.rank(a, tuple(range(1, 64)), self.layout):
            return None
        if not ctx.rank(pos, (len(a),), self.layout, i=1) or not ctx.rank(neg, (len(a),), self.layout, i=2):
            return None
        d_ap, d_an = broadcast(ctx, [a, pos], [0, 1])[:-1], broadcast(ctx, [a, neg], [0, 2])[:-1]
        if self.swap:
            d_an = broadcast(ctx, [d_an, broadcast(ctx, [pos, neg], [1, 2])[:-1]], [2, 2])
        return broadcast(ctx, [d_ap, d_an], [1, 2])

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)
        self.margin = _number("TripletMarginLoss", "margin", margin, 0, strict=True)
        self.p = _number("TripletMarginLoss", "p", p, 0, strict=True)
        self.eps = _number("TripletMarginLoss", "eps", eps, 0)
        self.swap = self._flag("swap", swap)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = np.abs(a - b + np.asarray(self.eps, dtype=a.dtype)).astype(np.float64)
        return (d**self.p).sum(-1) ** (1 / self.p)

    def forward(self, p: dict, a: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
        d_ap, d_an = self.distance(a, pos), self.distance(a, neg)
        if self.swap:
            d_an = np.minimum(d_an, self.distance(pos, neg))
        return self.reduce(np.maximum(self.margin + d_ap - d_an, 0), a.dtype)


class NLLLoss(_Loss):
    """log-probabilities (N, C, *) or (C,), class indices (N, *) or () -> -input[target], reduced.

    The mean is over the targets not equal to ignore_index."""

    example = ({"reduction": "none"}, ("N, C", "N"))

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                 reduction: str = "mean"):
        self._setup(size_average, reduce, reduction, weight)
        if type(ignore_index) is not int:
            raise SpecError(f"{type(self).__name__}: ignore_index must be an int, got {ignore_index!r}")
        self.ignore_index = ignore_index

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        if not x:
            ctx.conflict("input rank", "at least 1 ((N, C, *) or (C,))", f"{ctx.input_desc()} has rank 0")
            return None
        expected = () if len(x) == 1 else (x[0], *x[2:])
        if len(target) != len(expected):
            ctx.conflict("the target's rank", f"{len(expected)} (class indices: the input's shape without C)",
                         f"{ctx.input_desc(1)} has rank {len(target)}")
            return None
        for axis, (a, b) in enumerate(zip(expected, target)):
            ctx.equal(a, b, what=f"dim {axis} of the target", expected_desc=lambda: f"{a}, as on the input",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {b}")
        return expected

    def picked(self, logp: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(-logp at each target class, 0 where ignored; the mask of the targets counted)."""
        classes = logp.shape[0 if logp.ndim == 1 else 1]
        if target.dtype.kind not in "iu":
            raise ShapeError(f"{self.op} takes integer class indices as target, got an array of {target.dtype}")
        keep = target != self.ignore_index
        if np.any(keep & ((target < 0) | (target >= classes))):
            bad = target[keep & ((target < 0) | (target >= classes))].flat[0]
            raise ShapeError(f"{self.op}: target {bad} is out of range for {classes} classes")
        safe = np.where(keep, target, 0)
        axis = 0 if logp.ndim == 1 else 1
        taken = np.take_along_axis(logp, np.expand_dims(safe, axis), axis=axis).squeeze(axis)
        return np.where(keep, -taken, 0), keep

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        loss, keep = self.picked(x, target)
        return self.reduce_counted(loss, keep, x.dtype)

    def reduce_counted(self, loss: np.ndarray, keep: np.ndarray, dtype: Any) -> np.ndarray:
        if self.reduction == "mean":
            with np.errstate(invalid="ignore"):  # every target ignored: NaN, as in torch
                return np.asarray(loss.sum() / keep.sum()).astype(dtype, copy=False)
        return self.reduce(loss, dtype)


class NLLLoss2d(NLLLoss):
    """NLLLoss (torch's deprecated name for image-shaped inputs (N, C, H, W))."""


class CrossEntropyLoss(NLLLoss):
    """logits (N, C, *) or (C,), class indices (N, *) or probabilities (N, C, *) -> NLLLoss of log_softmax.

    With label_smoothing; torch tells the two kinds of target apart by their shape."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, ignore_index, reduce, reduction)
        self.label_smoothing = _number("CrossEntropyLoss", "label_smoothing", label_smoothing, 0)
        if self.label_smoothing > 1:
            raise SpecError(f"CrossEntropyLoss: label_smoothing must be at most 1, got {label_smoothing!r}")

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        if len(target) == len(x) and x:  # probabilities: torch tells the two target kinds by shape
            for axis, (a, b) in enumerate(zip(x, target)):
                ctx.equal(a, b, what=f"dim {axis} of the target", expected_desc=lambda: f"{a}, as on the input",
                          actual_desc=lambda: f"{ctx.input_desc(1)} has {b}",
                          fix="Probability targets have the input's shape; class-index targets drop C.")
            return () if len(x) == 1 else (x[0], *x[2:])
        return super().loss_shape(ctx, x, target)

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        axis = 0 if x.ndim == 1 else 1
        shifted = x - x.max(axis=axis, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        classes, eps = x.shape[axis], self.label_smoothing
        if target.shape == x.shape:
            probs = target * (1 - eps) + eps / classes
            loss = -(probs * logp).sum(axis=axis)
            return self.reduce(loss, x.dtype)
        loss, keep = self.picked(logp, target)
        if eps:
            smooth = np.where(keep, -logp.sum(axis=axis), 0) / classes
            loss = (1 - eps) * loss + eps * smooth
        return self.reduce_counted(loss, keep, x.dtype)


class MultiMarginLoss(NLLLoss):
    """input (N, C) or (C,), class indices (N,) or () -> sum over j != y of max(0, margin - x[y] + x[j])^p / C."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None, size_average: Any = None,
                 reduce: Any = None, reduction: str = "mean"):
        if p not in (1, 2) or isinstance(p, bool):
            raise SpecError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        super().__init__(weight, size_average, -100, reduce, reduction)
        self.p = p
        self.margin = _number("MultiMarginLoss", "margin", margin)

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        if not ctx.rank(x, (1, 2), "(N, C) or (C,)"):
            return None
        return super().loss_shape(ctx, x, target)

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        x2 = x.reshape(-1, x.shape[-1])
        t = target.reshape(-1)
        classes = x2.shape[1]
        if target.dtype.kind not in "iu" or np.any((t < 0) | (t >= classes)):
            raise ShapeError(f"MultiMarginLoss: targets must be class indices in [0, {classes})")
        own = np.take_along_axis(x2, t[:, None], axis=1)
        margins = np.maximum(self.margin - own + x2, 0) ** self.p
        margins[np.arange(len(t)), t] = 0
        loss = (margins.sum(axis=1) / classes).reshape(target.shape)
        return self.reduce(loss, x.dtype)


class TripletMarginWithDistanceLoss(TripletMarginLoss):
    """TripletMarginLoss with the Euclidean distance (distance_function=None; a Python callable is not supported)."""

    def __init__(self, *, distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        if distance_function is not None:
            raise SpecError("TripletMarginWithDistanceLoss: distance_function must be None (the pairwise distance); "
                            "a Python callable is code, not a layer argument")
        super().__init__(margin, swap=swap, reduction=reduction)


class MultiLabelMarginLoss(_Loss):
    """input (N, C) or (C,), target of its shape (class indices ended by -1) -> a multi-label hinge, reduced.

    The hinge max(0, 1 - (input[y] - input[k])) summed over targets y and non-targets k, divided by C."""

    same_shape = True

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self._setup(size_average, reduce, reduction)

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        if not ctx.rank(x, (1, 2), "(N, C) or (C,)"):
            return None
        shape = super().loss_shape(ctx, x, target)
        return None if shape is None else shape[:-1]

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        x2, t2 = x.reshape(-1, x.shape[-1]), target.reshape(-1, x.shape[-1])
        classes = x2.shape[1]
        if target.dtype.kind not in "iu" or np.any((t2 < -1) | (t2 >= classes)):
            raise ShapeError(f"MultiLabelMarginLoss: targets must be class indices in [0, {classes}) or -1")
        loss = np.zeros(len(x2), dtype=np.float64)
        for i, (row, labels) in enumerate(zip(x2, t2)):
            ends = np.flatnonzero(labels == -1)
            labels = labels[: ends[0] if len(ends) else classes]
            others = np.setdiff1d(np.arange(classes), labels)
            loss[i] = np.maximum(1 - (row[labels][:, None] - row[others][None, :]), 0).sum() / classes
        return self.reduce(loss.reshape(x.shape[:-1]), x.dtype)


class GaussianNLLLoss(_Loss):
    """input, target, var -> 0.5 * (log(var) + (input - target)^2 / var), var at least eps, reduced.

    var has the input's shape, that shape without its last dim, or one dim 1; full adds log(2 pi) / 2."""

    n_inputs = 3
    example = ({"reduction": "none"}, ("N, D", "N, D", "N"))

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        self._setup(reduction=reduction)
        self.full = self._flag("full", full)
        self.eps = _number("GaussianNLLLoss", "eps", eps, 0)

    def loss_shape(self, ctx: RuleContext, x: Shape, target: Shape, var: Shape) -> Shape | None:
        if len(var) == len(x) - 1:
            var = (*var, 1)
            spread = list(range(len(x) - 1))
        elif len(var) == len(x):
            ones = [ax for ax, (a, b) in enumerate(zip(x, var)) if b == 1 and a != 1]
            spread = [ax for ax in range(len(x)) if ax not in ones[:1]]
            if len(ones) > 1:
                ctx.conflict("var's shape", f"the input's {x}, with at most one dim 1",
                             f"{ctx.input_desc(2)} has 1 on dims {ones}")
                return None
        else:
            ctx.conflict("var's rank", f"{len(x)} or {len(x) - 1} (the input's, or without its last dim)",
                         f"{ctx.input_desc(2)} has rank {len(var)}")
            return None
        for axis in spread:
            ctx.equal(x[axis], var[axis], what=f"dim {axis} of var",
                      expected_desc=lambda: f"{x[axis]}, as on the input",
                      actual_desc=lambda: f"{ctx.input_desc(2)} has {var[axis]}")
        return broadcast(ctx, [x, target], [0, 1])

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray, var: np.ndarray) -> np.ndarray:
        if np.any(var < 0):
            raise ShapeError("GaussianNLLLoss: var has negative entries")
        if var.ndim == x.ndim - 1:
            var = var[..., None]
        var = np.maximum(var, np.asarray(self.eps, dtype=var.dtype))
        loss = 0.5 * (np.log(var) + (x - target) ** 2 / var)
        if self.full:
            loss = loss + 0.5 * math.log(2 * math.pi)
        return self.reduce(loss, x.dtype)


class CTCLoss(_Loss):
    """log_probs (T, N, C), targets, input_lengths (N,), target_lengths (N,) -> the CTC loss (N,), reduced.

    Targets are padded (N, S) or concatenated (sum of target_lengths,); unbatched: (T, C), (S,), (), ()."""

    n_inputs = 4
    example = ({"reduction": "none"}, ("T, N, C", "N, S", "N", "N"))

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        self._setup(reduction=reduction)
        if type(blank) is not int or blank < 0:
            raise SpecError(f"CTCLoss: blank must be a non-negative int, got {blank!r}")
        self.blank = blank
        self.zero_infinity = self._flag("zero_infinity", zero_infinity)

    def loss_shape(self, ctx: RuleContext, log_probs: Shape, targets: Shape, input_lengths: Shape,
                   target_lengths: Shape) -> Shape | None:
        if not ctx.rank(log_probs, (2, 3), "(T, N, C) or (T, C)"):
            return None
        batch: Shape = log_probs[1:2] if len(log_probs) == 3 else ()
        if not ctx.rank(targets, (1, 2) if batch else (1,), "(N, S), (sum of target_lengths,) or (S,)", i=1):
            return None
        if len(targets) == 2:
            ctx.equal(batch[0], targets[0], what="dim 0 of the targets", expected_desc=lambda: f"{batch[0]} (N)",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {targets[0]}")
        for i, shape in ((2, input_lengths), (3, target_lengths)):
            if not ctx.rank(shape, (len(batch),), "(N,)" if batch else "() for an unbatched input", i=i):
                return None
            if batch:
                ctx.equal(batch[0], shape[0], what=f"the length of input {i}", expected_desc=lambda: f"{batch[0]} (N)",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {shape[0]}")
        if type(log_probs[-1]) is int and self.blank >= log_probs[-1]:
            ctx.conflict("blank", f"{self.blank}, a class index", f"{ctx.input_desc()} has {log_probs[-1]} classes",
                         "Use a blank below the number of classes.")
        elif type(log_probs[-1]) is not int:  # a symbolic class count: the condition C > blank
            ctx.at_least(log_probs[-1], self.blank + 1, what=f"the class count (blank is {self.blank})",
                         actual_desc=lambda: f"{ctx.input_desc()} has {log_probs[-1]} classes")
        return batch

    def forward(self, p: dict, log_probs: np.ndarray, targets: np.ndarray, input_lengths: np.ndarray,
                target_lengths: np.ndarray) -> np.ndarray:
        unbatched = log_probs.ndim == 2
        lp = (log_probs[:, None] if unbatched else log_probs).astype(np.float64)
        tl, il = np.atleast_1d(target_lengths), np.atleast_1d(input_lengths)
        rows = targets if targets.ndim == 2 else None
        if np.any(il > lp.shape[0]) or np.any(il < 0) or np.any(tl < 0):
            raise ShapeError(f"CTCLoss: input_lengths must lie in [0, {lp.shape[0]}] and target_lengths be "
                             f"non-negative, got {il.tolist()} and {tl.tolist()}")
        if targets.ndim == 1 and targets.size != tl.sum():
            raise ShapeError(f"CTCLoss: concatenated targets must hold sum(target_lengths) = {tl.sum()} labels, "
                             f"got {targets.size}")
        labels_given = targets if rows is None else np.concatenate([rows[n, : tl[n]] for n in range(len(tl))])
        if labels_given.size and (labels_given.min() < 0 or labels_given.max() >= lp.shape[2]):
            raise ShapeError(f"CTCLoss: targets must be class indices in [0, {lp.shape[2]}) (C = {lp.shape[2]}), "
                             f"got values from {labels_given.min()} to {labels_given.max()}")
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        losses = np.empty(lp.shape[1])
        for n in range(lp.shape[1]):
            labels = rows[n, : tl[n]] if rows is not None else targets[starts[n]: starts[n] + tl[n]]
            losses[n] = self._nll(lp[: il[n], n], labels)
        if self.zero_infinity:
            losses = np.where(np.isinf(losses), 0.0, losses)
        if self.reduction == "mean":
            return np.asarray((losses / np.maximum(tl, 1)).mean()).astype(log_probs.dtype)
        return self.reduce(losses[0] if unbatched else losses, log_probs.dtype)

    def _nll(self, lp: np.ndarray, labels: np.ndarray) -> float:
        """-log of the probability of ``labels`` summed over all alignments (the forward recursion, in logs)."""
        ext = np.full(2 * len(labels) + 1, self.blank)
        ext[1::2] = labels
        alpha = np.full(len(ext), -np.inf)
        if not len(lp):
            return 0.0 if not len(labels) else np.inf
        alpha[0] = lp[0, self.blank]
        if len(labels):
            alpha[1] = lp[0, ext[1]]
        skip = np.zeros(len(ext), dtype=bool)
        skip[2:] = (ext[2:] != self.blank) & (ext[2:] != ext[:-2])
        for t in range(1, len(lp)):
            prev = alpha
            one, two = np.full_like(prev, -np.inf), np.full_like(prev, -np.inf)
            one[1:] = prev[:-1]
            two[2:] = np.where(skip[2:], prev[:-2], -np.inf)
            with np.errstate(invalid="ignore"):
                alpha = np.logaddexp(np.logaddexp(prev, one), two) + lp[t, ext]
        return float(-np.logaddexp(alpha[-1], alpha[-2]) if len(labels) else -alpha[-1])


class AdaptiveLogSoftmaxWithLoss(Layer):
    """input (N, in_features) or (in_features,), class indices (N,) or () -> output (N,) or (), loss ().

    output is the target's log-probability under the clustered softmax (the head, then the target's tail
    cluster); loss is the mean of -output."""

    size_args = ("in_features",)
    n_inputs = 2
    n_outputs = 2
    example = ({"in_features": None, "n_classes": 1000, "cutoffs": [10, 100]}, ("N, D", "N"))

    def __init__(self, in_features: Any, n_classes: int, cutoffs: Any, div_value: float = 4.0, head_bias: bool = False,
                 device: Any = None, dtype: Any = None):
        op = "AdaptiveLogSoftmaxWithLoss"
        self.in_features = self._size("in_features", in_features, optional=True)
        if type(n_classes) is not int or n_classes < 2:
            raise SpecError(f"{op}: n_classes must be an int of at least 2, got {n_classes!r}")
        cuts = list(cutoffs) if isinstance(cutoffs, (list, tuple)) else None
        if not cuts or any(type(c) is not int for c in cuts) or cuts != sorted(set(cuts)) or cuts[0] <= 0 \
                or cuts[-1] > n_classes - 1:
            raise SpecError(f"{op}: cutoffs must be unique positive ints in increasing order, each between 1 and "
                            f"n_classes - 1 = {n_classes - 1}, got {cutoffs!r}")
        self.n_classes = n_classes
        self.cutoffs = [*cuts, n_classes]
        self.div_value = _number(op, "div_value", div_value, 0, strict=True)
        self.head_bias = self._flag("head_bias", head_bias)

    def hidden(self, in_features: Any, i: int) -> Any:
        """torch's int(in_features // div_value ** (i + 1)), exactly (the float's value as a fraction)."""
        f = Fraction(self.div_value ** (i + 1))
        return dims.floordiv(in_features * f.denominator, f.numerator)

    def infer(self, ctx: RuleContext, x: Shape, target: Shape) -> tuple[Shape, Shape] | None:
        if not ctx.rank(x, (1, 2), "(N, in_features) or (in_features,)"):
            return None
        if not ctx.rank(target, (len(x) - 1,), "(N,) with an (N, in_features) input, () with (in_features,)", i=1):
            return None
        if target:
            ctx.equal(x[0], target[0], what="the target's batch size", expected_desc=lambda: f"{x[0]}, as on the input",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {target[0]}")
        d = ctx.match("in_features", x[-1], what="in_features", fix=lambda: f"Use in_features={x[-1]}.")
        for i in range(len(self.cutoffs) - 1):
            ctx.at_least(self.hidden(d, i), 1, what=f"the hidden size of tail cluster {i}",
                         actual_desc=lambda: f"in_features // div_value^{i + 1} with div_value {self.div_value}",
                         fix="Use a smaller div_value or fewer cutoffs.")
        return (tuple(target), ())

    def params(self, a: Any) -> dict[str, ParamSpec]:
        d, shortlist = a.in_features, self.cutoffs[0]
        head = shortlist + len(self.cutoffs) - 1
        p = {"head.weight": ParamSpec((head, d), "uniform_fan_in", {"fan_in": d})}
        if self.head_bias:
            p["head.bias"] = ParamSpec((head,), "uniform_fan_in", {"fan_in": d})
        for i in range(len(self.cutoffs) - 1):
            hsz, osz = self.hidden(d, i), self.cutoffs[i + 1] - self.cutoffs[i]
            p[f"tail.{i}.0.weight"] = ParamSpec((hsz, d), "uniform_fan_in", {"fan_in": d})
            p[f"tail.{i}.1.weight"] = ParamSpec((osz, hsz), "uniform_fan_in", {"fan_in": hsz})
        return p

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        unbatched = x.ndim == 1
        x2, t = (x[None], target.reshape(1)) if unbatched else (x, target)
        if target.dtype.kind not in "iu" or np.any((t < 0) | (t >= self.n_classes)):
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss: targets must be class indices in [0, {self.n_classes})")
        shortlist = self.cutoffs[0]
        gather = np.where(t < shortlist, t, 0)
        output = np.zeros(len(t), dtype=x.dtype)
        for i, (low, high) in enumerate(zip(self.cutoffs[:-1], self.cutoffs[1:])):
            rows = np.flatnonzero((t >= low) & (t < high))
            if not len(rows):
                continue
            logits = x2[rows] @ p[f"tail.{i}.0.weight"].T @ p[f"tail.{i}.1.weight"].T
            output[rows] = np.take_along_axis(_log_softmax(logits), (t[rows] - low)[:, None], axis=1)[:, 0]
            gather[rows] = shortlist + i
        head = x2 @ p["head.weight"].T + (p["head.bias"] if "head.bias" in p else 0)
        output = output + np.take_along_axis(_log_softmax(head), gather[:, None], axis=1)[:, 0]
        loss = np.asarray(-output.mean(), dtype=x.dtype)
        return (output[0] if unbatched else output).astype(x.dtype, copy=False), loss


class LinearCrossEntropyLoss(Layer):
    """input (N, in_features), class indices (N, *out_features) -> CrossEntropyLoss of input @ weight.T.

    The logits are reshaped to (N, num_classes, *out_features); unbatched (in_features,) takes a target ()."""

    size_args = ("in_features",)
    example = ({"in_features": None, "num_classes": 10, "reduction": "none"}, ("N, D", "N"))
    n_inputs = 2

    def __init__(self, in_features: Any, num_classes: int, *, out_features: Any = (), bias: bool = False,
                 device: Any = None, dtype: Any = None, reduction: str = "mean", weight: Any = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0, options: Any = None):
        op = "LinearCrossEntropyLoss"
        self.in_features = self._size("in_features", in_features, optional=True)
        if type(num_classes) is not int or num_classes <= 0:
            raise SpecError(f"{op}: num_classes must be a positive int, got {num_classes!r}")
        extra = tuple(out_features) if isinstance(out_features, (list, tuple)) else None
        if extra is None or not all(type(d) is int and d > 0 for d in extra):
            raise SpecError(f"{op}: out_features must be a tuple of positive ints, got {out_features!r}")
        if options is not None or weight is not None:
            raise SpecError(f"{op}: a weight tensor and options (torch's chunking and precision settings) are not "
                            "supported; only None")
        self.num_classes, self.out_features = num_classes, extra
        self.has_bias = self._flag("bias", bias)
        self.loss = CrossEntropyLoss(ignore_index=-100 if ignore_index is None else ignore_index,
                                     reduction=reduction, label_smoothing=label_smoothing)
        self.reduction = self.loss.reduction

    def infer(self, ctx: RuleContext, x: Shape, target: Shape) -> Shape | None:
        ranks = (2,) if self.out_features else (1, 2)
        if not ctx.rank(x, ranks, "(N, in_features)" + ("" if self.out_features else " or (in_features,)")):
            return None
        expected = (*x[:-1], *self.out_features)
        if not ctx.rank(target, (len(expected),), "(N, *out_features), class indices" if x[:-1] else "()", i=1):
            return None
        for axis, (a, b) in enumerate(zip(expected, target)):
            ctx.equal(a, b, what=f"dim {axis} of the target", expected_desc=lambda: f"{a}",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {b}")
        ctx.match("in_features", x[-1], what="in_features", fix=lambda: f"Use in_features={x[-1]}.")
        return expected if self.reduction == "none" else ()

    def params(self, a: Any) -> dict[str, ParamSpec]:
        out = math.prod(self.out_features, start=self.num_classes)
        p = {"linear.weight": ParamSpec((out, a.in_features), "uniform_fan_in", {"fan_in": a.in_features})}
        if self.has_bias:
            p["linear.bias"] = ParamSpec((out,), "uniform_fan_in", {"fan_in": a.in_features})
        return p

    def forward(self, p: dict, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        logits = x @ p["linear.weight"].T + (p["linear.bias"] if "linear.bias" in p else 0)
        logits = logits.reshape(*x.shape[:-1], self.num_classes, *self.out_features)
        return self.loss.forward({}, logits.astype(x.dtype, copy=False), target)
