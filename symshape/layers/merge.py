"""Layers joining several tensors: Add, Mul (torch broadcasting), Concat (torch.cat) and MatMul."""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from .base import Layer, normalize_dim_index

if TYPE_CHECKING:
    from ..propagate import RuleContext


def broadcast(ctx: RuleContext, shapes: list[Shape], indices: list[int], what: str = "dim") -> Shape:
    """torch broadcasting of ``shapes`` (of inputs ``indices``): sizes equal, or one of them 1.
    A symbolic size meeting a different one is taken to be equal to it (never broadcast)."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(rank):
        size, first = 1, 0
        for k, s in enumerate(padded):
            d = s[axis]
            if d == 1:
                continue
            if size == 1:
                size, first = d, k
                continue
            ctx.equal(size, d, what=f"{what} {axis - rank}",
                      expected_desc=lambda: f"{size} on input {indices[first]} "
                                            f"{dims.format_shape(ctx.shapes[indices[first]])} "
                                            f"from {ctx.sources[indices[first]]}",
                      actual_desc=lambda: f"{ctx.input_desc(indices[k])} has {d}",
                      fix="Broadcasting needs equal sizes or 1; make the branches agree "
                          "(e.g. a 1x1 convolution or a Linear on the shortcut).")
        out.append(size)
    return tuple(out)


class _Broadcast(Layer):
    """Elementwise over two or more inputs with torch broadcasting."""

    n_inputs = None
    example = ({}, ("B, C, H, W", "B, C, 1, 1"))

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape:
        return broadcast(ctx, list(shapes), list(range(len(shapes))))


class Add(_Broadcast):
    """x0 + x1 + ... (torch broadcasting)."""

    fresh_output = True  # forward() returns a new array: a following ReLU may run in place on it
    accepts_into = True  # forward(..., into=one of the inputs) may write the sum there

    def forward(self, p: dict, *xs: np.ndarray, into: np.ndarray | None = None) -> np.ndarray:
        if into is None:
            return reduce(np.add, xs)
        for x in xs:
            if x is not into:
                np.add(into, x, out=into)
        return into


class Mul(_Broadcast):
    """x0 * x1 * ... (torch broadcasting)."""

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return reduce(np.multiply, xs)


class Concat(Layer):
    """torch.cat(inputs, dim): equal shapes except along ``dim``, where sizes add up."""

    n_inputs = None
    example = ({"dim": 1}, ("B, C, H, W", "B, D, H, W"))

    def __init__(self, dim: int = 0):
        if type(dim) is not int:
            raise SpecError(f"Concat: dim must be an int, got {dim!r}")
        self.dim = dim

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        rank = len(shapes[0])
        for i, s in enumerate(shapes[1:], 1):
            if len(s) != rank:
                ctx.conflict(f"rank of input {i}", f"{rank} (as input 0 {dims.format_shape(shapes[0])})",
                             f"{ctx.input_desc(i)} has rank {len(s)}", "Concatenated tensors need the same rank.")
                return None
        axis = normalize_dim_index(self.dim, rank)
        if axis is None:
            ctx.conflict("dim", str(self.dim), f"the inputs have rank {rank}",
                         f"Use a dim between {-rank} and {rank - 1}.")
            return None
        for i, s in enumerate(shapes[1:], 1):
            for a in range(rank):
                if a != axis:
                    ctx.equal(shapes[0][a], s[a], what=f"dim {a}",
                              expected_desc=lambda: f"{shapes[0][a]} on input 0 {dims.format_shape(shapes[0])} "
                                            f"from {ctx.sources[0]}",
                              actual_desc=lambda: f"{ctx.input_desc(i)} has {s[a]}",
                              fix=lambda: f"Only dim {self.dim} may differ between concatenated tensors.")
        out = list(shapes[0])
        out[axis] = dims.total(s[axis] for s in shapes)
        return tuple(out)

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return np.concatenate(xs, axis=self.dim)


class MatMul(Layer):
    """torch.matmul: (..., n, k) @ (..., k, m) -> (..., n, m), batch dims broadcast; 1-d operands as torch."""

    n_inputs = 2
    example = ({}, ("B, L, D", "B, D, S"))

    def infer(self, ctx: RuleContext, a: Shape, b: Shape) -> Shape | None:
        if len(a) == 0 or len(b) == 0:
            ctx.conflict("input rank", "at least 1 for both operands", f"the inputs have ranks {len(a)} and {len(b)}")
            return None
        ka, kb = a[-1], (b[0] if len(b) == 1 else b[-2])
        ctx.equal(ka, kb, what="the contracted dim",
                  expected_desc=lambda: f"{ka} on input 0 {dims.format_shape(a)} from {ctx.sources[0]}",
                  actual_desc=lambda: f"{ctx.input_desc(1)} has {kb}",
                  fix="The last dim of the first operand must equal the second-to-last dim of the second.")
        if len(a) == 1 and len(b) == 1:
            return ()
        if len(b) == 1:
            return tuple(a[:-1])
        if len(a) == 1:
            return (*b[:-2], b[-1])
        batch = broadcast(ctx, [a[:-2], b[:-2]], [0, 1], "batch dim") if len(a) > 2 or len(b) > 2 else ()
        return (*batch, a[-2], b[-1])

    def forward(self, p: dict, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.matmul(a, b)
