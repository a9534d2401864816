"""Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, LPPool1d/2d/3d, AdaptiveAvg/MaxPool1d/2d/3d (max: indices too),
and MaxUnpool1d/2d/3d (the inverse of MaxPool with its indices).

Output length (floor mode): ``floor((L + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``;
ceil_mode rounds up, minus one when the last window would start in the right padding.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import dims
from ..dims import Dim, Shape
from ..errors import ShapeError, SpecError
from .base import Layer, nonnegative_tuple, positive_tuple
from .conv import pad_constant

if TYPE_CHECKING:
    from ..propagate import RuleContext


def _layout(n: int) -> str:
    return f"(N, C, {', '.join(['L'] if n == 1 else ['H', 'W'] if n == 2 else ['D', 'H', 'W'])}) or without N"


def pool_out(length: Dim, k: int, s: int, p: int, d: int, ceil_mode: bool) -> Dim:
    """torch's pooling_output_shape (``dims.pool_out``)."""
    return dims.pool_out(length, k, s, p, d, ceil_mode)


class _PoolNd(Layer):
    n: int = 0
    example = ({"kernel_size": 3, "stride": 2, "padding": 1}, ("N, C, H, W",))

    def _setup(self, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool) -> None:
        op, n = type(self).__name__, self.n
        self.kernel_size = positive_tuple(kernel_size, n, "kernel_size", op)
        self.stride = positive_tuple(kernel_size if stride is None or stride == [] else stride, n, "stride", op)
        self.padding = nonnegative_tuple(padding, n, "padding", op)
        self.dilation = positive_tuple(dilation, n, "dilation", op)
        self.ceil_mode = self._flag("ceil_mode", ceil_mode)
        for p, k in zip(self.padding, self.kernel_size):
            limit = k // 2  # torch: half of the undilated kernel, whatever the dilation
            if p > limit:
                raise SpecError(f"{op}: padding {p} must be at most half of the kernel size "
                                f"({limit}), as torch requires")

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), _layout(n)):
            return None
        spatial = []
        for i, (k, s, p, d) in enumerate(zip(self.kernel_size, self.stride, self.padding, self.dilation)):
            axis = len(x) - n + i
            out = pool_out(x[axis], k, s, p, d, self.ceil_mode)
            ctx.at_least(out, 1, what=f"the output size on dim {axis}",
                         actual_desc=lambda: f"the window spans {d * (k - 1) + 1} and {ctx.input_desc()} has "
                                     f"{x[axis]} + padding {2 * p} on that dim",
                         fix="Use a larger input, a smaller kernel or more padding.")
            spatial.append(out)
        return (*x[: len(x) - n], *spatial)

    def windows(self, x: np.ndarray, fill: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Padded sliding windows (N, C, *out, *k) and the padding used per spatial dim."""
        n = self.n
        pads = []
        for i, (k, s, p, d) in enumerate(zip(self.kernel_size, self.stride, self.padding, self.dilation)):
            length = x.shape[x.ndim - n + i]
            out = pool_out(length, k, s, p, d, self.ceil_mode)
            needed = (out - 1) * s + d * (k - 1) + 1
            pads.append((p, max(p, needed - length - p)))
        padded = pad_constant(x, pads, fill)
        reach = [d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size)]
        w = sliding_window_view(padded, reach, axis=tuple(range(x.ndim - n, x.ndim)))
        index = (slice(None),) * (x.ndim - n) + tuple(slice(None, None, s) for s in self.stride) \
            + tuple(slice(None, None, d) for d in self.dilation)
        w = w[index]
        outs = [pool_out(x.shape[x.ndim - n + i], k, s, p, d, self.ceil_mode)
                for i, (k, s, p, d) in enumerate(zip(self.kernel_size, self.stride, self.padding, self.dilation))]
        w = w[(slice(None),) * (x.ndim - n) + tuple(slice(0, o) for o in outs)]
        return w, pads


def fold(parts: Iterable[np.ndarray], ufunc: np.ufunc) -> np.ndarray:
    """``ufunc`` applied across same-shaped arrays (one strided view per kernel offset), into a copy of the
    first: numpy's reductions over short strided axes are far slower."""
    total = None
    for part in parts:
        total = part.copy() if total is None else ufunc(total, part, out=total)
    return total


class _WithIndices(Layer):
    """Max pooling's return_indices: a second output, each maximum's flat index into its input plane (int64)."""

    def _indices_flag(self, return_indices: Any) -> None:
        self.return_indices = self._flag("return_indices", return_indices)
        self.n_outputs = 2 if self.return_indices else 1

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | tuple[Shape, Shape] | None:
        out = super().infer(ctx, x)
        if self.return_indices:
            return (None, None) if out is None else (out, out)
        return out

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (dtypes[0], "int64") if self.return_indices else (dtypes[0],)


class _MaxPoolNd(_WithIndices, _PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        self._setup(kernel_size, stride, padding, dilation, ceil_mode)
        self._indices_flag(return_indices)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        w, _ = self.windows(x, -np.inf)
        n = self.n
        # np.maximum propagates NaN as torch does
        values = fold((w[(...,) + offset] for offset in itertools.product(*(range(k) for k in self.kernel_size))),
                      np.maximum)
        if not self.return_indices:
            return values
        # the first maximum in each window (torch's scan order), as a position in the unpadded input
        at = np.unravel_index(w.reshape(*values.shape, -1).argmax(axis=-1), self.kernel_size)
        flat = np.zeros(values.shape, dtype=np.int64)
        for i, (s, p_, d) in enumerate(zip(self.stride, self.padding, self.dilation)):
            start = np.arange(values.shape[x.ndim - n + i]) * s - p_
            start = start.reshape((-1,) + (1,) * (n - 1 - i))
            flat = flat * x.shape[x.ndim - n + i] + start + at[i] * d
        return values, flat


class _AvgPoolNd(_PoolNd):
    def _avg_setup(self, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
                   count_include_pad: bool, divisor_override: Any) -> None:
        self._setup(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = self._flag("count_include_pad", count_include_pad)
        if divisor_override is not None and (type(divisor_override) is not int or divisor_override <= 0):
            raise SpecError(f"{type(self).__name__}: divisor_override must be a positive int, "
                            f"got {divisor_override!r}")
        self.divisor_override = divisor_override

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        out = super().infer(ctx, x)
        if out is not None and self.n == 3:  # torch's avg_pool3d also wants the unpadded input to hold a window
            for i, k in enumerate(self.kernel_size):
                axis = len(x) - 3 + i
                ctx.at_least(x[axis], k, what=f"the input size on dim {axis}",
                             actual_desc=lambda axis=axis: f"{ctx.input_desc()} has {x[axis]} on that dim (padding "
                                                           "not counted: torch's avg_pool3d requires it)",
                             fix="Use a larger input or a smaller kernel.")
        return out

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        n = self.n
        outs = [pool_out(x.shape[x.ndim - n + i], k, s, q, 1, self.ceil_mode)
                for i, (k, s, q) in enumerate(zip(self.kernel_size, self.stride, self.padding))]
        if not any(self.padding) and tuple(self.stride) == tuple(self.kernel_size) and \
                all(o * k <= size for o, k, size in zip(outs, self.kernel_size, x.shape[x.ndim - n:])):
            # windows that tile the input without padding: one strided slice per kernel offset, summed,
            # every count the kernel's
            offsets = itertools.product(*(range(k) for k in self.kernel_size))
            total = fold((x[(...,) + tuple(slice(i, i + o * k, k) for i, o, k in zip(start, outs, self.kernel_size))]
                          for start in offsets), np.add)
            return (total / (self.divisor_override or math.prod(self.kernel_size))).astype(x.dtype, copy=False)
        w, pads = self.windows(x, 0.0)
        axes = tuple(range(x.ndim, w.ndim))
        total = w.sum(axis=axes)
        if self.divisor_override:
            return (total / self.divisor_override).astype(x.dtype, copy=False)
        # count the window cells inside the padded input (count_include_pad) or the input itself
        spatial = x.shape[x.ndim - n:]
        mask = np.zeros([s + b + e for s, (b, e) in zip(spatial, pads)], dtype=x.dtype)
        inner = tuple(slice(b - (pp if self.count_include_pad else 0), b + s + (pp if self.count_include_pad else 0))
                      for s, (b, _), pp in zip(spatial, pads, self.padding))
        mask[inner] = 1
        mw = sliding_window_view(mask, self.kernel_size)[tuple(slice(None, None, s) for s in self.stride)]
        mw = mw[tuple(slice(0, o) for o in total.shape[x.ndim - n:])]
        counts = mw.sum(axis=tuple(range(n, 2 * n)))
        return (total / counts).astype(x.dtype, copy=False)


class MaxPool1d(_MaxPoolNd):
    """(N, C, L) -> (N, C, L_out)."""

    n = 1
    example = (_PoolNd.example[0], ("N, C, L",))


class MaxPool2d(_MaxPoolNd):
    """(N, C, H, W) -> (N, C, H_out, W_out)."""

    n = 2


class AvgPool1d(_AvgPoolNd):
    """(N, C, L) -> (N, C, L_out)."""

    n = 1
    example = (_PoolNd.example[0], ("N, C, L",))

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        self._avg_setup(kernel_size, stride, padding, ceil_mode, count_include_pad, None)


class AvgPool2d(_AvgPoolNd):
    """(N, C, H, W) -> (N, C, H_out, W_out)."""

    n = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Any = None):
        self._avg_setup(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


class _AdaptiveAvgPoolNd(Layer):
    n: int = 0
    example = ({"output_size": 7}, ("N, C, H, W",))

    def __init__(self, output_size: Any):
        self._output_size(output_size)

    def _output_size(self, output_size: Any) -> None:
        op, n = type(self).__name__, self.n
        if output_size is None:  # torch keeps an input size only for a None inside a tuple
            raise SpecError(f"{op}: output_size must be a positive int or {n} positive ints (None inside a tuple "
                            "keeps that input size), got None")
        items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
        if len(items) != n or not all(v is None or (type(v) is int and v > 0) for v in items):
            raise SpecError(f"{op}: output_size must be a positive int or {n} positive ints (or None), "
                            f"got {output_size!r}")
        self.output_size = items

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), _layout(n)):
            return None
        spatial = x[len(x) - n:]
        return (*x[: len(x) - n], *(s if o is None else o for o, s in zip(self.output_size, spatial)))

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        """Separable: averaging one axis at a time with a (out, length) weight matrix."""
        n = self.n
        for i, out in enumerate(self.output_size):
            axis = x.ndim - n + i
            length = x.shape[axis]
            out = length if out is None else out
            m = np.zeros((out, length), dtype=np.float64)
            for j, (start, end) in enumerate(adaptive_windows(length, out)):
                m[j, start:end] = 1.0 / (end - start)
            x = np.moveaxis(np.tensordot(x, m.astype(x.dtype), axes=([axis], [1])), -1, axis)
        return np.ascontiguousarray(x)


def adaptive_windows(length: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive windows: cell i covers [floor(i*L/out), ceil((i+1)*L/out))."""
    return [((i * length) // out, -(-((i + 1) * length) // out)) for i in range(out)]


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """(N, C, L) -> (N, C, output_size)."""

    n = 1
    example = (_AdaptiveAvgPoolNd.example[0], ("N, C, L",))


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """(N, C, H, W) -> (N, C, *output_size)."""

    n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """(N, C, D, H, W) -> (N, C, *output_size)."""

    n = 3
    example = (_AdaptiveAvgPoolNd.example[0], ("N, C, D, H, W",))


class _AdaptiveMaxPoolNd(_WithIndices, _AdaptiveAvgPoolNd):
    def __init__(self, output_size: Any, return_indices: bool = False):
        self._output_size(output_size)
        self._indices_flag(return_indices)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Separable: the maximum over a box is the maximum, axis by axis."""
        n, values = self.n, x
        for i, out in enumerate(self.output_size):
            axis = x.ndim - n + i
            length = x.shape[axis]
            cells = [np.take(values, range(a, b), axis=axis).max(axis=axis)
                     for a, b in adaptive_windows(length, length if out is None else out)]
            values = np.stack(cells, axis=axis)
        return (values, self.indices(x, values.shape)) if self.return_indices else values

    def indices(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The first maximum of each box (torch's scan order), box by box."""
        n, spatial = self.n, x.shape[x.ndim - self.n:]
        windows = [adaptive_windows(length, out) for length, out in zip(spatial, shape[len(shape) - n:])]
        flat = np.zeros(shape, dtype=np.int64)
        for cell in itertools.product(*(range(len(w)) for w in windows)):
            block = x[(Ellipsis, *(slice(*windows[d][c]) for d, c in enumerate(cell)))]
            local = np.unravel_index(block.reshape(*block.shape[:-n], -1).argmax(axis=-1), block.shape[-n:])
            flat[(Ellipsis, *cell)] = np.ravel_multi_index(
                tuple(at + windows[d][c][0] for d, (at, c) in enumerate(zip(local, cell))), spatial)
        return flat


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """(N, C, L) -> (N, C, output_size)."""

    n = 1
    example = (_AdaptiveAvgPoolNd.example[0], ("N, C, L",))


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """(N, C, H, W) -> (N, C, *output_size)."""

    n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """(N, C, D, H, W) -> (N, C, *output_size)."""

    n = 3
    example = (_AdaptiveAvgPoolNd.example[0], ("N, C, D, H, W",))


class MaxPool3d(_MaxPoolNd):
    """(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)."""

    n = 3
    example = (_PoolNd.example[0], ("N, C, D, H, W",))


class AvgPool3d(_AvgPoolNd):
    """(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)."""

    n = 3
    example = (_PoolNd.example[0], ("N, C, D, H, W",))

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Any = None):
        self._avg_setup(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)



class _LPPoolNd(_AvgPoolNd):
    """(sum of x^norm_type over each window)^(1/norm_type), as torch computes it (an average pool times the
    window size, so a ceil_mode edge window is scaled up as in torch)."""

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False):
        if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or norm_type <= 0:
            raise SpecError(f"{type(self).__name__}: norm_type must be a positive number, got {norm_type!r}")
        self.norm_type = float(norm_type)
        self._avg_setup(kernel_size, stride, 0, ceil_mode, True, None)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # a negative base has no real fractional power: NaN, as in torch
            out = super().forward(p, x**self.norm_type) * np.prod(self.kernel_size)
            return (out ** (1.0 / self.norm_type)).astype(x.dtype, copy=False)


class LPPool1d(_LPPoolNd):
    """(N, C, L) -> (N, C, L_out): the norm_type-norm of each window."""

    n = 1
    example = ({"norm_type": 2, "kernel_size": 3, "stride": 2}, ("N, C, L",))


class LPPool2d(_LPPoolNd):
    """(N, C, H, W) -> (N, C, H_out, W_out): the norm_type-norm of each window."""

    n = 2
    example = ({"norm_type": 2, "kernel_size": 3, "stride": 2}, ("N, C, H, W",))


class LPPool3d(_LPPoolNd):
    """(N, C, D, H, W) -> (N, C, D_out, H_out, W_out): the norm_type-norm of each window."""

    n = 3
    example = ({"norm_type": 2, "kernel_size": 2}, ("N, C, D, H, W",))


class _MaxUnpoolNd(Layer):
    """Inputs: MaxPool's values and indices (same shape). Each value goes to its index in a zero output of
    ``(L - 1)*stride - 2*padding + kernel_size`` per spatial dim."""

    n: int = 0
    n_inputs = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        op, n = type(self).__name__, self.n
        self.kernel_size = positive_tuple(kernel_size, n, "kernel_size", op)
        self.stride = positive_tuple(kernel_size if stride is None else stride, n, "stride", op)
        self.padding = nonnegative_tuple(padding, n, "padding", op)

    def infer(self, ctx: RuleContext, x: Shape, indices: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), _layout(n)):
            return None
        if not ctx.rank(indices, (len(x),), "the shape of the values", i=1):
            return None
        for axis, (a, b) in enumerate(zip(x, indices)):
            ctx.equal(a, b, what=f"dim {axis} of the indices", expected_desc=lambda: f"{a}, as on the values",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {b}",
                      fix="Pass the indices MaxPool returned with these values.")
        spatial = []
        for i, (k, s, p) in enumerate(zip(self.kernel_size, self.stride, self.padding)):
            out = (x[len(x) - n + i] - 1) * s - 2 * p + k
            ctx.at_least(out, 1, what=f"the output size on dim {len(x) - n + i}",
                         actual_desc=lambda: f"padding {p} crops more than the kernel and stride add",
                         fix="Use a smaller padding.")
            spatial.append(out)
        return (*x[: len(x) - n], *spatial)

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (dtypes[0],)

    def forward(self, p: dict, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
        n = self.n
        lead = x.shape[: x.ndim - n]
        spatial = [(length - 1) * s - 2 * p_ + k for length, k, s, p_ in
                   zip(x.shape[x.ndim - n:], self.kernel_size, self.stride, self.padding)]
        plane = int(np.prod(spatial))
        flat_idx = indices.reshape(int(np.prod(lead)), -1).astype(np.int64)
        if flat_idx.size and (flat_idx.min() < 0 or flat_idx.max() >= plane):
            bad = flat_idx.min() if flat_idx.min() < 0 else flat_idx.max()
            raise ShapeError(f"{self.op}: index {bad} is out of range for an output plane of {plane} elements "
                             f"({' x '.join(map(str, spatial))})")
        out = np.zeros((flat_idx.shape[0], plane), dtype=x.dtype)
        np.put_along_axis(out, flat_idx, x.reshape(flat_idx.shape), axis=1)
        return out.reshape(*lead, *spatial)


class MaxUnpool1d(_MaxUnpoolNd):
    """(N, C, L), indices (N, C, L) -> (N, C, (L - 1)*stride - 2*padding + kernel_size)."""

    n = 1
    example = ({"kernel_size": 2}, ("N, C, L", "N, C, L"))


class MaxUnpool2d(_MaxUnpoolNd):
    """(N, C, H, W), indices (N, C, H, W) -> (N, C, H_out, W_out), each (L - 1)*stride - 2*padding + kernel."""

    n = 2
    example = ({"kernel_size": 2}, ("N, C, H, W", "N, C, H, W"))


class MaxUnpool3d(_MaxUnpoolNd):
    """(N, C, D, H, W), indices alike -> (N, C, D_out, H_out, W_out), each (L - 1)*stride - 2*padding + kernel."""

    n = 3
    example = ({"kernel_size": 2}, ("N, C, D, H, W", "N, C, D, H, W"))
