"""Sliding blocks: Unfold (im2col) and Fold (col2im, overlapping values summed).

Blocks per spatial dim: ``floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``;
L is their product. Only 2-d spatial inputs, as in torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import dims
from ..dims import Dim, Shape
from .base import Layer, nonnegative_tuple, positive_tuple
from .conv import pad_constant

if TYPE_CHECKING:
    from ..propagate import RuleContext


class _Blocks(Layer):
    def _setup(self, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> None:
        op = type(self).__name__
        self.kernel_size = positive_tuple(kernel_size, 2, "kernel_size", op)
        self.dilation = positive_tuple(dilation, 2, "dilation", op)
        self.padding = nonnegative_tuple(padding, 2, "padding", op)
        self.stride = positive_tuple(stride, 2, "stride", op)

    def blocks(self, ctx: RuleContext, spatial: tuple[Dim, ...], what: str) -> list[Dim]:
        """The number of blocks along each spatial dim (each must be at least 1)."""
        counts = []
        for i, (size, k, d, p, s) in enumerate(zip(spatial, self.kernel_size, self.dilation, self.padding,
                                                   self.stride)):
            count = dims.conv_out(size, k, s, 2 * p, d)
            ctx.at_least(count, 1, what=f"the number of blocks along spatial dim {i}",
                         actual_desc=lambda: f"a block spans {d * (k - 1) + 1} and {what} is {size} "
                                     f"+ padding {2 * p}",
                         fix="Use a smaller kernel_size or dilation, or more padding.")
            counts.append(count)
        return counts

    def pads(self) -> list[tuple[int, int]]:
        return [(p, p) for p in self.padding]


class Unfold(_Blocks):
    """(N, C, H, W) or (C, H, W) -> (N, C*kH*kW, L) or (C*kH*kW, L), L the number of blocks."""

    example = ({"kernel_size": 3, "padding": 1}, ("N, C, H, W",))

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        self._setup(kernel_size, dilation, padding, stride)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, (3, 4), "(N, C, H, W) or (C, H, W)"):
            return None
        counts = self.blocks(ctx, tuple(x[-2:]), "the input size")
        return (*x[:-3], x[-3] * math.prod(self.kernel_size), dims.prod(counts))

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        unbatched = x.ndim == 3
        x = x[None] if unbatched else x
        x = pad_constant(x, self.pads())
        reach = [d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size)]
        w = sliding_window_view(x, reach, axis=(2, 3))[:, :, ::self.stride[0], ::self.stride[1],
                                                        ::self.dilation[0], ::self.dilation[1]]
        n, c = x.shape[:2]
        y = w.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * math.prod(self.kernel_size), -1)
        y = np.ascontiguousarray(y)
        return y[0] if unbatched else y


class Fold(_Blocks):
    """(N, C*kH*kW, L) or (C*kH*kW, L) -> (N, C, *output_size); L must be the number of blocks."""

    example = ({"output_size": [8, 8], "kernel_size": 2, "stride": 2}, ("N, 4*C, 16",))

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        self.output_size = positive_tuple(output_size, 2, "output_size", "Fold")
        self._setup(kernel_size, dilation, padding, stride)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, (2, 3), "(N, C*kH*kW, L) or (C*kH*kW, L)"):
            return None
        area = math.prod(self.kernel_size)
        ctx.divisible(x[-2], area, what="the channels (dim -2)",
                      actual_desc=lambda: f"they hold C blocks of kernel_size {self.kernel_size}, {area} values each",
                      fix=f"Use a multiple of {area} channels.")
        counts = self.blocks(ctx, self.output_size, "output_size")
        expected = dims.prod(counts)
        ctx.equal(expected, x[-1], what="the number of blocks L (dim -1)",
                  actual_desc=lambda: f"{ctx.input_desc()} has {x[-1]}",
                  expected_desc=lambda: f"{expected} ({' x '.join(map(str, counts))} for output_size "
                                        f"{self.output_size})",
                  fix=f"Use L = {expected}, or the output_size the blocks came from.")
        return (*x[:-2], dims.floordiv(x[-2], area), *self.output_size)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        unbatched = x.ndim == 2
        x = x[None] if unbatched else x
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.stride
        (ph, pw), (oh, ow) = self.padding, self.output_size
        bh = (oh + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        bw = (ow + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        n, c = x.shape[0], x.shape[1] // (kh * kw)
        cols = x.reshape(n, c, kh, kw, bh, bw)
        out = np.zeros((n, c, oh + 2 * ph, ow + 2 * pw), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (bh - 1) + 1, sh)
                out[:, :, rows, j * dw:j * dw + sw * (bw - 1) + 1:sw] += cols[:, :, i, j]
        y = out[:, :, ph:ph + oh, pw:pw + ow]
        y = np.ascontiguousarray(y)
        return y[0] if unbatched else y
