"""Tensors made from nothing: learnable Parameter and Buffer (a module's ``nn.Parameter`` attribute or
registered buffer), constants Arange, Full, Zeros, Ones and the sinusoidal position table, plus Tril and
Triu for masks. Zero-input layers are called with no tensors: ``ss.Parameter((1, 1, 768))()``; in a spec
their entry has ``in: []`` (the default for them). Sizes may be ints, symbol names or expressions."""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..init import INITIALIZERS
from ..params import ParamSpec
from .base import Layer
from .elementwise import dtype_name
from .merge import scalar, scalar_kind

if TYPE_CHECKING:
    from ..propagate import RuleContext

_DETERMINISTIC = ("zeros", "ones", "constant")  # initializers that need no random stream


def _shape(op: str, name: str, value: Any) -> Shape:
    """A shape argument: a list of sizes or a string ``"T, T"``; ``[]`` is a scalar tensor."""
    if isinstance(value, (int, sympy.Basic)) and not isinstance(value, bool):
        value = [value]
    try:
        shape = dims.parse_shape(value)
    except (dims.DimSyntaxError, TypeError) as exc:
        raise SpecError(f"{op}: {name}={value!r} is not a shape: {exc}") from None
    for d in shape:
        if type(d) is int and d <= 0:
            raise SpecError(f"{op}: {name} entries must be positive sizes, got {value!r}")
    return shape


def _initializer(op: str, value: Any) -> tuple[str, dict[str, Any]]:
    """``"zeros"``, ``{"name": "normal", "std": 0.02}`` or ``("normal", {"std": 0.02})``: a name of
    ``symshape.init.INITIALIZERS`` and its keyword arguments, checked against its signature."""
    if isinstance(value, dict):
        kwargs = dict(value)
        name = kwargs.pop("name", None)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], dict):
        name, kwargs = value[0], dict(value[1])
    else:
        name, kwargs = value, {}
    if name not in INITIALIZERS:
        raise SpecError(f"{op}: init {value!r} names no initializer; known: {', '.join(sorted(INITIALIZERS))} "
                        "(arguments as {name: normal, std: 0.02})")
    try:
        inspect.signature(INITIALIZERS[name]).bind(None, None, None, **kwargs)
    except TypeError as exc:
        raise SpecError(f"{op}: init {name!r}: {exc}") from None
    return name, kwargs


class Parameter(Layer):
    """A learnable tensor of ``shape``, no inputs (a module's ``nn.Parameter`` attribute: ViT's class
    token and position embedding). Its state_dict name is the node's name. ``init`` is one of
    ``symshape.init``'s initializers; the default "zeros" stands for torch's uninitialized
    ``nn.Parameter(torch.empty(...))`` (torchvision's ViT class token is zeros)."""

    n_inputs = 0
    size_args = ("shape",)
    example = ({"shape": [1, 1, "D"], "init": {"name": "trunc_normal", "std": 0.02}}, ())

    def __init__(self, shape: Any, init: Any = None, requires_grad: bool = True):
        self.shape = _shape(self.op, "shape", shape)
        self.init_name, self.init_args = _initializer(self.op, "zeros" if init is None else init)
        self.requires_grad = self._flag("requires_grad", requires_grad)

    def infer(self, ctx: RuleContext) -> Shape:
        return ctx.args.shape

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        return {"": ParamSpec(tuple(a.shape), self.init_name, self.init_args)}

    def forward(self, p: dict[str, np.ndarray]) -> np.ndarray:
        return p[""]


class Buffer(Layer):
    """A registered buffer of ``shape`` (``register_buffer``), no inputs, named after the node. A
    persistent one is in the state_dict (initialized by ``init``, default zeros); a non-persistent one
    is not, so it must be a constant ("zeros", "ones" or {name: constant, val: ...}) made in forward."""

    n_inputs = 0
    size_args = ("shape",)
    needs_shapes = True
    example = ({"shape": [1, "T"]}, ())

    def __init__(self, shape: Any, init: Any = "zeros", persistent: bool = True, dtype: Any = None):
        self.shape = _shape(self.op, "shape", shape)
        self.init_name, self.init_args = _initializer(self.op, init)
        self.persistent = self._flag("persistent", persistent)
        self.dtype = None if dtype is None else dtype_name(self.op, dtype)
        if not self.persistent and self.init_name not in _DETERMINISTIC:
            raise SpecError(f"Buffer: a non-persistent buffer is not saved, so its init must be one of "
                            f"{', '.join(_DETERMINISTIC)}, got {self.init_name!r}")

    def infer(self, ctx: RuleContext) -> Shape:
        return ctx.args.shape

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        if not self.persistent:
            return {}
        return {"": ParamSpec(tuple(a.shape), self.init_name, self.init_args, buffer=True, dtype=self.dtype)}

    def output_dtypes(self) -> tuple[str, ...]:
        return (self.dtype or "float32",)

    def forward(self, p: dict[str, np.ndarray], out_shapes: list) -> np.ndarray:
        if self.persistent:
            return p[""]
        shape = tuple(int(d) for d in out_shapes[0])
        return INITIALIZERS[self.init_name](shape, None, np.dtype(self.dtype or "float32"), **self.init_args)


def _number_or_size(op: str, name: str, value: Any) -> Dim | float:
    if isinstance(value, float) or isinstance(value, str) and value.strip().lower() in ("inf", "-inf", "nan"):
        number = float(value)
        if not math.isfinite(number):
            raise SpecError(f"{op}: {name} must be finite, got {value!r}")
        return number
    if isinstance(value, bool):
        raise SpecError(f"{op}: {name} must be a number or a size, got {value!r}")
    try:
        return dims.parse_dim(value)
    except (dims.DimSyntaxError, TypeError) as exc:
        raise SpecError(f"{op}: {name}={value!r} is not a number or a size: {exc}") from None


class Arange(Layer):
    """torch.arange(start, end, step): ``Arange(end)`` counts from 0; length ceil((end - start) / step).
    ``end`` may be a size (``Arange("T")`` is (T,)); start and step are numbers. int64, or float32 when
    a float is given; ``dtype`` overrides."""

    n_inputs = 0
    size_args = ("end",)
    needs_shapes = True
    example = ({"start": "T"}, ())

    def __init__(self, start: Any, end: Any = None, step: Any = 1, dtype: Any = None):
        if end is None:
            start, end = 0, start
        start, end, step = (_number_or_size("Arange", n, v)
                            for n, v in (("start", start), ("end", end), ("step", step)))
        for name, value in (("start", start), ("step", step)):
            if not isinstance(value, (int, float)):
                raise SpecError(f"Arange: {name} must be a number (only end may be a size), got {value}")
        if step == 0:
            raise SpecError("Arange: step must be nonzero")
        self.floats = any(isinstance(v, float) for v in (start, end, step))
        if self.floats and not isinstance(end, (int, float)):
            raise SpecError("Arange: a symbolic end needs integer start and step")
        self.start, self.step = start, step
        self.end = sympy.Float(end) if isinstance(end, float) else end  # a size argument: substitutable
        self.dtype = ("float32" if self.floats else "int64") if dtype is None else dtype_name("Arange", dtype)
        if self.dtype == "bool":
            raise SpecError("Arange: dtype bool is not supported (as in torch)")

    def length(self, end: Dim) -> Dim:
        if self.floats:
            return math.ceil((float(end) - self.start) / self.step)  # in double precision, as torch
        if self.step > 0:
            return dims.ceildiv(end - self.start, self.step)
        return dims.ceildiv(self.start - end, -self.step)

    def value_range(self, args: Any, *ranges: tuple[Dim, Dim] | None) -> tuple[tuple[Dim, Dim] | None, ...]:
        if self.floats:
            return (None,)
        last = self.start + self.step * (self.length(args.end) - 1)
        return ((self.start, last) if self.step > 0 else (last, self.start),)

    def infer(self, ctx: RuleContext) -> Shape | None:
        n = self.length(ctx.args.end)
        ctx.at_least(n, 1, what="length", actual_desc=lambda: f"start {self.start}, end {ctx.args.end}, "
                     f"step {self.step} give {n} elements", fix="An empty or backwards range has no elements; "
                     "check the bounds.")
        return None if type(n) is int and n < 1 else (n,)

    def output_dtypes(self) -> tuple[str, ...]:
        return (self.dtype,)

    def forward(self, p: dict, out_shapes: list) -> np.ndarray:
        """start + step * i, computed in double precision (int64 for integers), then cast as torch."""
        steps = np.arange(int(out_shapes[0][0]), dtype=np.float64 if self.floats else np.int64)
        return np.asarray(self.start + self.step * steps).astype(self.dtype)


class Full(Layer):
    """torch.full(size, fill_value): dtype bool, int64 or float32 after fill_value, unless ``dtype``."""

    n_inputs = 0
    size_args = ("size",)
    needs_shapes = True
    example = ({"size": ["T", "T"], "fill_value": 1.0}, ())

    def __init__(self, size: Any, fill_value: Any, dtype: Any = None):
        self.size = _shape(self.op, "size", size)
        self.fill_value = scalar(self.op, "fill_value", fill_value)
        default = {"bool": "bool", "int": "int64", "float": "float32"}[scalar_kind(self.fill_value)]
        self.dtype = default if dtype is None else dtype_name(self.op, dtype)

    def infer(self, ctx: RuleContext) -> Shape:
        return ctx.args.size

    def output_dtypes(self) -> tuple[str, ...]:
        return (self.dtype,)

    def forward(self, p: dict, out_shapes: list) -> np.ndarray:
        return np.full(tuple(int(d) for d in out_shapes[0]), self.fill_value, dtype=self.dtype)


class Zeros(Full):
    """torch.zeros(size): float32 unless ``dtype``."""

    example = ({"size": ["B", "T"]}, ())

    def __init__(self, size: Any, dtype: Any = None):
        super().__init__(size, 0.0, dtype)


class Ones(Full):
    """torch.ones(size): float32 unless ``dtype``. A causal mask is Ones([T, T]) then Tril."""

    example = ({"size": ["T", "T"]}, ())

    def __init__(self, size: Any, dtype: Any = None):
        super().__init__(size, 1.0, dtype)


class _Triangle(Layer):
    example = ({"diagonal": 0}, ("T, T",))

    def __init__(self, diagonal: int = 0):
        if type(diagonal) is not int:
            raise SpecError(f"{self.op}: diagonal must be an int, got {diagonal!r}")
        self.diagonal = diagonal

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if len(x) < 2:
            ctx.conflict("input rank", "at least 2 (*, rows, columns)", f"{ctx.input_desc()} has rank {len(x)}")
            return None
        return x


class Tril(_Triangle):
    """torch.tril(x, diagonal): zeros above the ``diagonal``-th diagonal of the last two dims."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.tril(x, self.diagonal)


class Triu(_Triangle):
    """torch.triu(x, diagonal): zeros below the ``diagonal``-th diagonal of the last two dims."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.triu(x, self.diagonal)


class SinusoidalPositionalEncoding(Layer):
    """The (num_positions, embedding_dim) table of "Attention is all you need" (D2L's PositionalEncoding),
    no inputs: P[i, 2j] = sin(i / 10000^(2j/d)), P[i, 2j+1] = cos(i / 10000^(2j/d)), d = embedding_dim;
    float32, computed in float32 as D2L's torch code does."""

    n_inputs = 0
    size_args = ("num_positions", "embedding_dim")
    needs_shapes = True
    example = ({"num_positions": "T", "embedding_dim": "D"}, ())

    def __init__(self, num_positions: Any, embedding_dim: Any):
        self.num_positions = self._size("num_positions", num_positions)
        self.embedding_dim = self._size("embedding_dim", embedding_dim)

    def infer(self, ctx: RuleContext) -> Shape:
        return (ctx.args.num_positions, ctx.args.embedding_dim)

    def forward(self, p: dict, out_shapes: list) -> np.ndarray:
        n, d = (int(v) for v in out_shapes[0])
        f32 = np.float32
        angles = np.arange(n, dtype=f32)[:, None] / np.power(f32(10000), np.arange(0, d, 2, dtype=f32) / f32(d))
        table = np.zeros((n, d), dtype=f32)
        table[:, 0::2] = np.sin(angles)
        table[:, 1::2] = np.cos(angles[:, : d // 2])
        return table
