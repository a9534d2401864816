"""Layers that only move elements around: Flatten, Unflatten, Reshape, Permute, Transpose,
Split, Chunk (several outputs), and the reductions Mean and Sum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from .base import Layer, normalize_dim_index

if TYPE_CHECKING:
    from ..propagate import RuleContext


def _int(op: str, name: str, value: Any) -> int:
    if type(value) is not int:
        raise SpecError(f"{op}: {name} must be an int, got {value!r}")
    return value


def _axis(ctx: RuleContext, dim: int, rank: int, what: str = "dim") -> int | None:
    axis = normalize_dim_index(dim, max(rank, 1))
    if axis is None:
        ctx.conflict(what, str(dim), f"{ctx.input_desc()} has rank {rank}",
                     f"Use a {what} between {-max(rank, 1)} and {max(rank, 1) - 1}.")
    return axis


def _sizes(op: str, name: str, value: Any) -> tuple[Dim, ...]:
    """Target sizes: ints (one -1 allowed), size names or expressions."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise SpecError(f"{op}: {name} must be a list of sizes, got {value!r}")
    out = []
    for v in value:
        try:
            d = dims.parse_dim(v)
        except (dims.DimSyntaxError, TypeError) as exc:
            raise SpecError(f"{op}: {name} entry {v!r} is not a size: {exc}") from None
        if type(d) is int and d < -1 or d == 0:
            raise SpecError(f"{op}: {name} entries are positive sizes or -1, got {v!r}")
        out.append(d)
    if out.count(-1) > 1:
        raise SpecError(f"{op}: only one entry of {name} may be -1, got {value!r}")
    return tuple(out)


def _fill(ctx: RuleContext, total: Dim, target: tuple[Dim, ...], what: str) -> tuple[Dim, ...] | None:
    """``target`` with its -1 resolved so that the element count stays ``total``."""
    sizes = [ctx.show(d) for d in target]
    if -1 not in target:
        ctx.equal(dims.prod(target), total, what=what,
                  actual_desc=lambda: f"{ctx.input_desc()} has {ctx.show(total)} elements there",
                  fix=lambda: f"The sizes ({', '.join(sizes)}) must multiply to the element count.")
        return target
    known = dims.prod(d for d in target if d != -1)
    quotient = dims.exact_quotient(total, known)
    if quotient is None:
        if type(total) is int and type(known) is int:
            ctx.conflict(what, f"a multiple of {known} ({', '.join(sizes)})",
                         f"{ctx.input_desc()} has {total} elements there", "Change the sizes so that they divide it.")
            return None
        ctx.divisible(total, known, what=what, actual_desc=lambda: f"{ctx.input_desc()} has {total} elements there")
        quotient = dims.floordiv(total, known)
    return tuple(quotient if d == -1 else d for d in target)


class Flatten(Layer):
    """Merges dims start_dim..end_dim into one: (B, C, H, W) -> (B, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = _int("Flatten", "start_dim", start_dim), _int("Flatten", "end_dim", end_dim)

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


class Unflatten(Layer):
    """Splits dim ``dim`` into ``unflattened_size`` (one -1 allowed; the product must match)."""

    example = ({"dim": 1, "unflattened_size": [4, -1]}, ("B, D",))

    needs_shapes = True

    def __init__(self, dim: int, unflattened_size: Any):
        self.dim = _int("Unflatten", "dim", dim)
        self.unflattened_size = _sizes("Unflatten", "unflattened_size", unflattened_size)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = _axis(ctx, self.dim, len(x))
        if axis is None:
            return None
        target = tuple(dims.substitute(d, ctx.solver.values) for d in self.unflattened_size)
        sizes = _fill(ctx, x[axis], target, f"unflattened_size (dim {axis})")
        return None if sizes is None else (*x[:axis], *sizes, *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        return x.reshape(tuple(out_shapes[0]))


class Reshape(Layer):
    """torch.reshape: the whole shape, batch included, one -1 allowed; element counts must match."""

    example = ({"shape": ["B", -1, 64]}, ("B, T, D",))

    needs_shapes = True

    def __init__(self, shape: Any):
        self.shape = _sizes("Reshape", "shape", shape)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        target = tuple(dims.substitute(d, ctx.solver.values) for d in self.shape)
        return _fill(ctx, dims.prod(x), target, "shape")

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        return x.reshape(tuple(out_shapes[0]))


class Permute(Layer):
    """torch.permute: output dim i is input dim dims[i]."""

    example = ({"dims": [0, 2, 1]}, ("B, T, D",))

    def __init__(self, dims: Any):
        if not isinstance(dims, (list, tuple)) or not all(type(d) is int for d in dims):
            raise SpecError(f"Permute: dims must be a list of ints, got {dims!r}")
        self.dims = tuple(dims)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axes = [normalize_dim_index(d, max(len(x), 1)) for d in self.dims]
        if len(self.dims) != len(x) or None in axes or sorted(axes) != list(range(len(x))):
            ctx.conflict("dims", f"{list(self.dims)}, not a permutation of the input's {len(x)} dims",
                         f"{ctx.input_desc()} has rank {len(x)}", f"Give each of 0..{len(x) - 1} once.")
            return None
        return tuple(x[a] for a in axes)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.transpose(x, self.dims)


class Transpose(Layer):
    """torch.transpose: swaps dims dim0 and dim1."""

    example = ({"dim0": 1, "dim1": 2}, ("B, T, D",))

    def __init__(self, dim0: int, dim1: int):
        self.dim0, self.dim1 = _int("Transpose", "dim0", dim0), _int("Transpose", "dim1", dim1)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        a, b = _axis(ctx, self.dim0, len(x), "dim0"), _axis(ctx, self.dim1, len(x), "dim1")
        if a is None or b is None:
            return None
        out = list(x)
        out[a], out[b] = out[b], out[a]
        return tuple(out)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.swapaxes(x, self.dim0, self.dim1)


class _Reduce(Layer):
    example = ({"dim": 1}, ("B, T, D",))

    def __init__(self, dim: Any = None, keepdim: bool = False):
        items = (dim,) if type(dim) is int else dim
        if items is not None and (not isinstance(items, (list, tuple)) or not all(type(d) is int for d in items)):
            raise SpecError(f"{type(self).__name__}: dim must be an int, a list of ints or None, got {dim!r}")
        self.dim = None if items is None else tuple(items)
        self.keepdim = self._flag("keepdim", keepdim)

    def axes(self, rank: int) -> tuple[int, ...] | None:
        if self.dim is None:
            return tuple(range(rank))
        axes = [normalize_dim_index(d, max(rank, 1)) for d in self.dim]
        return None if None in axes or len(set(axes)) != len(axes) else tuple(axes)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axes = self.axes(len(x))
        if axes is None:
            ctx.conflict("dim", str(list(self.dim)), f"{ctx.input_desc()} has rank {len(x)}",
                         "Use distinct dims within the input's rank.")
            return None
        if self.keepdim:
            return tuple(1 if i in axes else d for i, d in enumerate(x))
        return tuple(d for i, d in enumerate(x) if i not in axes)


class Mean(_Reduce):
    """torch.mean over ``dim`` (all dims when None)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.mean(axis=self.axes(x.ndim), keepdims=self.keepdim), dtype=x.dtype)


class Sum(_Reduce):
    """torch.sum over ``dim`` (all dims when None)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.sum(axis=self.axes(x.ndim), keepdims=self.keepdim), dtype=x.dtype)


class Split(Layer):
    """torch.split with a list of sections: one output per section, which must add up to the dim."""

    example = ({"split_size_or_sections": [16, 48], "dim": -1}, ("B, D",))

    def __init__(self, split_size_or_sections: Any, dim: int = 0):
        if not isinstance(split_size_or_sections, (list, tuple)):
            raise SpecError("Split: give the sections as a list (e.g. [64, 64, 128]); an int split size gives "
                            "a number of outputs that depends on the input (use Chunk for equal parts)")
        self.split_size_or_sections = _sizes("Split", "split_size_or_sections", split_size_or_sections)
        if -1 in self.split_size_or_sections:
            raise SpecError("Split: sections are positive sizes (no -1)")
        self.dim = _int("Split", "dim", dim)
        self.n_outputs = len(self.split_size_or_sections)

    def infer(self, ctx: RuleContext, x: Shape) -> tuple[Shape, ...] | None:
        axis = _axis(ctx, self.dim, len(x))
        if axis is None:
            return None
        sections = tuple(dims.substitute(d, ctx.solver.values) for d in self.split_size_or_sections)
        ctx.equal(dims.total(sections), x[axis], what="the sum of the sections",
                  actual_desc=lambda: f"{ctx.input_desc()} has {x[axis]} on dim {axis}",
                  fix="The sections must add up to the size of the split dim.")
        return tuple((*x[:axis], s, *x[axis + 1:]) for s in sections)

    def forward(self, p: dict, x: np.ndarray) -> tuple[np.ndarray, ...]:
        bounds = np.cumsum([int(s) for s in self.split_size_or_sections])[:-1]
        return tuple(np.split(x, bounds, axis=self.dim))


class Chunk(Layer):
    """torch.chunk: ``chunks`` pieces of ceil(L / chunks) (the last one smaller); every piece must exist."""

    example = ({"chunks": 3, "dim": -1}, ("B, D",))

    def __init__(self, chunks: int, dim: int = 0):
        if type(chunks) is not int or chunks <= 0:
            raise SpecError(f"Chunk: chunks must be a positive int, got {chunks!r}")
        self.chunks, self.dim = chunks, _int("Chunk", "dim", dim)
        self.n_outputs = chunks

    def infer(self, ctx: RuleContext, x: Shape) -> tuple[Shape, ...] | None:
        axis = _axis(ctx, self.dim, len(x))
        if axis is None:
            return None
        piece = dims.ceildiv(x[axis], self.chunks)
        last = x[axis] - (self.chunks - 1) * piece
        ctx.at_least(last, 1, what=f"the size of chunk {self.chunks - 1}",
                     actual_desc=lambda: f"{ctx.input_desc()} has {x[axis]} on dim {axis}, which torch.chunk cuts into "
                                 f"pieces of {piece}", fix="Use a size that gives every chunk at least one element.")
        sizes = [piece] * (self.chunks - 1) + [last]
        return tuple((*x[:axis], s, *x[axis + 1:]) for s in sizes)

    def forward(self, p: dict, x: np.ndarray) -> tuple[np.ndarray, ...]:
        piece = -(-x.shape[self.dim] // self.chunks)
        return tuple(np.split(x, [piece * i for i in range(1, self.chunks)], axis=self.dim))
