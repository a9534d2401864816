"""Layers joining several tensors: Add, Mul (torch broadcasting) and Concat (torch.cat)."""

from __future__ import annotations

from functools import reduce

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from .base import Layer, RuleContext, normalize_dim_index


class _Broadcast(Layer):
    """Elementwise over two or more inputs with torch broadcasting: sizes equal, or one of them 1.
    A symbolic size meeting a different one is taken to be equal to it (never broadcast)."""

    n_inputs = None

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape:
        rank = max(len(s) for s in shapes)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
        out = []
        for axis in range(rank):
            size, first = 1, 0
            for i, s in enumerate(padded):
                d = s[axis]
                if d == 1:
                    continue
                if size == 1:
                    size, first = d, i
                    continue
                ctx.equal(size, d, what=f"dim {axis - rank}",
                          expected_desc=f"{size} on input {first} {dims.format_shape(shapes[first])} "
                                        f"from {ctx.sources[first]}",
                          actual_desc=f"{ctx.input_desc(i)} has {d}",
                          fix="Broadcasting needs equal sizes or 1; make the branches agree "
                              "(e.g. a 1x1 convolution or a Linear on the shortcut).")
            out.append(size)
        return tuple(out)


class Add(_Broadcast):
    """x0 + x1 + ... (torch broadcasting)."""

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return reduce(np.add, xs)


class Mul(_Broadcast):
    """x0 * x1 * ... (torch broadcasting)."""

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return reduce(np.multiply, xs)


class Concat(Layer):
    """torch.cat(inputs, dim): equal shapes except along ``dim``, where sizes add up."""

    n_inputs = None

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
                              expected_desc=f"{shapes[0][a]} on input 0 {dims.format_shape(shapes[0])} "
                                            f"from {ctx.sources[0]}",
                              actual_desc=f"{ctx.input_desc(i)} has {s[a]}",
                              fix=f"Only dim {self.dim} may differ between concatenated tensors.")
        out = list(shapes[0])
        out[axis] = dims.total(s[axis] for s in shapes)
        return tuple(out)

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        return np.concatenate(xs, axis=self.dim)
