"""Indexing: Slice (``x[..., start:end:step]``), Select (``x[:, 0]``), Narrow, IndexSelect, Gather and
Index (``x[idx]`` with one integer index tensor).

Bounds and indices may be symbolic (``"T"``, ``"T - 1"``). A bound's sign decides its meaning as in
Python: negative counts from the end. A symbolic bound whose sign depends on the sizes (``"T - 5"``)
is taken to count from the start, and the condition ``T - 5 >= 0`` is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..constraints import least_values
from ..dims import Dim, Shape
from ..errors import ShapeError, SpecError
from .base import Layer
from .merge import broadcast
from .shape_ops import axis_arg, int_arg

if TYPE_CHECKING:
    from ..propagate import RuleContext


def index_arg(op: str, name: str, value: Any, optional: bool = False) -> Dim | None:
    """An index or bound: an int (negative counts from the end), a symbol name or an expression."""
    if value is None and optional:
        return None
    try:
        return dims.parse_dim(value)
    except (dims.DimSyntaxError, TypeError) as exc:
        raise SpecError(f"{op}: {name}={value!r} is not an index: {exc}") from None


def is_negative(d: Dim) -> bool:
    return d < 0 if type(d) is int else d.is_negative is True


def at_most(ctx: RuleContext, d: Dim, limit: Dim, *, what: str, actual_desc: Any, fix: str = "") -> None:
    """``d <= limit``; kept as written when ``d`` is symbolic (the engine's lower-bound search assumes
    conditions that grow with the size, which ``limit - d >= 0`` does not)."""
    if type(d) is int and type(limit) is int:
        if d > limit:
            ctx.conflict(what, f"{d} (must be at most {limit})", actual_desc, fix)
    elif type(d) is int:
        ctx.at_least(limit, d, what=what, actual_desc=actual_desc, fix=fix)
    else:
        ctx.solver.require(ctx, d, "<=", limit, what)


def _from_start(ctx: RuleContext, d: Dim, name: str) -> None:
    """A symbolic index of unknown sign is read as counted from the start: record ``d >= 0``."""
    if type(d) is not int and d.is_nonnegative is not True:
        ctx.at_least(d, 0, what=name, actual_desc=lambda: f"symbolic {name}s are counted from the start",
                     fix=f"Write a {name} counted from the end as a negative expression (such as -T).")


def _indexed_axis(ctx: RuleContext, dim: int, x: Shape) -> int | None:
    """The axis indexed, for an input with at least one dim (a scalar has none to index)."""
    if not x:
        ctx.conflict("input rank", "at least 1", f"{ctx.input_desc()} is a scalar", "A scalar has no dim to index.")
        return None
    return axis_arg(ctx, dim, len(x))


def bound_values(node_args: dict | None, layer: Layer, names: tuple[str, ...]) -> list[int | None]:
    """The bound integer values of a layer's index arguments at forward time."""
    values = []
    for name in names:
        v = getattr(layer, name)
        if v is not None and type(v) is not int:
            if node_args is None or type(node_args.get(name)) is not int:
                raise ShapeError(f"{layer.op}: {name}={v} needs its sizes bound to run forward()")
            v = node_args[name]
        values.append(v)
    return values


def check_indices(op: str, index: np.ndarray, size: int, negative: bool) -> np.ndarray:
    """Index values at forward time: integers within the dim (negatives from the end if allowed)."""
    if index.dtype.kind not in "iu":
        raise ShapeError(f"{op}: the index must be an integer tensor, got an array of {index.dtype}")
    low = -size if negative else 0
    if index.size and (index.min() < low or index.max() >= size):
        bad = index.min() if index.min() < low else index.max()
        raise ShapeError(f"{op}: index {bad} is out of range for a dim of size {size}")
    return index


class Slice(Layer):
    """``x[..., start:end:step]`` along ``dim``, with Python's clamping: negative bounds count from the
    end, bounds past the size clamp to it. ``start``/``end`` may be symbolic; the result length stays
    exact (a (1, 512) table sliced ``:T`` has ``Min(512, T)``; adding it to a (B, T) tensor then needs
    ``T <= 512``). ``step`` is a positive int. An empty slice is a model error (sizes are positive)."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("start", "end")
    needs_shapes = True
    needs_args = True  # forward(p, x, args=...) may get the bound start
    example = ({"dim": 1, "start": 0, "end": "T"}, ("1, 512, C",))

    def __init__(self, dim: int = 0, start: Any = None, end: Any = None, step: int = 1):
        self.dim = int_arg("Slice", "dim", dim)
        self.start = index_arg("Slice", "start", start, optional=True)
        self.end = index_arg("Slice", "end", end, optional=True)
        if type(step) is not int or step <= 0:
            raise SpecError(f"Slice: step must be a positive int, got {step!r}")
        self.step = step

    def _clamp(self, ctx: RuleContext, v: Dim | None, length: Dim, default: Dim, name: str,
               lows: dict[Any, int] | None) -> Dim:
        if v is None:
            return default
        if is_negative(v):  # max(length + v, 0), written so that x[-2:] has length Min(2, T)
            return dims.difference(length, dims.minimum(dims.difference(0, v), length, lows))
        _from_start(ctx, v, name)
        return dims.minimum(v, length, lows)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        length = x[axis]
        lows = least_values(ctx.solver, ctx.solver.constraints) if type(length) is not int else None
        start = self._clamp(ctx, ctx.args.start, length, 0, "start", lows)
        end = self._clamp(ctx, ctx.args.end, length, length, "end", lows)
        n = dims.maximum(dims.ceildiv(dims.difference(end, start), self.step), 0, lows)
        if type(n) is int or n.is_positive is not True:
            ctx.at_least(n, 1, what=f"the slice length on dim {axis}",
                         actual_desc=lambda: f"{ctx.input_desc()} has {ctx.show(length)} there, sliced "
                                     f"[{self._text()}]",
                         fix="symshape sizes are positive; torch would give an empty tensor.")
        return (*x[:axis], n, *x[axis + 1:])

    def _text(self) -> str:
        parts = ["" if v is None else str(v) for v in (self.start, self.end)]
        return ":".join(parts) + (f":{self.step}" if self.step != 1 else "")

    def forward(self, p: dict, x: np.ndarray, out_shapes: list, args: dict | None = None) -> np.ndarray:
        axis, n = self.dim % x.ndim, int(out_shapes[0][self.dim % x.ndim])
        if type(self.start) is not int and self.start is not None and args is None and self.step == 1 \
                and (self.end is None or type(self.end) is int):
            first = slice(None, self.end).indices(x.shape[axis])[1] - n  # x[..., start:end]: n before end
        else:
            (start,) = bound_values(args, self, ("start",))
            first = slice(start, None).indices(x.shape[axis])[0]
        index = [slice(None)] * x.ndim
        index[axis] = slice(first, first + (n - 1) * self.step + 1, self.step)
        return x[tuple(index)]


class Select(Layer):
    """``x.select(dim, index)`` (``x[:, 0]``, ``x[:, -1]``): the dim is removed. ``index`` may be negative
    or symbolic; an index outside the dim is a model error."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("index",)
    needs_args = True
    example = ({"dim": 1, "index": 0}, ("B, T, C",))

    def __init__(self, dim: int, index: Any):
        self.dim = int_arg("Select", "dim", dim)
        self.index = index_arg("Select", "index", index)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        length, index = x[axis], ctx.args.index
        if type(length) is int and type(index) is int:
            if not -length <= index < length:
                ctx.conflict("index", str(index), f"{ctx.input_desc()} has size {length} on dim {axis}",
                             f"Use an index from {-length} to {length - 1}.")
        else:
            _from_start(ctx, index, "index")
            reach = dims.difference(0, index) if is_negative(index) else dims.total([index, 1])
            at_most(ctx, reach, length, what="index",
                    actual_desc=lambda: f"{ctx.input_desc()} has size {ctx.show(length)} on dim {axis} "
                                f"and the index is {index}")
        return (*x[:axis], *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, args: dict | None = None) -> np.ndarray:
        (index,) = bound_values(args, self, ("index",))
        return np.take(x, index, axis=self.dim)


class Narrow(Layer):
    """``torch.narrow(x, dim, start, length)``: ``length`` elements from ``start`` (negative: from the
    end); the range must lie within the dim. ``start`` and ``length`` may be symbolic."""

    passes_values = True  # the ids of an Embedding keep their range

    size_args = ("start", "length")
    needs_shapes = True
    needs_args = True
    example = ({"dim": 1, "start": 0, "length": "T"}, ("B, S, C",))

    def __init__(self, dim: int, start: Any, length: Any):
        self.dim = int_arg("Narrow", "dim", dim)
        self.start = index_arg("Narrow", "start", start)
        self.length = self._size("length", length)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        size, start, length = x[axis], ctx.args.start, ctx.args.length
        if is_negative(start):
            start = dims.total([size, start])
            ctx.at_least(start, 0, what="start", actual_desc=lambda: f"{ctx.input_desc()} has size "
                         f"{ctx.show(size)} on dim {axis}, and start counts back {-ctx.args.start} from its end")
        else:
            _from_start(ctx, start, "start")
        at_most(ctx, dims.total([start, length]), size, what="start + length",
                actual_desc=lambda: f"{ctx.input_desc()} has size {ctx.show(size)} on dim {axis}",
                fix="The narrowed range must lie within the dim.")
        return (*x[:axis], length, *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, out_shapes: list, args: dict | None = None) -> np.ndarray:
        (start,) = bound_values(args, self, ("start",))
        length = int(out_shapes[0][self.dim % x.ndim])
        start = start + x.shape[self.dim] if start < 0 else start
        index = [slice(None)] * x.ndim
        index[self.dim] = slice(start, start + length)
        return x[tuple(index)]


class IndexSelect(Layer):
    """``torch.index_select(x, dim, index)``: inputs x and a 1-d (or 0-d) integer index; the dim takes
    the index's length. Index values must lie in ``[0, size)`` (checked when run)."""

    n_inputs = 2
    example = ({"dim": 0}, ("V, D", "K"))

    def __init__(self, dim: int):
        self.dim = int_arg("IndexSelect", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape, index: Shape) -> Shape | None:
        if not ctx.rank(index, (0, 1), "a 1-d index", 1):
            return None
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        return (*x[:axis], dims.prod(index), *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        index = check_indices("IndexSelect", index, x.shape[self.dim], negative=False)
        return np.take(x, index.reshape(-1), axis=self.dim)


class Gather(Layer):
    """``torch.gather(x, dim, index)``: the output has the index's shape; the index has x's rank and
    is no larger than x on every dim but ``dim``. Index values must lie in ``[0, size)`` along ``dim``."""

    n_inputs = 2
    example = ({"dim": 1}, ("B, T, C", "B, K, C"))

    def __init__(self, dim: int):
        self.dim = int_arg("Gather", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape, index: Shape) -> Shape | None:
        if len(index) != len(x):
            ctx.conflict("index rank", f"{len(x)} (the input's rank)", f"{ctx.input_desc(1)} has rank {len(index)}",
                         "gather needs an index with as many dims as its input.")
            return None
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        for a, (d, k) in enumerate(zip(x, index)):
            if a != axis and not dims.definitely_equal(d, k):
                at_most(ctx, k, d, what=f"the index size on dim {a}",
                        actual_desc=lambda: f"{ctx.input_desc(0)} has {ctx.show(d)} there",
                        fix="Away from dim, the index may not be larger than the input.")
        return tuple(index)

    def forward(self, p: dict, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        axis = self.dim % x.ndim
        index = check_indices("Gather", index, x.shape[axis], negative=False)
        crop = tuple(slice(None) if a == axis else slice(0, k) for a, k in enumerate(index.shape))
        return np.take_along_axis(x[crop], index, axis=axis)


class Index(Layer):
    """``x[idx]`` on one dim (``x[:, idx]`` is ``dim=1``): advanced indexing with integer index tensors of
    any rank, whose dims replace dim ``dim``: (B, T, C)[:, idx (K, L)] -> (B, K, L, C). Several index
    tensors index consecutive dims from ``dim`` on, broadcast against each other as in torch:
    (B, T, C)[i (B, 1), j (1, T)] -> (B, T, C).

    Supported: int64/int32 index tensors at consecutive dims, negative values counting from the end.
    Not supported: boolean masks (data-dependent sizes), index tensors on dims apart."""

    n_inputs = None
    example = ({"dim": 0}, ("V, D", "B, T"))

    def __init__(self, dim: int = 0):
        self.dim = int_arg("Index", "dim", dim)

    def infer(self, ctx: RuleContext, x: Shape, *indices: Shape) -> Shape | None:
        axis = _indexed_axis(ctx, self.dim, x)
        if axis is None:
            return None
        if axis + len(indices) > len(x):
            ctx.conflict("input rank", f"at least {axis + len(indices)} ({len(indices)} index tensors from dim "
                         f"{axis})", f"{ctx.input_desc()} has rank {len(x)}", "Index fewer dims.")
            return None
        index = indices[0] if len(indices) == 1 else broadcast(ctx, list(indices), list(range(1, len(indices) + 1)))
        return (*x[:axis], *index, *x[axis + len(indices):])

    def forward(self, p: dict, x: np.ndarray, *indices: np.ndarray) -> np.ndarray:
        if any(index.dtype.kind == "b" for index in indices):
            raise ShapeError("Index: boolean masks give data-dependent sizes; use an integer index tensor")
        axis = self.dim % x.ndim
        checked = [check_indices("Index", index, x.shape[axis + k], negative=True) for k, index in enumerate(indices)]
        if len(checked) == 1:
            return np.take(x, checked[0], axis=axis)
        return x[(slice(None),) * axis + tuple(checked)]
