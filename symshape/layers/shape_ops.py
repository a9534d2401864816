"""Layers that move, copy or reduce elements: AssertSize, Flatten, Unflatten, Reshape/View, Permute, Transpose,
Expand, Repeat, RepeatInterleave, Squeeze, Unsqueeze, Roll, Flip, Pad, OneHot, Stack, Cumsum,
Split and Chunk (several outputs), and the reductions (Mean, Sum, Prod, Amax/Amin, Max/Min with
their indices, Argmax/Argmin, Var/Std). Names, arguments and dtypes are torch's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..constraints import Constraint, joined
from ..dims import Dim, Shape
from ..dtypes import TABLE, promote
from ..errors import ShapeError, SpecError
from .base import Layer, normalize_dim_index

if TYPE_CHECKING:
    from ..propagate import RuleContext


def int_arg(op: str, name: str, value: Any) -> int:
    if type(value) is not int:
        raise SpecError(f"{op}: {name} must be an int, got {value!r}")
    return value


def axis_arg(ctx: RuleContext, dim: int, rank: int, what: str = "dim") -> int | None:
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
    def sizes() -> str:  # for the messages only: printing symbolic sizes is slow
        return ", ".join(ctx.show(d) for d in target)

    if -1 not in target:
        ctx.equal(dims.prod(target), total, what=what,
                  actual_desc=lambda: f"{ctx.input_desc()} has {ctx.show(total)} elements there",
                  fix=lambda: f"The sizes ({sizes()}) must multiply to the element count.")
        return target
    known = dims.prod(d for d in target if d != -1)
    quotient = dims.exact_quotient(total, known)
    if quotient is None:
        if type(total) is int and type(known) is int:
            ctx.conflict(what, f"a multiple of {known} ({sizes()})",
                         f"{ctx.input_desc()} has {total} elements there", "Change the sizes so that they divide it.")
            return None
        ctx.divisible(total, known, what=what, actual_desc=lambda: f"{ctx.input_desc()} has {total} elements there")
        quotient = dims.floordiv(total, known)
    return tuple(quotient if d == -1 else d for d in target)


class AssertSize(Layer):
    """``torch._assert(x.shape[dim] == size)``: passes ``x`` through and requires one dim to be ``size``.
    An importer writes it where torch fixes a size the input declared symbolic (torchvision's ViT asserts
    ``H == image_size``), so the size keeps its name and the fixed value is a condition on it."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("size",)
    example = ({"dim": 1, "size": 16}, ("B, D",))

    def __init__(self, dim: int, size: Any, reason: str = ""):
        self.dim = int_arg("AssertSize", "dim", dim)
        self.size = self._size("size", size)
        if not isinstance(reason, str):
            raise SpecError(f"AssertSize: reason must be a string, got {reason!r}")
        self.reason = reason

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = axis_arg(ctx, self.dim, len(x))
        if axis is None:
            return None
        size = ctx.match("size", x[axis], what=f"dim {self.dim}",
                         fix=lambda: f"The model needs size {ctx.show(ctx.args.size)} there"
                         + (f" ({self.reason})." if self.reason else "."))
        return (*x[:axis], size, *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return x


GUARD_RELATIONS = (">=", ">", "<=", "<", "==", "!=")


class Guard(Layer):
    """A branch of the model's Python code on the sizes (``if window_size >= pad_H:``): passes ``x`` through
    and requires ``lhs relation rhs``. An importer writes it where the traced code took a branch that depends
    on the input sizes, so the imported graph states the sizes it holds for; elsewhere torch runs other code."""

    passes_values = True
    size_args = ("lhs", "rhs")
    example = ({"lhs": "floor(H/4)", "relation": ">", "rhs": 7, "reason": "the window is shifted"}, ("B, H",))

    def __init__(self, lhs: Any, relation: str, rhs: Any, reason: str = ""):
        if relation not in GUARD_RELATIONS:
            raise SpecError(f"Guard: relation must be one of {', '.join(GUARD_RELATIONS)}, got {relation!r}",
                            key="relation")
        if not isinstance(reason, str):
            raise SpecError(f"Guard: reason must be a string, got {reason!r}", key="reason")
        self.lhs, self.rhs = (self._expression(k, v) for k, v in (("lhs", lhs), ("rhs", rhs)))
        self.relation, self.reason = relation, reason

    def _expression(self, name: str, value: Any) -> Dim:
        try:
            return dims.parse_dim(value)
        except (dims.DimSyntaxError, TypeError) as exc:
            raise SpecError(f"Guard: {name}={value!r} is not a size expression: {exc}", key=name) from None

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        lhs, rhs, relation = ctx.args.lhs, ctx.args.rhs, self.relation
        what = self.reason or "a branch on the sizes"
        fix = ("torch runs other code at these sizes: import the model again with example sizes at which it "
               "holds (from_torch(..., sizes=...)).")
        gap = dims.difference(lhs, rhs)
        if type(gap) is int:
            holds = {">=": gap >= 0, ">": gap > 0, "<=": gap <= 0, "<": gap < 0, "==": gap == 0, "!=": gap != 0}
            if not holds[relation]:
                ctx.conflict(what, f"traced where {dims.python(self.lhs)} {relation} {dims.python(self.rhs)}",
                             f"here it reads {lhs} {relation} {rhs}", fix)
            return x
        if relation == "==":
            ctx.equal(rhs, lhs, what=what, actual_desc=f"the traced branch needs {ctx.show(lhs)} == {ctx.show(rhs)}",
                      fix=fix)
            return x

        def part(a: Dim, rel: str, b: Dim) -> Constraint:
            return Constraint(ctx.node, self.op, what, a, rel, b)
        strict = {">": (">=", 1), "<": ("<=", -1)}
        if relation in strict:
            rel, step = strict[relation]
            ctx.solver.constraints.append(part(lhs, rel, dims.total([rhs, step])))
        elif relation == "!=":
            options = [part(lhs, "<=", dims.total([rhs, -1])), part(lhs, ">=", dims.total([rhs, 1]))]
            ctx.solver.constraints.append(joined("or", options, options[0]))
        else:
            ctx.solver.constraints.append(part(lhs, relation, rhs))
        return x

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return x


class Flatten(Layer):
    """Merges dims start_dim..end_dim into one: (B, C, H, W) -> (B, C*H*W) by default."""

    passes_values = True  # the ids of an Embedding keep their range

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim = int_arg("Flatten", "start_dim", start_dim)
        self.end_dim = int_arg("Flatten", "end_dim", end_dim)

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

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("unflattened_size",)  # sizes named here can be bound
    example = ({"dim": 1, "unflattened_size": [4, -1]}, ("B, D",))

    needs_shapes = True

    def __init__(self, dim: int, unflattened_size: Any):
        self.dim = int_arg("Unflatten", "dim", dim)
        self.unflattened_size = _sizes("Unflatten", "unflattened_size", unflattened_size)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = axis_arg(ctx, self.dim, len(x))
        if axis is None:
            return None
        target = tuple(dims.substitute(d, ctx.solver.values) for d in self.unflattened_size)
        sizes = _fill(ctx, x[axis], target, f"unflattened_size (dim {axis})")
        return None if sizes is None else (*x[:axis], *sizes, *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        return x.reshape(tuple(out_shapes[0]))


class Reshape(Layer):
    """torch.reshape: the whole shape, batch included, one -1 allowed; element counts must match."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("shape",)  # sizes named here can be bound
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

    passes_values = True  # the ids of an Embedding keep their range

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

    passes_values = True  # the ids of an Embedding keep their range

    example = ({"dim0": 1, "dim1": 2}, ("B, T, D",))

    def __init__(self, dim0: int, dim1: int):
        self.dim0, self.dim1 = int_arg("Transpose", "dim0", dim0), int_arg("Transpose", "dim1", dim1)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        a, b = axis_arg(ctx, self.dim0, len(x), "dim0"), axis_arg(ctx, self.dim1, len(x), "dim1")
        if a is None or b is None:
            return None
        out = list(x)
        out[a], out[b] = out[b], out[a]
        return tuple(out)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.swapaxes(x, self.dim0, self.dim1)


def _integral_to_int64(dtype: str) -> str:
    """torch's sum, prod and cumsum of an integer or bool tensor are int64."""
    return "int64" if TABLE[dtype].kind in ("int", "bool") else dtype


class _Reduce(Layer):
    """Reductions over ``dim``: an int, a list of ints, or None (and, as in torch, ``[]``) for all dims."""

    example = ({"dim": 1}, ("B, T, D",))

    def __init__(self, dim: Any = None, keepdim: bool = False):
        items = (dim,) if type(dim) is int else dim
        if items is not None and (not isinstance(items, (list, tuple)) or not all(type(d) is int for d in items)):
            raise SpecError(f"{type(self).__name__}: dim must be an int, a list of ints or None, got {dim!r}")
        self.dim = None if items is None else tuple(items)
        self.keepdim = self._flag("keepdim", keepdim)

    def axes(self, rank: int) -> tuple[int, ...] | None:
        if not self.dim:
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

    def reduce(self, fn: Any, x: np.ndarray, dtype: Any = None, **kwargs: Any) -> np.ndarray:
        out = fn(x, axis=self.axes(x.ndim), keepdims=self.keepdim, **kwargs)
        return np.asarray(out, dtype=dtype or x.dtype)


class Mean(_Reduce):
    """torch.mean over ``dim`` (all dims when None)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.mean, x)


class Sum(_Reduce):
    """torch.sum over ``dim`` (all dims when None); integer and bool inputs sum to int64."""

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (_integral_to_int64(dtypes[0]),)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.sum, x, _integral_to_int64(x.dtype.name))


class Amax(_Reduce):
    """torch.amax over ``dim`` (all dims by default)."""

    def __init__(self, dim: Any = (), keepdim: bool = False):
        super().__init__(dim, keepdim)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.amax, x)


class Amin(Amax):
    """torch.amin over ``dim`` (all dims by default)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.amin, x)


class Var(_Reduce):
    """torch.var over ``dim`` (all dims when None), dividing by N - correction (Bessel's by default)."""

    def __init__(self, dim: Any = None, correction: int = 1, keepdim: bool = False):
        super().__init__(dim, keepdim)
        if type(correction) is not int or correction < 0:
            raise SpecError(f"{type(self).__name__}: correction must be a non-negative int, got {correction!r}")
        self.correction = correction

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # N <= correction: inf or nan, as torch
            return self.reduce(np.var, x, ddof=self.correction)


class Std(Var):
    """torch.std over ``dim`` (all dims when None), dividing by N - correction (Bessel's by default)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.reduce(np.std, x, ddof=self.correction)


class _ReduceOne(Layer):
    """Reductions over one int ``dim``, or over everything when ``dim`` is None."""

    example = ({"dim": 1}, ("B, T, D",))

    def __init__(self, dim: int | None = None, keepdim: bool = False):
        if dim is not None:
            int_arg(type(self).__name__, "dim", dim)
        self.dim = dim
        self.keepdim = self._flag("keepdim", keepdim)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if self.dim is None:
            return (1,) * len(x) if self.keepdim else ()
        axis = axis_arg(ctx, self.dim, len(x))
        if axis is None:
            return None
        if not x:
            return ()
        return (*x[:axis], *((1,) if self.keepdim else ()), *x[axis + 1:])

    def reduce(self, fn: Any, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        if self.dim is None:
            out = fn(x.reshape(-1), axis=0)
            return np.asarray(out, dtype=dtype or x.dtype).reshape((1,) * x.ndim if self.keepdim else ())
        return np.asarray(fn(x, axis=self.dim, keepdims=self.keepdim), dtype=dtype or x.dtype)


class Max(_ReduceOne):
    """torch.max: with ``dim``, two outputs ``values, indices`` (int64); without, the largest element."""

    def __init__(self, dim: int | None = None, keepdim: bool = False):
        super().__init__(dim, keepdim)
        self.n_outputs = 1 if dim is None else 2

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | tuple[Shape, ...] | None:
        out = super().infer(ctx, x)
        return out if self.dim is None else (out, out)

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (dtypes[0],) if self.dim is None else (dtypes[0], "int64")

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        values = self.reduce(np.max, x)
        return values if self.dim is None else (values, self.reduce(np.argmax, x, np.int64))


class Min(Max):
    """torch.min: with ``dim``, two outputs ``values, indices`` (int64); without, the smallest element."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        values = self.reduce(np.min, x)
        return values if self.dim is None else (values, self.reduce(np.argmin, x, np.int64))


class Argmax(_ReduceOne):
    """torch.argmax (int64): over ``dim``, or the flat index of the largest element when None."""

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return ("int64",)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.argmax, x, np.int64)


class Argmin(Argmax):
    """torch.argmin (int64): over ``dim``, or the flat index of the smallest element when None."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.argmin, x, np.int64)


class Prod(_ReduceOne):
    """torch.prod over one ``dim`` (all when None); integer and bool inputs multiply to int64."""

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (_integral_to_int64(dtypes[0]),)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return self.reduce(np.prod, x, _integral_to_int64(x.dtype.name))


class Split(Layer):
    """torch.split with a list of sections: one output per section, which must add up to the dim."""

    size_args = ("split_size_or_sections",)  # sizes named here can be bound
    example = ({"split_size_or_sections": [16, 48], "dim": -1}, ("B, D",))

    def __init__(self, split_size_or_sections: Any, dim: int = 0):
        if not isinstance(split_size_or_sections, (list, tuple)):
            raise SpecError("Split: give the sections as a list (e.g. [64, 64, 128]); an int split size gives "
                            "a number of outputs that depends on the input (use Chunk for equal parts)")
        self.split_size_or_sections = _sizes("Split", "split_size_or_sections", split_size_or_sections)
        if -1 in self.split_size_or_sections:
            raise SpecError("Split: sections are positive sizes (no -1)")
        self.dim = int_arg("Split", "dim", dim)
        self.n_outputs = len(self.split_size_or_sections)

    def infer(self, ctx: RuleContext, x: Shape) -> tuple[Shape, ...] | None:
        axis = axis_arg(ctx, self.dim, len(x))
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
        self.chunks, self.dim = chunks, int_arg("Chunk", "dim", dim)
        self.n_outputs = chunks

    def infer(self, ctx: RuleContext, x: Shape) -> tuple[Shape, ...] | None:
        axis = axis_arg(ctx, self.dim, len(x))
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


class View(Reshape):
    """torch.Tensor.view, for shapes the same as Reshape (torch's contiguity requirement is not checked)."""


def _dim_list(op: str, name: str, value: Any) -> tuple[int, ...]:
    items = (value,) if type(value) is int else value
    if not isinstance(items, (list, tuple)) or not all(type(d) is int for d in items):
        raise SpecError(f"{op}: {name} must be an int or a list of ints, got {value!r}")
    return tuple(items)


def _axes(ctx: RuleContext, dims_: tuple[int, ...], rank: int, what: str = "dims") -> tuple[int, ...] | None:
    """Distinct axes within the rank, or None (reported)."""
    axes = [normalize_dim_index(d, max(rank, 1)) for d in dims_]
    if None in axes or len(set(axes)) != len(axes):
        ctx.conflict(what, str(list(dims_)), f"{ctx.input_desc()} has rank {rank}",
                     f"Use distinct dims between {-max(rank, 1)} and {max(rank, 1) - 1}.")
        return None
    return tuple(axes)


def _size_list(op: str, name: str, value: Any, keep: bool) -> tuple[Dim, ...]:
    """Sizes: positive ints, symbol names or expressions; -1 too when ``keep`` (keep the input's size)."""
    items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    items = (items,) if type(items) is int else items
    if not isinstance(items, (list, tuple)) or not items:
        raise SpecError(f"{op}: {name} must be a list of sizes, got {value!r}")
    out = []
    for v in items:
        try:
            d = dims.parse_dim(v)
        except (dims.DimSyntaxError, TypeError) as exc:
            raise SpecError(f"{op}: {name} entry {v!r} is not a size: {exc}") from None
        if type(d) is int and d < 1 and not (keep and d == -1):
            raise SpecError(f"{op}: {name} entries are positive sizes{' or -1' if keep else ''}, got {v!r}")
        out.append(d)
    return tuple(out)


class Expand(Layer):
    """torch.Tensor.expand(size): dims of size 1 repeated to ``size`` (-1 keeps a dim; new dims may lead).
    Sizes may be symbolic; a dim other than 1 must already have its target size."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("size",)
    needs_shapes = True
    example = ({"size": ["B", -1, -1]}, ("1, T, C",))

    def __init__(self, size: Any):
        self.size = _size_list("Expand", "size", size, keep=True)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        target = ctx.args.size
        lead = len(target) - len(x)
        if lead < 0:
            ctx.conflict("the number of sizes", f"{len(target)}", f"{ctx.input_desc()} has rank {len(x)}",
                         "expand takes at least one size per dim of its input.")
            return None
        out = []
        for i, t in enumerate(target):
            if i < lead:
                if t == -1:
                    ctx.conflict(f"size[{i}]", "-1", "it is a new leading dim, which has no size to keep",
                                 "Give new leading dims their size.")
                    return None
                out.append(t)
                continue
            d = x[i - lead]
            if t == -1 or d == 1:
                out.append(d if t == -1 else t)
                continue
            ctx.equal(t, d, what=f"size[{i}]",
                      actual_desc=lambda: f"{ctx.input_desc()} has {ctx.show(d)} on dim {i - lead} (not 1)",
                      fix="expand only repeats dims of size 1 (-1 keeps a dim); Repeat copies a larger dim.")
            out.append(t)
        return tuple(out)

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        return np.broadcast_to(x, tuple(out_shapes[0]))


class Repeat(Layer):
    """torch.Tensor.repeat(repeats): tiles the input ``repeats[i]`` times along dim i; extra leading
    repeats add dims. Repeats are positive and may be symbolic."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("repeats",)
    needs_shapes = True
    example = ({"repeats": [1, "K", 1]}, ("B, T, C",))

    def __init__(self, repeats: Any):
        self.repeats = _size_list("Repeat", "repeats", repeats, keep=False)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        repeats = ctx.args.repeats
        if len(repeats) < len(x):
            ctx.conflict("the number of repeats", f"{len(repeats)}", f"{ctx.input_desc()} has rank {len(x)}",
                         "repeat takes at least one count per dim of its input.")
            return None
        padded = (1,) * (len(repeats) - len(x)) + tuple(x)
        return tuple(dims.prod([r, d]) for r, d in zip(repeats, padded))

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        padded = (1,) * (len(out_shapes[0]) - x.ndim) + x.shape
        return np.tile(x, [int(o) // d for o, d in zip(out_shapes[0], padded)])


class RepeatInterleave(Layer):
    """torch.repeat_interleave(x, repeats, dim=None) with a (positive, maybe symbolic) int ``repeats``:
    each element repeated along ``dim``; over the flattened input when dim is None. Tensor repeats
    give data-dependent sizes and are not supported."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("repeats",)
    needs_shapes = True
    example = ({"repeats": 2, "dim": 1}, ("B, H, T, D",))

    def __init__(self, repeats: Any, dim: int | None = None):
        self.repeats = self._size("repeats", repeats)
        self.dim = None if dim is None else int_arg("RepeatInterleave", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if self.dim is None:
            return (dims.prod([*x, ctx.args.repeats]),)
        axis = axis_arg(ctx, self.dim, len(x))
        if axis is None:
            return None
        if not x:
            return (ctx.args.repeats,)
        return (*x[:axis], dims.prod([x[axis], ctx.args.repeats]), *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        size = x.size if self.dim is None or not x.ndim else x.shape[self.dim]
        repeats = int(out_shapes[0][0 if self.dim is None or not x.ndim else self.dim]) // size
        return np.repeat(x, repeats, axis=None if not x.ndim else self.dim)


class Squeeze(Layer):
    """torch.squeeze(x, dim=None): removes dims of size 1 (all, or those of ``dim``, an int or a list);
    other dims stay. A symbolic dim is never squeezed: it is taken to be other than 1 (after
    binding, a size of 1 is squeezed as torch does)."""

    passes_values = True  # the ids of an Embedding keep their range

    example = ({"dim": 1}, ("B, 1, D",))

    def __init__(self, dim: Any = None):
        self.dim = None if dim is None else _dim_list("Squeeze", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axes = range(len(x)) if self.dim is None else _axes(ctx, self.dim, len(x), "dim")
        if axes is None:
            return None
        return tuple(d for i, d in enumerate(x) if not (i in axes and d == 1))

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        axes = range(x.ndim) if self.dim is None else [d % max(x.ndim, 1) for d in self.dim]
        return x.reshape(tuple(d for i, d in enumerate(x.shape) if not (i in axes and d == 1)))


class Unsqueeze(Layer):
    """torch.unsqueeze(x, dim): a new dim of size 1 at ``dim`` (from -rank-1 to rank)."""

    passes_values = True  # the ids of an Embedding keep their range

    example = ({"dim": 1}, ("B, D",))

    def __init__(self, dim: int):
        self.dim = int_arg("Unsqueeze", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = normalize_dim_index(self.dim, len(x) + 1)
        if axis is None:
            ctx.conflict("dim", str(self.dim), f"{ctx.input_desc()} has rank {len(x)}",
                         f"Use a dim between {-len(x) - 1} and {len(x)}.")
            return None
        return (*x[:axis], 1, *x[axis:])

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.expand_dims(x, self.dim % (x.ndim + 1))


class Roll(Layer):
    """torch.roll(x, shifts, dims=None): elements shifted cyclically along ``dims`` (the flattened
    input when None); shifts are ints, one per dim."""

    passes_values = True  # the ids of an Embedding keep their range

    example = ({"shifts": [1, -2], "dims": [1, 2]}, ("B, H, W",))

    def __init__(self, shifts: Any, dims: Any = None):
        self.shifts = _dim_list("Roll", "shifts", shifts)
        self.dims = None if dims is None else _dim_list("Roll", "dims", dims)
        if len(self.shifts) != (1 if self.dims is None else len(self.dims)):
            raise SpecError(f"Roll: shifts and dims must align (one shift per dim), got shifts={shifts!r}, "
                            f"dims={dims!r}")

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if self.dims is not None:
            axes = [normalize_dim_index(d, max(len(x), 1)) for d in self.dims]
            if None in axes:
                ctx.conflict("dims", str(list(self.dims)), f"{ctx.input_desc()} has rank {len(x)}",
                             f"Use dims between {-max(len(x), 1)} and {max(len(x), 1) - 1}.")
                return None
        return tuple(x)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if self.dims is None:
            return np.roll(x, self.shifts[0])
        return np.roll(x, self.shifts, axis=tuple(d % max(x.ndim, 1) for d in self.dims))


class Flip(Layer):
    """torch.flip(x, dims): reverses the order of the elements along each of ``dims``."""

    passes_values = True  # the ids of an Embedding keep their range

    example = ({"dims": [-1]}, ("B, T, C",))

    def __init__(self, dims: Any):
        self.dims = _dim_list("Flip", "dims", dims)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return None if _axes(ctx, self.dims, len(x)) is None else tuple(x)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.flip(x, tuple(d % max(x.ndim, 1) for d in self.dims)) if x.ndim else x.copy()


_NP_PAD = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Layer):
    """torch.nn.functional.pad(x, pad, mode="constant", value=None): ``pad`` is (left, right, top,
    bottom, ...) from the last dim backwards; negative pads crop. ``constant`` takes any rank and
    ``value`` (default 0); ``reflect``, ``replicate`` and ``circular`` pad the last 1-3 dims of an input
    with one or two more dims, reflect needs pads below the input size, circular at most the size
    left after cropping. Pads are ints."""

    example = ({"pad": [1, 1, 2, 2]}, ("N, C, H, W",))

    def __init__(self, pad: Any, mode: str = "constant", value: float | None = None):
        if not isinstance(pad, (list, tuple)) or len(pad) % 2 or not all(type(v) is int for v in pad):
            raise SpecError(f"Pad: pad must be a list of an even number of ints, got {pad!r}")
        if mode not in ("constant", *_NP_PAD):
            raise SpecError(f"Pad: mode must be constant, reflect, replicate or circular, got {mode!r}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise SpecError(f"Pad: value must be a number or None, got {value!r}")
        if mode != "constant" and value is not None:
            raise SpecError(f"Pad: value is only for mode='constant' (mode={mode!r})")
        if mode != "constant" and len(pad) not in (2, 4, 6):
            raise SpecError(f"Pad: mode={mode!r} pads the last 1, 2 or 3 dims (2, 4 or 6 pads), got {len(pad)}")
        self.pad, self.mode, self.value = tuple(pad), mode, 0.0 if value is None else float(value)

    def pairs(self, rank: int) -> list[tuple[int, int]]:
        """(before, after) per dim, first dim first."""
        n = len(self.pad) // 2
        return [(0, 0)] * (rank - n) + [(self.pad[2 * i], self.pad[2 * i + 1]) for i in range(n)][::-1]

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = len(self.pad) // 2
        ranks = tuple(range(n, 64)) if self.mode == "constant" else (n + 1, n + 2)
        if not ctx.rank(x, ranks, f"{n} padded dims" + ("" if self.mode == "constant" else " and a batch")):
            return None
        out = list(x)
        for axis, (before, after) in enumerate(self.pairs(len(x))):
            if (before, after) == (0, 0):
                continue
            widest, kept = max(before, after), dims.total([x[axis], min(before, 0), min(after, 0)])
            if self.mode == "reflect" and widest > 0:
                ctx.at_least(x[axis], widest + 1, what=f"the input size on dim {axis}",
                             actual_desc=lambda: f"reflection padding {widest} needs an input size above it",
                             fix="Use a smaller padding or mode='replicate'.")
            if self.mode == "circular" and widest > 0:
                ctx.at_least(kept, widest, what=f"the input size on dim {axis} after cropping",
                             actual_desc=lambda: f"circular padding {widest} wraps around at most once",
                             fix="Use a padding of at most the input size.")
            out[axis] = dims.total([x[axis], before, after])
            ctx.at_least(out[axis], 1, what=f"the output size on dim {axis}",
                         actual_desc=lambda: f"{ctx.input_desc()} has {ctx.show(x[axis])} there and the pad is "
                                     f"({before}, {after})", fix="Use a smaller negative pad.")
        return tuple(out)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        pairs = self.pairs(x.ndim)
        crop = tuple(slice(max(-b, 0), x.shape[i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))
        grow = [(max(b, 0), max(a, 0)) for b, a in pairs]
        if self.mode == "constant":
            return np.pad(x[crop], grow, constant_values=np.asarray(self.value, dtype=x.dtype))
        if self.mode == "circular":  # torch crops first, then wraps the cropped input around
            return np.pad(x[crop], grow, mode="wrap")
        y = np.pad(x, grow, mode=_NP_PAD[self.mode])  # reflect and replicate pad from the whole input
        return np.ascontiguousarray(y[tuple(slice(max(-b, 0), y.shape[i] - max(-a, 0))
                                            for i, (b, a) in enumerate(pairs))])


class OneHot(Layer):
    """torch.nn.functional.one_hot(x, num_classes): int64 class indices (*) -> int64 (*, num_classes).
    ``num_classes`` is required (torch's -1 takes it from the data, which an analysis cannot see)."""

    size_args = ("num_classes",)
    needs_shapes = True
    example = ({"num_classes": 10}, ("B, T",))

    def __init__(self, num_classes: Any = -1):
        if num_classes == -1:
            raise SpecError("OneHot: num_classes=-1 takes the class count from the data (its largest value + 1), "
                            "which a shape analysis cannot know; give num_classes (e.g. num_classes: 10)")
        self.num_classes = self._size("num_classes", num_classes)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return (*x, ctx.args.num_classes)

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return ("int64",)

    def forward(self, p: dict, x: np.ndarray, out_shapes: list) -> np.ndarray:
        n = int(out_shapes[0][-1])
        if x.dtype != np.int64:
            raise ShapeError(f"OneHot: one_hot takes int64 class indices, got an array of {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= n):
            raise ShapeError(f"OneHot: class {x.min() if x.min() < 0 else x.max()} is out of range for "
                             f"num_classes={n}")
        return (x[..., None] == np.arange(n)).astype(np.int64)


class Stack(Layer):
    """torch.stack(inputs, dim=0): two or more tensors of one shape joined along a new dim."""

    n_inputs = None
    example = ({"dim": 1}, ("B, D", "B, D"))

    def __init__(self, dim: int = 0):
        self.dim = int_arg("Stack", "dim", dim)

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        first = shapes[0]
        for i, s in enumerate(shapes[1:], 1):
            if len(s) != len(first):
                ctx.conflict(f"rank of input {i}", f"{len(first)} (as input 0 {dims.format_shape(first)})",
                             f"{ctx.input_desc(i)} has rank {len(s)}", "Stacked tensors need the same shape.")
                return None
            for a, (d0, d) in enumerate(zip(first, s)):
                ctx.equal(d0, d, what=f"dim {a}",
                          expected_desc=lambda: f"{ctx.show(d0)} on input 0 {dims.format_shape(first)} "
                                                f"from {ctx.sources[0]}",
                          actual_desc=lambda: f"{ctx.input_desc(i)} has {ctx.show(d)}",
                          fix="Stacked tensors need the same shape.")
        axis = normalize_dim_index(self.dim, len(first) + 1)
        if axis is None:
            ctx.conflict("dim", str(self.dim), f"the inputs have rank {len(first)}",
                         f"Use a dim between {-len(first) - 1} and {len(first)}.")
            return None
        return (*first[:axis], len(shapes), *first[axis:])

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (promote(*dtypes),)

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        dtype = promote(*(x.dtype.name for x in xs))
        return np.stack([x.astype(dtype, copy=False) for x in xs], axis=self.dim)


class Cumsum(Layer):
    """torch.cumsum(x, dim): running sums along ``dim``; integer and bool inputs sum to int64."""

    example = ({"dim": 1}, ("B, T",))

    def __init__(self, dim: int):
        self.dim = int_arg("Cumsum", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return None if axis_arg(ctx, self.dim, len(x)) is None else tuple(x)

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (_integral_to_int64(dtypes[0]),)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        dtype = _integral_to_int64(x.dtype.name)
        return np.cumsum(x, axis=self.dim, dtype=dtype) if x.ndim else x.astype(dtype)
