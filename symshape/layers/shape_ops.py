"""Layers that only move elements around: Flatten."""

from __future__ import annotations

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from .base import Layer, RuleContext, normalize_dim_index


class Flatten(Layer):
    """Merges dims start_dim..end_dim into one: (B, C, H, W) -> (B, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        if type(start_dim) is not int or type(end_dim) is not int:
            raise SpecError(f"Flatten: start_dim and end_dim must be ints, got {start_dim!r}, {end_dim!r}")
        self.start_dim, self.end_dim = start_dim, end_dim

    def span(self, rank: int) -> tuple[int, int] | None:
        r = max(rank, 1)
        start, end = normalize_dim_index(self.start_dim, r), normalize_dim_index(self.end_dim, r)
        return None if start is None or end is None else (start, end)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        span = self.span(len(x))
        if span is None:
            ctx.conflict("start_dim/end_dim", f"{self.start_dim}..{self.end_dim}",
                         f"{ctx.input_desc()} has rank {len(x)}",
                         f"Use dims between {-len(x)} and {len(x) - 1}.")
            return None
        start, end = span
        if len(x) == 0:
            return (1,)
        if start > end:
            ctx.conflict("start_dim", f"{self.start_dim} (axis {start})",
                         f"end_dim {self.end_dim} is axis {end}, before it", "start_dim must not come after end_dim.")
            return None
        return (*x[:start], dims.prod(x[start:end + 1]), *x[end + 1:])

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if x.ndim == 0:
            return x.reshape(1)
        start, end = self.span(x.ndim)
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
