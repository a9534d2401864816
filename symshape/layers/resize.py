"""Upsample (nearest and (bi/tri)linear interpolation, torch's index arithmetic), UpsamplingNearest2d and
UpsamplingBilinear2d.

Output size per spatial dim: ``size``, or ``floor(L * scale_factor)``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext

MODES = {"nearest": None, "linear": 1, "bilinear": 2, "trilinear": 3}


class Upsample(Layer):
    """(N, C, *spatial) -> (N, C, *size) or (N, C, *floor(spatial * scale_factor)). A size may be symbolic
    (a segmentation head resized to its input's ``H, W``)."""

    example = ({"scale_factor": 2, "mode": "bilinear"}, ("N, C, H, W",))
    size_args = ("size",)  # sizes named here can be bound (None: scale_factor is given)
    needs_shapes = True  # the output sizes, where size is symbolic

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        if (size is None) == (scale_factor is None):
            raise SpecError(f"{self.op}: give exactly one of size and scale_factor")
        if mode not in MODES:
            raise SpecError(f"{self.op}: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if align_corners is not None and mode == "nearest":
            raise SpecError(f"{self.op}: align_corners only applies to the linear modes")
        if recompute_scale_factor:
            raise SpecError(f"{self.op}: recompute_scale_factor=True is not supported")
        self.size = self._sizes(size)
        self.scale_factor = self._tuple("scale_factor", scale_factor, (int, float))
        self.mode = mode
        self.align_corners = bool(align_corners)

    def _sizes(self, value: Any) -> tuple | None:
        """Positive sizes: ints or size expressions (``H``, ``2*W``)."""
        if value is None:
            return None
        items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        try:
            sizes = tuple(dims.parse_dim(v) for v in items if not isinstance(v, (bool, float)))
        except (dims.DimSyntaxError, TypeError):
            sizes = ()
        if len(sizes) != len(items) or not sizes or any(type(d) is int and d < 1 for d in sizes):
            raise SpecError(f"{self.op}: size must be positive, got {value!r}")
        return sizes

    def _tuple(self, name: str, value: Any, kinds: Any) -> tuple | None:
        if value is None:
            return None
        items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if not all(isinstance(v, kinds) and not isinstance(v, bool) and v > 0 for v in items):
            raise SpecError(f"{self.op}: {name} must be positive, got {value!r}")
        return items

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = len(x) - 2
        wanted = MODES[self.mode]
        if n < 1 or (wanted is not None and n != wanted):
            ranks = "3, 4 or 5" if wanted is None else str(wanted + 2)
            ctx.conflict("input rank", f"{ranks} for mode {self.mode!r}", f"{ctx.input_desc()} has rank {len(x)}")
            return None
        given = self.size or self.scale_factor
        if len(given) not in (1, n):
            ctx.conflict("size/scale_factor", f"1 or {n} values", f"{ctx.input_desc()} has {n} spatial dims")
            return None
        given = given * n if len(given) == 1 else given
        if self.size:
            size = ctx.args.size
            return (*x[:2], *(size * n if len(size) == 1 else size))
        out = []
        for axis, (length, scale) in enumerate(zip(x[2:], given), start=2):
            size = _scaled(length, scale)
            ctx.at_least(size, 1, what=f"the output size on dim {axis}",
                         actual_desc=f"floor({ctx.show(length)} * {scale}) from {ctx.input_desc()}",
                         fix="Use a larger scale_factor or a larger input.")
            out.append(size)
        return (*x[:2], *out)

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        n = x.ndim - 2
        given = tuple(out_shapes[0][2:]) if self.size else self.scale_factor
        given = given * n if len(given) == 1 else given
        for i in range(n):
            axis = 2 + i
            length = x.shape[axis]
            if self.size:
                out, scale = given[i], length / given[i]
            else:
                out, scale = _scaled(length, given[i]), 1.0 / given[i]
            if out == length and self.mode != "nearest":  # torch copies (its nearest mode still resamples)
                continue
            x = self._resample(x, axis, length, out, scale)
        return x

    def _resample(self, x: np.ndarray, axis: int, length: int, out: int, scale: float) -> np.ndarray:
        index = np.arange(out, dtype=np.float32)
        if self.mode == "nearest":
            src = np.minimum(np.floor(index * np.float32(scale)).astype(np.int64), length - 1)
            return np.take(x, src, axis=axis)
        if self.align_corners:
            src = index * np.float32((length - 1) / (out - 1) if out > 1 else 0.0)
        else:
            src = np.maximum((index + 0.5) * np.float32(scale) - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), length - 1)
        i1 = np.minimum(i0 + 1, length - 1)
        lam = (src - i0).astype(x.dtype)
        shape = [1] * x.ndim
        shape[axis] = out
        lam = lam.reshape(shape)
        return (np.take(x, i0, axis=axis) * (1 - lam) + np.take(x, i1, axis=axis) * lam).astype(x.dtype, copy=False)


def _scaled(length: dims.Dim, scale: int | float) -> dims.Dim:
    """torch's output length ``floor(double(length) * scale)``; for a symbolic length, ``floor(length * p / q)``
    with p / q the simplest fraction whose double is ``scale`` (rounding the product can move it across an
    integer at a few lengths: binding the size redoes this with the double product)."""
    if isinstance(length, int):
        return math.floor(float(length) * scale)
    f = Fraction(scale).limit_denominator(10**6)
    if float(f) != scale:
        f = Fraction(scale)
    return dims.floordiv(length * f.numerator, f.denominator)


class UpsamplingNearest2d(Upsample):
    """(N, C, H, W) -> (N, C, *size) or (N, C, *floor((H, W) * scale_factor)), nearest neighbour."""

    example = ({"scale_factor": 2}, ("N, C, H, W",))

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """(N, C, H, W) -> (N, C, *size) or (N, C, *floor((H, W) * scale_factor)), bilinear with align_corners."""

    example = ({"scale_factor": 2}, ("N, C, H, W",))

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
