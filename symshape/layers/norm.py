"""Batch normalization: BatchNorm1d/2d and their Lazy variants (eval mode: running statistics)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ..dims import Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer, RuleContext


class _BatchNorm(Layer):
    size_args = ("num_features",)
    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: Any, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None):
        self.num_features = self._size("num_features", num_features, optional=True)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
            raise SpecError(f"{type(self).__name__}: eps must be a non-negative number, got {eps!r}")
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = self._flag("affine", affine)
        self.track_running_stats = self._flag("track_running_stats", track_running_stats)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, self.ranks, self.layout):
            return None
        lazy = f"Lazy{self.op.removeprefix('Lazy')}()"
        ctx.match("num_features", x[1], what="num_features", fix=f"Use num_features={x[1]} or {lazy}.")
        return x

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        c = a.num_features
        p: dict[str, ParamSpec] = {}
        if self.affine:
            p["weight"] = ParamSpec((c,), "ones")
            p["bias"] = ParamSpec((c,), "zeros")
        if self.track_running_stats:
            p["running_mean"] = ParamSpec((c,), "zeros", buffer=True)
            p["running_var"] = ParamSpec((c,), "ones", buffer=True)
            p["num_batches_tracked"] = ParamSpec((), "zeros", buffer=True, dtype="int64")
        return p

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.track_running_stats:
            mean, var = p["running_mean"], p["running_var"]
        else:  # no running statistics: torch uses the batch's, even in eval mode
            axes = (0,) + tuple(range(2, x.ndim))
            mean, var = x.mean(axis=axes), x.var(axis=axes)
        scale = 1.0 / np.sqrt(var.astype(x.dtype) + np.asarray(self.eps, dtype=x.dtype))
        shift = -mean.astype(x.dtype) * scale
        if self.affine:
            scale, shift = scale * p["weight"], shift * p["weight"] + p["bias"]
        return (x * scale.reshape(shape) + shift.reshape(shape)).astype(x.dtype, copy=False)


class BatchNorm1d(_BatchNorm):
    """(N, C) or (N, C, L), normalized per channel C."""

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """(N, C, H, W), normalized per channel C."""

    ranks = (4,)
    layout = "(N, C, H, W)"


class LazyBatchNorm1d(BatchNorm1d):
    """BatchNorm1d with num_features inferred from the input."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(None, eps, momentum, affine, track_running_stats)


class LazyBatchNorm2d(BatchNorm2d):
    """BatchNorm2d with num_features inferred from the input."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(None, eps, momentum, affine, track_running_stats)
