"""Elementwise tensor ops with torch's names, broadcasting and dtypes: unary math (Neg, Abs, Sqrt, Rsqrt,
Exp, Log, Sin, Cos, Reciprocal, Erf, Clamp), comparisons (Eq, Ne, Lt, Le, Gt, Ge) and logical ops giving
bool, Where, MaskedFill and Cast. Math functions of integer or bool tensors give float32, as in torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..dims import Shape
from ..dtypes import TABLE
from ..errors import SpecError
from .base import Layer, erf
from .merge import _Binary, broadcast, is_float, result_dtype, scalar

if TYPE_CHECKING:
    from ..propagate import RuleContext

_TORCH_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
                  "short": "int16"}


def dtype_name(op: str, value: Any) -> str:
    """A dtype of ``symshape.dtypes``: ``"float32"``, ``"torch.int64"``, ``"long"``, a numpy or torch dtype."""
    name = value if isinstance(value, str) else str(value) if type(value).__module__ == "torch" else None
    if name is None:
        try:
            name = np.dtype(value).name
        except TypeError:
            name = repr(value)
    name = name.removeprefix("torch.")
    name = _TORCH_ALIASES.get(name, name)
    if name not in TABLE:
        raise SpecError(f"{op}: dtype must be one of {', '.join(TABLE)}, got {value!r}")
    return name


class _Unary(Layer):
    """(*) -> (*), elementwise."""

    example = ({}, ("B, T, D",))
    to_float: ClassVar[bool] = True  # integer and bool inputs give float32

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return x

    def output_dtypes(self, dtype: str) -> tuple[str, ...]:
        return ("float32" if self.to_float and not is_float(dtype) else dtype,)

    def compute(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        dtype = self.output_dtypes(x.dtype.name)[0]
        work = "float32" if dtype == "float16" else dtype  # torch computes half precision in float32
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self.compute(x.astype(work, copy=False))
        return np.asarray(out).astype(dtype, copy=False)


class _NoBool(_Unary):
    to_float = False

    def output_dtypes(self, dtype: str) -> tuple[str, ...]:
        if dtype == "bool":
            raise SpecError("not supported for a bool tensor (as in torch); Cast it first, or use "
                            "LogicalNot to invert a mask")
        return (dtype,)


class Neg(_NoBool):
    """-x (torch.neg); integer dtypes are kept."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.negative(x)


class Abs(_NoBool):
    """|x| (torch.abs); integer dtypes are kept."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)


class Sqrt(_Unary):
    """sqrt(x) (torch.sqrt); NaN below zero."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)


class Rsqrt(_Unary):
    """1 / sqrt(x) (torch.rsqrt)."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.reciprocal(np.sqrt(x))


class Exp(_Unary):
    """exp(x) (torch.exp)."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x)


class Log(_Unary):
    """The natural logarithm (torch.log); -inf at 0, NaN below."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.log(x)


class Sin(_Unary):
    """sin(x) (torch.sin)."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.sin(x)


class Cos(_Unary):
    """cos(x) (torch.cos)."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.cos(x)


class Reciprocal(_Unary):
    """1 / x (torch.reciprocal); inf at 0."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.reciprocal(x)


class Erf(_Unary):
    """The error function (torch.erf)."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        return erf(x)


class Clamp(_Unary):
    """min(max(x, min), max) (torch.clamp); NaN propagates; min > max gives max. The dtype is torch's
    promotion with the bounds (an int tensor clamped at 0.5 is float32)."""

    example = ({"min": 0, "max": 6}, ("B, T, D",))

    def __init__(self, min: Any = None, max: Any = None):
        if min is None and max is None:
            raise SpecError("Clamp: at least one of min or max must not be None")
        self.min = None if min is None else scalar("Clamp", "min", min)
        self.max = None if max is None else scalar("Clamp", "max", max)

    def output_dtypes(self, dtype: str) -> tuple[str, ...]:
        return (result_dtype([dtype], [b for b in (self.min, self.max) if b is not None]),)

    def compute(self, x: np.ndarray) -> np.ndarray:
        if self.min is not None:
            x = np.maximum(x, np.asarray(self.min).astype(x.dtype))
        if self.max is not None:
            x = np.minimum(x, np.asarray(self.max).astype(x.dtype))
        return x


class LogicalNot(_Unary):
    """not x (torch.logical_not): nonzero is true; the result is bool."""

    def output_dtypes(self, dtype: str) -> tuple[str, ...]:
        return ("bool",)

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.logical_not(x)


class Cast(_Unary):
    """x.to(dtype): ``Cast("float32")``; floats to integers truncate towards zero, nonzero to bool is true."""

    example = ({"dtype": "float16"}, ("B, T, D",))

    def __init__(self, dtype: Any):
        self.dtype = dtype_name("Cast", dtype)

    def output_dtypes(self, dtype: str) -> tuple[str, ...]:
        return (self.dtype,)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return x.astype(self.dtype, copy=False)


class _Compare(_Binary):
    """Compared in torch's promoted dtype; the result is bool."""

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return ("bool",)


class Eq(_Compare):
    """input == other (torch.eq): two tensors (broadcast) or a scalar ``other``; bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.equal(a, b)


class Ne(_Compare):
    """input != other (torch.ne); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.not_equal(a, b)


class Lt(_Compare):
    """input < other (torch.lt); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.less(a, b)


class Le(_Compare):
    """input <= other (torch.le); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.less_equal(a, b)


class Gt(_Compare):
    """input > other (torch.gt); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.greater(a, b)


class Ge(_Compare):
    """input >= other (torch.ge); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.greater_equal(a, b)


class LogicalAnd(_Compare):
    """input and other (torch.logical_and): nonzero is true; bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.logical_and(a, b)


class LogicalOr(_Compare):
    """input or other (torch.logical_or); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.logical_or(a, b)


class LogicalXor(_Compare):
    """input xor other (torch.logical_xor); bool."""

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.logical_xor(a, b)


def _require_bool(what: str, dtype: str) -> None:
    if dtype != "bool":
        raise SpecError(f"{what} must be a bool tensor (as in torch), got {dtype}; "
                        "compare it first (e.g. Eq(other=0)) or Cast it to bool")


class Where(Layer):
    """torch.where(condition, input, other): ``input`` where the bool condition holds, else ``other``.
    Inputs: condition, then input and other unless given here as scalars; all broadcast together.
    The dtype is torch's promotion of input and other."""

    example = ({}, (("B, 1, T, T", "bool"), "B, H, T, T", "B, H, T, T"))

    def __init__(self, input: Any = None, other: Any = None):
        self.input = None if input is None else scalar("Where", "input", input)
        self.other = None if other is None else scalar("Where", "other", other)
        self.n_inputs = 1 + (self.input is None) + (self.other is None)

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape:
        return broadcast(ctx, list(shapes), list(range(len(shapes))))

    def _dtype(self, values: list[str]) -> str:
        return result_dtype(values, [s for s in (self.input, self.other) if s is not None])

    def output_dtypes(self, condition: str, *values: str) -> tuple[str, ...]:
        _require_bool("condition", condition)
        return (self._dtype(list(values)),)

    def forward(self, p: dict, condition: np.ndarray, *tensors: np.ndarray) -> np.ndarray:
        dtype = self._dtype([t.dtype.name for t in tensors])
        given = iter(tensors)
        a, b = (np.asarray(next(given) if s is None else s).astype(dtype, copy=False)
                for s in (self.input, self.other))
        return np.where(condition, a, b)


class MaskedFill(Layer):
    """x.masked_fill(mask, value): ``value`` where the bool mask holds. Inputs x, mask (broadcast with x);
    the dtype is x's (value is cast to it). For causal attention: MaskedFill(float("-inf"))."""

    n_inputs = 2
    example = ({"value": "-inf"}, ("B, H, T, T", ("1, 1, T, T", "bool")))

    def __init__(self, value: Any):
        self.value = scalar("MaskedFill", "value", value)

    def infer(self, ctx: RuleContext, x: Shape, mask: Shape) -> Shape:
        return broadcast(ctx, [x, mask], [0, 1])

    def output_dtypes(self, x: str, mask: str) -> tuple[str, ...]:
        _require_bool("mask", mask)
        return (x,)

    def forward(self, p: dict, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, np.asarray(self.value).astype(x.dtype), x)
