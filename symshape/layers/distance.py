"""Distances between two broadcast inputs: CosineSimilarity (along ``dim``), PairwiseDistance (last dim)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..dims import Shape
from ..errors import SpecError
from .base import Layer, normalize_dim_index
from .merge import broadcast

if TYPE_CHECKING:
    from ..propagate import RuleContext


def _positive(op: str, name: str, value: object, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise SpecError(f"{op}: {name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return float(value)


class CosineSimilarity(Layer):
    """x1, x2 broadcast to (*, D, *) -> (*, *): the cosine of their angle along ``dim``."""

    n_inputs = 2
    example = ({"dim": 1}, ("N, D", "N, D"))

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        if type(dim) is not int:
            raise SpecError(f"CosineSimilarity: dim must be an int, got {dim!r}")
        self.dim = dim
        self.eps = _positive("CosineSimilarity", "eps", eps)

    def infer(self, ctx: RuleContext, x1: Shape, x2: Shape) -> Shape | None:
        shape = broadcast(ctx, [x1, x2], [0, 1])
        axis = normalize_dim_index(self.dim, max(len(shape), 1))
        if axis is None:
            ctx.conflict("dim", f"{self.dim}", f"the broadcast inputs have rank {len(shape)}",
                         f"Use a dim between {-len(shape)} and {len(shape) - 1}.")
            return None
        return shape[:axis] + shape[axis + 1:]

    def forward(self, p: dict, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        x1, x2 = np.broadcast_arrays(x1, x2)
        axis = self.dim if x1.ndim else None
        eps = np.asarray(self.eps, dtype=x1.dtype)
        n1 = np.maximum(np.linalg.norm(x1, axis=axis, keepdims=True), eps)
        n2 = np.maximum(np.linalg.norm(x2, axis=axis, keepdims=True), eps)
        return ((x1 / n1) * (x2 / n2)).sum(axis=axis).astype(x1.dtype, copy=False)


class PairwiseDistance(Layer):
    """x1, x2 broadcast to (*, D) -> (*) (keepdim: (*, 1)): the p-norm of x1 - x2 + eps over D."""

    n_inputs = 2
    example = ({}, ("N, D", "N, D"))

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        self.p = _positive("PairwiseDistance", "p", p)
        self.eps = _positive("PairwiseDistance", "eps", eps)
        self.keepdim = self._flag("keepdim", keepdim)

    def infer(self, ctx: RuleContext, x1: Shape, x2: Shape) -> Shape | None:
        shape = broadcast(ctx, [x1, x2], [0, 1])
        if not shape:
            ctx.conflict("input rank", "at least 1 (*, D)", "both inputs are scalars")
            return None
        return (*shape[:-1], 1) if self.keepdim else shape[:-1]

    def forward(self, p: dict, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        d = np.abs(x1 - x2 + np.asarray(self.eps, dtype=np.result_type(x1, x2)))
        if self.p == 0:
            out = (d != 0).sum(axis=-1, keepdims=self.keepdim).astype(d.dtype)
        elif self.p == np.inf:
            out = d.max(axis=-1, keepdims=self.keepdim)
        else:
            out = (d.astype(np.float64) ** self.p).sum(axis=-1, keepdims=self.keepdim) ** (1 / self.p)
        return np.asarray(out).astype(d.dtype, copy=False)
