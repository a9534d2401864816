"""Normalization: BatchNorm, SyncBatchNorm, InstanceNorm (and Lazy variants), LayerNorm, RMSNorm, GroupNorm,
LocalResponseNorm, CrossMapLRN2d.

Eval mode: batch norm uses its running statistics; instance norm uses them only when it tracks them.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext


class _BatchNorm(Layer):
    size_args = ("num_features",)
    example = ({"num_features": None}, ("N, C, H, W",))
    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: Any, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        self.eps = _eps(self.op, eps)
        self.momentum = momentum
        self.affine = self._flag("affine", affine)
        self.has_bias = self._flag("bias", bias)
        self.track_running_stats = self._flag("track_running_stats", track_running_stats)
        unused = not (self.affine or self.track_running_stats)  # torch ignores num_features: any int goes
        ignored = unused and type(num_features) is int and num_features <= 0
        self.num_features = None if ignored else self._size("num_features", num_features, optional=True)
        if not isinstance(self, _InstanceNorm) and (self.eps < 0 or self.eps == 0 and not self.track_running_stats):
            raise SpecError(f"{self.op}: eps must be non-negative, and positive when batch statistics are used "
                            f"(track_running_stats=False), as torch's batch_norm requires; got {eps!r}")

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, self.ranks, self.layout):
            return None
        if self.affine or self.track_running_stats:  # without parameters or buffers torch ignores num_features
            ctx.match("num_features", x[1], what="num_features",
                      fix=lambda: f"Use num_features={x[1]} or Lazy{self.op.removeprefix('Lazy')}().")
        elif ctx.args.num_features is None:
            ctx.args.num_features = x[1]
        if not self.track_running_stats:  # batch statistics, in eval mode too
            _more_than_one(ctx, dims.prod((x[0], *x[2:])), "batch size times spatial size")
        return x

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        c = a.num_features
        p: dict[str, ParamSpec] = {}
        if self.affine:
            p["weight"] = ParamSpec((c,), "ones")
            if self.has_bias:
                p["bias"] = ParamSpec((c,), "zeros")
        if self.track_running_stats:
            p["running_mean"] = ParamSpec((c,), "zeros", buffer=True)
            p["running_var"] = ParamSpec((c,), "ones", buffer=True)
            p["num_batches_tracked"] = ParamSpec((), "zeros", buffer=True, dtype="int64")
        return p

    @property
    def is_affine_in_eval(self) -> bool:
        return self.track_running_stats

    def as_affine(self, p: dict[str, np.ndarray], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (scale, shift) equal to this layer in eval mode, when it uses running statistics
        (the interpreter folds it into the convolution before it)."""
        return _affine(p["running_mean"], p["running_var"], self.eps, p, dtype)

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.track_running_stats:
            mean, var = p["running_mean"], p["running_var"]
        else:  # no running statistics: torch uses the batch's, even in eval mode
            axes = (0,) + tuple(range(2, x.ndim))
            mean, var = x.mean(axis=axes), x.var(axis=axes)
        scale, shift = _affine(mean, var, self.eps, p, x.dtype)
        return (x * scale.reshape(shape) + shift.reshape(shape)).astype(x.dtype, copy=False)


def _more_than_one(ctx: RuleContext, count: dims.Dim, what: str, unit: str = "value per channel") -> None:
    """torch's refusal of statistics over a single value ("Expected more than 1 ... when training")."""
    ctx.at_least(count, 2, what=f"the {what}", actual_desc=lambda: f"{ctx.input_desc()} gives {ctx.show(count)}",
                 fix=f"torch needs more than 1 {unit} to compute batch statistics (in eval mode too): "
                     "use a larger input or track_running_stats=True.")


def _eps(op: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):  # torch takes a negative eps too
        raise SpecError(f"{op}: eps must be a number, got {eps!r}")
    return float(eps)


def _affine(mean: np.ndarray, var: np.ndarray, eps: float, p: dict, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """scale and shift with (x - mean) / sqrt(var + eps) * weight + bias == x * scale + shift."""
    scale = 1.0 / np.sqrt(var.astype(dtype) + np.asarray(eps, dtype=dtype))
    shift = -mean.astype(dtype) * scale
    if "weight" in p:
        scale, shift = scale * p["weight"], shift * p["weight"]
    if "bias" in p:
        shift = shift + p["bias"]
    return scale, shift


class BatchNorm1d(_BatchNorm):
    """(N, C) or (N, C, L), normalized per channel C."""

    example = (_BatchNorm.example[0], ("N, C, L",))
    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """(N, C, H, W), normalized per channel C."""

    ranks = (4,)
    layout = "(N, C, H, W)"


class LazyBatchNorm1d(BatchNorm1d):
    """BatchNorm1d with num_features inferred from the input."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


class LazyBatchNorm2d(BatchNorm2d):
    """BatchNorm2d with num_features inferred from the input."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


class BatchNorm3d(_BatchNorm):
    """(N, C, D, H, W), normalized per channel C."""

    example = (_BatchNorm.example[0], ("N, C, D, H, W",))
    ranks = (5,)
    layout = "(N, C, D, H, W)"


class LazyBatchNorm3d(BatchNorm3d):
    """BatchNorm3d with num_features inferred from the input."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


class _InstanceNorm(_BatchNorm):
    """Per sample and channel over the spatial dims; running statistics only if tracked."""

    n = 0

    def __init__(self, num_features: Any, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), self.layout):
            return None
        c = x[-n - 1]
        if self.affine or self.track_running_stats:  # without parameters torch only warns on a mismatch
            if self.op.startswith("Lazy") and len(x) == n + 1 and ctx.args.num_features is None:
                ctx.args.num_features = x[1]  # torch's lazy norms take input.shape[1], here a spatial size
            lazy = f"Lazy{self.op.removeprefix('Lazy')}()"
            ctx.match("num_features", c, what="num_features", fix=lambda: f"Use num_features={c} or {lazy}.")
        elif ctx.args.num_features is None:
            ctx.args.num_features = c
        if not self.track_running_stats:
            _more_than_one(ctx, dims.prod(x[-n:]), "spatial size", "spatial element")
        return x

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        unbatched = x.ndim == self.n + 1
        if unbatched:
            x = x[None]
        if self.track_running_stats:
            mean, var = p["running_mean"][None, :], p["running_var"][None, :]
        else:
            axes = tuple(range(2, x.ndim))
            mean, var = x.mean(axis=axes), x.var(axis=axes)  # (N, C)
        scale, shift = _affine(mean, var, self.eps, p, x.dtype)
        shape = scale.shape + (1,) * self.n
        y = (x * scale.reshape(shape) + shift.reshape(shape)).astype(x.dtype, copy=False)
        return y[0] if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """(N, C, L) or (C, L), normalized per sample and channel."""

    example = (_BatchNorm.example[0], ("N, C, L",))
    n = 1
    layout = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """(N, C, H, W) or (C, H, W), normalized per sample and channel."""

    n = 2
    layout = "(N, C, H, W) or (C, H, W)"


class LazyInstanceNorm1d(InstanceNorm1d):
    """InstanceNorm1d with num_features inferred (torch's lazy defaults: affine and tracked statistics)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


class LazyInstanceNorm2d(InstanceNorm2d):
    """InstanceNorm2d with num_features inferred (torch's lazy defaults: affine and tracked statistics)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


def layer_norm(x: np.ndarray, axes: tuple[int, ...], eps: float, weight: np.ndarray | None = None,
               bias: np.ndarray | None = None) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) * weight + bias over ``axes``: the variance of the centred values (two
    passes, as torch), the scaling in place on one new array."""
    y = x - x.mean(axis=axes, keepdims=True)
    var = np.square(y).mean(axis=axes, keepdims=True)
    var += np.asarray(eps, dtype=var.dtype)
    y *= np.reciprocal(np.sqrt(var, out=var), out=var)
    for value, op in ((weight, np.multiply), (bias, np.add)):
        if value is not None:
            y = op(y, value, out=y) if y.dtype == np.result_type(y, value) else op(y, value)
    return y.astype(x.dtype, copy=False)


class LayerNorm(Layer):
    """Normalizes over the last len(normalized_shape) dims, which must equal normalized_shape."""

    size_args = ("normalized_shape",)
    example = ({"normalized_shape": [None]}, ("B, T, D",))

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        items = normalized_shape if isinstance(normalized_shape, (list, tuple)) else [normalized_shape]
        if not items:
            raise SpecError(f"{self.op}: normalized_shape must name at least one dim")
        self.normalized_shape = tuple(self._size("normalized_shape", d, optional=True) for d in items)
        self.eps = _eps(self.op, eps)
        self.elementwise_affine = self._flag("elementwise_affine", elementwise_affine)
        self.has_bias = self._flag("bias", bias)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        k = len(self.normalized_shape)
        if len(x) < k:
            ctx.conflict("input rank", f"at least {k} (normalized_shape has {k} dims)",
                         f"{ctx.input_desc()} has rank {len(x)}")
            return None
        expected = list(ctx.args.normalized_shape)
        for i, (want, got) in enumerate(zip(expected, x[len(x) - k:])):
            if want is None:
                expected[i] = got
            else:
                ctx.equal(want, got, what=f"normalized_shape[{i}]",
                          actual_desc=lambda: f"{ctx.input_desc()} has {got} on dim {len(x) - k + i}",
                          fix=lambda: f"normalized_shape must equal the input's last {k} dim(s): use "
                              f"{list(x[len(x) - k:]) if k > 1 else x[-1]}.")
        ctx.args.normalized_shape = tuple(expected)
        return x

    def params(self, a: Any) -> dict[str, ParamSpec]:
        shape = tuple(dims.sym("normalized_shape") if d is None else d for d in a.normalized_shape)
        if not self.elementwise_affine:
            return {}
        p = {"weight": ParamSpec(shape, "ones")}
        if self.has_bias:
            p["bias"] = ParamSpec(shape, "zeros")
        return p

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        return layer_norm(x, axes, self.eps, p.get("weight"), p.get("bias"))


class GroupNorm(Layer):
    """(N, C, *) normalized per sample over groups of C / num_groups channels."""

    size_args = ("num_channels",)
    example = ({"num_groups": 4, "num_channels": None}, ("N, C, H, W",))

    def __init__(self, num_groups: int, num_channels: Any, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True):
        if type(num_groups) is not int or num_groups <= 0:
            raise SpecError(f"GroupNorm: num_groups must be a positive int, got {num_groups!r}")
        self.num_groups = num_groups
        self.affine = self._flag("affine", affine)
        ignored = not self.affine and type(num_channels) is int and num_channels <= 0  # unused: torch ignores it
        self.num_channels = None if ignored else self._size("num_channels", num_channels, optional=True)
        given = num_channels if ignored else self.num_channels
        if type(given) is int and given % num_groups:  # torch's constructor checks it
            raise SpecError(f"GroupNorm: num_channels ({given}) must be divisible by num_groups ({num_groups})")
        self.eps = _eps("GroupNorm", eps)
        self.has_bias = self._flag("bias", bias)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, tuple(range(2, 64)), "(N, C, *)"):
            return None
        if self.affine:  # without parameters torch ignores num_channels
            c = ctx.match("num_channels", x[1], what="num_channels", fix=lambda: f"Use num_channels={x[1]}.")
        else:
            c = x[1]
            if ctx.args.num_channels is None:
                ctx.args.num_channels = c
        ctx.divisible(c, self.num_groups, what="num_channels", actual_desc=lambda: f"num_groups is {self.num_groups}",
                      fix="num_channels must be divisible by num_groups.")
        per_group = dims.prod((x[0], dims.floordiv(c, self.num_groups), *x[2:]))
        ctx.at_least(per_group, 2, what="the values per group",
                     actual_desc=lambda: f"{ctx.input_desc()} gives {ctx.show(per_group)} "
                                         "(N * C / num_groups * spatial)",
                     fix="torch needs more than 1 value per group: use a larger input or fewer groups.")
        return x

    def params(self, a: Any) -> dict[str, ParamSpec]:
        if not self.affine:
            return {}
        p = {"weight": ParamSpec((a.num_channels,), "ones")}
        if self.has_bias:
            p["bias"] = ParamSpec((a.num_channels,), "zeros")
        return p

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        n, c = x.shape[:2]
        g = x.reshape(n, self.num_groups, -1)
        mean, var = g.mean(axis=2, keepdims=True), g.var(axis=2, keepdims=True)
        y = ((g - mean) / np.sqrt(var + np.asarray(self.eps, dtype=x.dtype))).reshape(x.shape)
        shape = (1, c) + (1,) * (x.ndim - 2)
        if "weight" in p:
            y = y * p["weight"].reshape(shape)
        if "bias" in p:
            y = y + p["bias"].reshape(shape)
        return y.astype(x.dtype, copy=False)


class LocalResponseNorm(Layer):
    """(N, C, *): x / (k + alpha/size * sum of x^2 over size neighbouring channels)^beta."""

    example = ({"size": 5}, ("N, C, H, W",))

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        if type(size) is not int or size <= 0:
            raise SpecError(f"LocalResponseNorm: size must be a positive int, got {size!r}")
        self.size, self.alpha, self.beta, self.k = size, float(alpha), float(beta), float(k)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return x if ctx.rank(x, tuple(range(3, 64)), "(N, C, *)") else None

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        sq = x * x
        pad = [(0, 0), (self.size // 2, (self.size - 1) // 2)] + [(0, 0)] * (x.ndim - 2)
        padded = np.pad(sq, pad)
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.size, axis=1)
        div = (windows.sum(axis=-1) / self.size) * self.alpha + self.k
        return (x / div**self.beta).astype(x.dtype, copy=False)


class InstanceNorm3d(_InstanceNorm):
    """(N, C, D, H, W) or (C, D, H, W), normalized per sample and channel."""

    example = (_BatchNorm.example[0], ("N, C, D, H, W",))
    n = 3
    layout = "(N, C, D, H, W) or (C, D, H, W)"


class LazyInstanceNorm3d(InstanceNorm3d):
    """InstanceNorm3d with num_features inferred (torch's lazy defaults: affine and tracked statistics)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(None, eps, momentum, affine, track_running_stats, bias=bias)


class SyncBatchNorm(_BatchNorm):
    """(N, C, *), normalized per channel C; in eval mode exactly BatchNorm (no process group is involved)."""

    ranks = tuple(range(2, 64))
    layout = "(N, C, *)"

    def __init__(self, num_features: Any, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None, dtype: Any = None,
                 *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, self.ranks, self.layout):
            return None
        if self.affine or self.track_running_stats:  # without parameters or buffers torch ignores num_features
            ctx.match("num_features", x[1], what="num_features", fix=lambda: f"Use num_features={x[1]}.")
        if not self.track_running_stats:  # batch statistics, in eval mode too
            _more_than_one(ctx, dims.prod((x[0], *x[2:])), "batch size times spatial size")
        return x


class RMSNorm(LayerNorm):
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims, which must equal it."""

    def __init__(self, normalized_shape: Any, eps: float | None = None, elementwise_affine: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__(normalized_shape, 0.0 if eps is None else eps, elementwise_affine, bias=False)
        self.eps = None if eps is None else self.eps

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        eps = np.finfo(np.float64 if x.dtype == np.float64 else np.float32).eps if self.eps is None else self.eps
        y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + np.asarray(eps, dtype=x.dtype))
        if "weight" in p:
            y = y * p["weight"]
        return y.astype(x.dtype, copy=False)


class CrossMapLRN2d(LocalResponseNorm):
    """(N, C, H, W): x * (k + alpha/size * a running sum of x^2 over channels)^-beta, torch's legacy recurrence."""

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return x if ctx.rank(x, (4,), "(N, C, H, W)") else None

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """The window sums of torch.nn.modules._functions.CrossMapLRN2d, step by step as torch takes them."""
        sq = x * x
        channels = x.shape[1]
        pre_pad = int((self.size - 1) / 2 + 1)
        scale = np.empty_like(x)
        scale[:, 0] = sq[:, :min(pre_pad, channels)].sum(axis=1)
        for c in range(1, channels):
            scale[:, c] = scale[:, c - 1]
            if c < channels - pre_pad + 1:
                scale[:, c] += sq[:, c + pre_pad - 1]
            if c > pre_pad:
                scale[:, c] -= sq[:, c - pre_pad]
        scale = scale * (self.alpha / self.size) + self.k
        return (x * scale ** -self.beta).astype(x.dtype, copy=False)
