"""Layers joining tensors elementwise with torch broadcasting and type promotion: Add, Sub, RSub, Mul,
Div, Pow, Maximum, Minimum (two tensors, or one tensor and a scalar ``other``); Concat (torch.cat)
and MatMul."""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..dtypes import TABLE, promote
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer, normalize_dim_index

if TYPE_CHECKING:
    from ..propagate import RuleContext

Scalar = bool | int | float
_KIND_RANK = {"bool": 0, "int": 1, "float": 2}
_KIND_DEFAULT = {"bool": "bool", "int": "int64", "float": "float32"}  # torch's dtype of a Python scalar


def scalar(op: str, name: str, value: Any) -> Scalar:
    """A Python number argument; ``"inf"``, ``"-inf"`` and ``"nan"`` (spellable in JSON) are floats."""
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float)):
        raise SpecError(f"{op}: {name} must be a number, got {value!r}")
    return value


def scalar_kind(value: Scalar) -> str:
    return "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"


def result_dtype(tensors: Sequence[str], scalars: Sequence[Scalar] = ()) -> str:
    """torch.result_type: tensors promote among themselves; a Python scalar only lifts the category
    (an int tensor plus 2.5 is float32, a float16 tensor plus 2.5 stays float16)."""
    if not scalars and tensors and tensors.count(tensors[0]) == len(tensors):  # one dtype: itself
        return tensors[0]
    kinds = [scalar_kind(s) for s in scalars]
    if not tensors:
        return _KIND_DEFAULT[max(kinds, key=_KIND_RANK.__getitem__)]
    base = promote(*tensors)
    top = max(kinds, key=_KIND_RANK.__getitem__, default="bool")
    return _KIND_DEFAULT[top] if _KIND_RANK[top] > _KIND_RANK[TABLE[base].kind] else base


def is_float(dtype: str) -> bool:
    return TABLE[dtype].kind == "float"


def broadcast(ctx: RuleContext, shapes: list[Shape], indices: list[int], what: str = "dim") -> Shape:
    """torch broadcasting of ``shapes`` (of inputs ``indices``): sizes equal, or one of them 1.
    Symbolic sizes that may differ state that as a condition (``L == M or L == 1 or M == 1``) and
    broadcast to the larger (``ctx.broadcast``)."""
    if shapes.count(shapes[0]) == len(shapes):  # the same shape everywhere (a residual sum): itself
        return tuple(shapes[0])
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
            size = ctx.broadcast(size, d, what=f"{what} {axis - rank}",
                                 expected_desc=lambda: f"{size} on input {indices[first]} "
                                                       f"{dims.format_shape(ctx.shapes[indices[first]])} "
                                                       f"from {ctx.sources[indices[first]]}",
                                 actual_desc=lambda: f"{ctx.input_desc(indices[k])} has {d}",
                                 fix="Broadcasting needs equal sizes or 1; make the branches agree "
                                     "(e.g. a 1x1 convolution or a Linear on the shortcut).")
        out.append(size)
    return tuple(out)


class _Binary(Layer):
    """``input op other`` elementwise: two tensors with torch broadcasting, or one tensor and a scalar.

    The operands are cast to torch's promoted dtype first (``result_dtype``), then numpy computes."""

    many: ClassVar[bool] = False  # two or more tensors allowed (Add, Mul)
    example = ({}, ("B, C, H, W", "B, C, 1, 1"))

    def __init__(self, other: Any = None):
        self._take_scalar(other, "other")

    def _take_scalar(self, value: Any, name: str) -> None:
        self.scalar_operand = None if value is None else scalar(self.op, name, value)
        self.n_inputs = 1 if self.scalar_operand is not None else (None if self.many else 2)

    def scalars(self) -> tuple[Scalar, ...]:
        return () if self.scalar_operand is None else (self.scalar_operand,)

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape:
        return broadcast(ctx, list(shapes), list(range(len(shapes))))

    def compute_dtype(self, *dtypes: str) -> str:
        """The dtype the operation runs in."""
        return result_dtype(dtypes, self.scalars())

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (self.compute_dtype(*dtypes),)

    def operands(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        dtype = self.compute_dtype(*(x.dtype.name for x in xs))
        out = [x.astype(dtype, copy=False) for x in xs]
        return out + [np.asarray(s).astype(dtype) for s in self.scalars()]

    def compute(self, *operands: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self.compute(*self.operands(xs))
        return np.asarray(out).astype(self.output_dtypes(*(x.dtype.name for x in xs))[0], copy=False)


class _Alpha(_Binary):
    """A binary op with torch's ``alpha`` multiplier on its second operand."""

    def __init__(self, other: Any = None, alpha: Any = 1):
        self._take_scalar(other, "other")
        self.alpha = scalar(self.op, "alpha", alpha)
        if self.alpha != 1 and self.n_inputs is None:
            self.n_inputs = 2

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        dtype = self.compute_dtype(*dtypes)
        if isinstance(self.alpha, float) and not is_float(dtype):
            raise SpecError(f"for integral input tensors ({dtype}), alpha must not be a floating point "
                            f"number, got {self.alpha} (as in torch)")
        return (dtype,)

    def scaled(self, b: np.ndarray) -> np.ndarray:
        return b if self.alpha == 1 else (b * np.asarray(self.alpha).astype(b.dtype)).astype(b.dtype, copy=False)


class Add(_Alpha):
    """input + alpha * other (torch.add): two tensors or a scalar ``other``; more tensors are summed.
    Broadcasting and type promotion as torch's."""

    many = True
    fresh_output = True  # forward() returns a new array: a following ReLU may run in place on it
    accepts_into = True  # forward(..., into=one of the inputs) may write the sum there

    def value_range(self, args: Any, *ranges: tuple[Dim, Dim] | None) -> tuple[tuple[Dim, Dim] | None, ...]:
        """ids shifted by an int (``arange(T) + past_length``): the range shifts with them."""
        shift = self.scalar_operand
        if ranges and ranges[0] is not None and type(shift) is int and type(self.alpha) is int:
            return ((ranges[0][0] + self.alpha * shift, ranges[0][1] + self.alpha * shift),)
        return (None,)

    def forward(self, p: dict, *xs: np.ndarray, into: np.ndarray | None = None) -> np.ndarray:
        ops = self.operands(xs)
        if into is not None and self.alpha == 1 and into.dtype == ops[0].dtype:
            for x in ops:
                if x is not into:
                    np.add(into, x, out=into)
            return into
        out = reduce(np.add, [ops[0], *(self.scaled(b) for b in ops[1:])])
        return np.asarray(out).astype(ops[0].dtype, copy=False)


class Sub(_Alpha):
    """input - alpha * other (torch.sub): two tensors or a scalar ``other``; bool operands are refused as
    by torch (use LogicalXor or LogicalNot)."""

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        if "bool" in dtypes or any(isinstance(s, bool) for s in self.scalars()):
            raise SpecError("subtraction with a bool tensor is not supported (as in torch); "
                            "use LogicalXor or LogicalNot to invert a mask")
        return super().output_dtypes(*dtypes)

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - self.scaled(b)


class RSub(Sub):
    """other - alpha * input (torch.rsub): ``1 - mask`` is RSub(other=1)."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return b - self.scaled(a)


class Mul(_Binary):
    """input * other (torch.mul): two tensors or a scalar ``other``; more tensors are multiplied."""

    many = True

    def compute(self, *operands: np.ndarray) -> np.ndarray:
        return reduce(np.multiply, operands)


class Div(_Binary):
    """input / other (torch.div): true division (integers give float32), or with rounding_mode
    "trunc" (towards zero) or "floor" (towards -inf), which keep integer dtypes."""

    def __init__(self, other: Any = None, rounding_mode: str | None = None):
        self._take_scalar(other, "other")
        if rounding_mode not in (None, "trunc", "floor"):
            raise SpecError(f"Div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        self.rounding_mode = rounding_mode

    def compute_dtype(self, *dtypes: str) -> str:
        dtype = super().compute_dtype(*dtypes)
        return "float32" if self.rounding_mode is None and not is_float(dtype) else dtype

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        dtype = self.compute_dtype(*dtypes)
        if dtype == "bool":
            raise SpecError(f"rounding_mode={self.rounding_mode!r} is not implemented for bool tensors "
                            "(as in torch); Cast them first")
        return (dtype,)

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.rounding_mode is None:
            return a / b
        if self.rounding_mode == "floor":
            return np.floor_divide(a, b)
        if is_float(a.dtype.name):
            return np.trunc(a / b)
        q = np.floor_divide(a, b)
        return q + ((a - q * b != 0) & ((a < 0) != (b < 0)))


class Pow(_Binary):
    """input ** exponent (torch.pow): a tensor exponent (two inputs, broadcast) or a scalar one."""

    def __init__(self, exponent: Any = None):
        self._take_scalar(exponent, "exponent")
        self.exponent = self.scalar_operand

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        dtype = self.compute_dtype(*dtypes)
        e = self.scalar_operand
        if not is_float(dtype) and not isinstance(e, bool) and isinstance(e, int) and e < 0:
            raise SpecError(f"integers to negative integer powers are not allowed (as in torch), got "
                            f"a {dtype} tensor to the power {e}; Cast it to float32 first")
        return (dtype,)

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.power(a, b)


class Maximum(_Binary):
    """The elementwise maximum (torch.maximum; NaN propagates); a scalar ``other`` acts as Clamp(min=other)."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)


class Minimum(_Binary):
    """The elementwise minimum (torch.minimum; NaN propagates); a scalar ``other`` acts as Clamp(max=other)."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)
class Concat(Layer):
    """torch.cat(inputs, dim): equal shapes except along ``dim``, where sizes add up."""

    n_inputs = None
    example = ({"dim": 1}, ("B, C, H, W", "B, D, H, W"))

    def __init__(self, dim: int = 0):
        if type(dim) is not int:
            raise SpecError(f"Concat: dim must be an int, got {dim!r}")
        self.dim = dim

    def arity_problem(self, n: int) -> str:
        return "" if n >= 1 else "takes one or more inputs, got 0"  # torch.cat([x]) is x (DenseNet)

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

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """One multiply-accumulate per output element and contracted index."""
        (out,) = outputs
        return dims.prod([*out, inputs[0][-1]])

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
