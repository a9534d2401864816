"""Rearranging channels and pixels: PixelShuffle, PixelUnshuffle, ChannelShuffle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext

_AT_LEAST_3 = tuple(range(3, 64))


def _factor(op: str, name: str, value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise SpecError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


class PixelShuffle(Layer):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r), r = upscale_factor."""

    example = ({"upscale_factor": 2}, ("N, 4*C, H, W",))

    def __init__(self, upscale_factor: int):
        self.upscale_factor = _factor("PixelShuffle", "upscale_factor", upscale_factor)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, _AT_LEAST_3, "(*, C*r^2, H, W)"):
            return None
        r = self.upscale_factor
        c, h, w = x[-3:]
        ctx.divisible(c, r * r, what="the channels (dim -3)",
                      actual_desc=lambda: f"{ctx.input_desc()} must have a multiple of upscale_factor^2 = {r * r}",
                      fix=f"Use {r * r}*C input channels.")
        return (*x[:-3], dims.floordiv(c, r * r), h * r, w * r)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        r = self.upscale_factor
        *batch, c, h, w = x.shape
        y = x.reshape(*batch, c // (r * r), r, r, h, w)
        k = len(batch)
        y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
        return np.ascontiguousarray(y.reshape(*batch, c // (r * r), h * r, w * r))


class PixelUnshuffle(Layer):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), r = downscale_factor."""

    example = ({"downscale_factor": 2}, ("N, C, 2*H, 2*W",))

    def __init__(self, downscale_factor: int):
        self.downscale_factor = _factor("PixelUnshuffle", "downscale_factor", downscale_factor)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, _AT_LEAST_3, "(*, C, H*r, W*r)"):
            return None
        r = self.downscale_factor
        c, h, w = x[-3:]
        for axis, size in ((-2, h), (-1, w)):
            ctx.divisible(size, r, what=f"the size of dim {axis}",
                          actual_desc=lambda: f"{ctx.input_desc()} must be a multiple of downscale_factor {r} there",
                          fix="Crop or pad the input to a multiple of downscale_factor.")
        return (*x[:-3], c * r * r, dims.floordiv(h, r), dims.floordiv(w, r))

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        r = self.downscale_factor
        *batch, c, h, w = x.shape
        y = x.reshape(*batch, c, h // r, r, w // r, r)
        k = len(batch)
        y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
        return np.ascontiguousarray(y.reshape(*batch, c * r * r, h // r, w // r))


class ChannelShuffle(Layer):
    """(N, C, *) -> (N, C, *): the channels, in ``groups`` groups, interleaved; C must divide by groups."""

    example = ({"groups": 4}, ("N, C, H, W",))

    def __init__(self, groups: int):
        self.groups = _factor("ChannelShuffle", "groups", groups)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, _AT_LEAST_3, "(N, C, *)"):
            return None
        ctx.divisible(x[1], self.groups, what="the channels (dim 1)",
                      actual_desc=lambda: f"groups is {self.groups}",
                      fix="Use a number of channels divisible by groups.")
        return x

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        n, c, *rest = x.shape
        y = x.reshape(n, self.groups, c // self.groups, *rest).swapaxes(1, 2)
        return np.ascontiguousarray(y.reshape(x.shape))
