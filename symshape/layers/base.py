"""The Layer base class, the rule context layers use to state their shape rules, and the registry.

A layer declares four things and nothing else:
``size_args`` (its arguments that are sizes: may be ``None`` for "infer it" or symbolic),
``infer(ctx, *shapes)`` (its shape rule), ``params(a)`` (its parameters as ``ParamSpec``) and
``forward(p, *arrays)`` (its numpy eval-mode computation). Subclassing registers it by class name.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec, UninitializedParameter

if TYPE_CHECKING:
    from ..propagate import RuleContext

LAYERS: dict[str, type[Layer]] = {}


@functools.cache
def _constructor(cls: type) -> tuple[inspect.Signature, list[str], bool, frozenset[str] | None]:
    """The signature of a layer class's ``__init__``, its argument names, whether it takes any keyword,
    and, when every argument is a plain positional-or-keyword one, the names it requires."""
    signature = inspect.signature(cls.__init__)
    accepted = [p for p in signature.parameters if p != "self"]
    parameters = [signature.parameters[p] for p in accepted]
    plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters)
    required = frozenset(p.name for p in parameters if p.default is p.empty) if plain else None
    return signature, accepted, any(p.kind == p.VAR_KEYWORD for p in parameters), required


def _given(cls: type, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments given, by name in signature order (``Signature.bind``'s ``arguments``)."""
    signature, accepted, _, required = _constructor(cls)
    if required is not None and len(args) <= len(accepted) and not any(k in kwargs for k in accepted[:len(args)]):
        given = dict(zip(accepted, args), **kwargs)
        if required.issubset(given):
            return given if not kwargs else {k: given[k] for k in accepted if k in given}
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise SpecError(f"{cls.__name__}: {exc}; it takes {', '.join(accepted) or 'no arguments'}.") from None
    return {k: v for k, v in bound.arguments.items() if k != "self"}


class Layer:
    """Base of every layer. Constructor arguments follow ``torch.nn`` exactly."""

    size_args: ClassVar[tuple[str, ...]] = ()
    n_inputs: ClassVar[int | tuple[int, ...] | None] = 1  # a count, the allowed counts, or None: two or more
    n_outputs: int = 1  # a layer may set its own (Split with sections)
    needs_shapes: ClassVar[bool] = False  # forward(p, *xs, out_shapes=...) gets its bound output shapes
    needs_args: ClassVar[bool] = False  # forward(p, *xs, args=...) gets its size arguments, bound
    # the catalogue's worked example: constructor arguments and symbolic input shapes (docs/layers.md)
    example: ClassVar[tuple[dict[str, Any], tuple[str, ...]]] = ({}, ("N, C, H, W",))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYERS[cls.__name__] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        self = super().__new__(cls)
        _, accepted, takes_any, _ = _constructor(cls)
        for key in kwargs:
            if key not in accepted and not takes_any:
                close = difflib.get_close_matches(key, accepted, n=2)
                hint = f" Did you mean {' or '.join(close)}?" if close else ""
                raise SpecError(f"{cls.__name__}: unknown argument {key!r}.{hint} "
                                f"{cls.__name__} takes {', '.join(accepted) or 'no arguments'}.", key=key)
        object.__setattr__(self, "_config", _given(cls, args, kwargs))
        object.__setattr__(self, "_values", {})
        return self

    def __init__(self) -> None:
        """Layers without arguments take none."""

    def __getnewargs_ex__(self) -> tuple[tuple, dict[str, Any]]:
        """The constructor arguments, so that copy and pickle rebuild the layer (its state follows)."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        parameters = _constructor(type(self))[0].parameters
        for name, value in self._config.items():
            kind = parameters[name].kind
            if kind == inspect.Parameter.VAR_POSITIONAL:
                args.extend(value)
            elif kind == inspect.Parameter.VAR_KEYWORD:
                kwargs.update(value)
            else:
                kwargs[name] = value
        return tuple(args), kwargs

    # --- the four things a layer declares -------------------------------------------------------
    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape | tuple[Shape, ...]:
        raise NotImplementedError

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        return {}

    def forward(self, p: dict[str, np.ndarray], *xs: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """Multiply-accumulates of one application, given its parameters and input/output shapes.

        The convention is torch.utils.flop_counter's (its FLOPs / 2): the multiplications of matrix
        products and convolutions, every leading dim counted, bias adds not; elementwise work,
        normalization and pooling count 0 (the default). Layers that multiply matrices override it."""
        return 0

    passes_values: bool = False  # outputs hold the first input's values, rearranged (Reshape, Slice, ...)

    def value_range(self, args: Any, *ranges: tuple[Dim, Dim] | None) -> tuple[tuple[Dim, Dim] | None, ...]:
        """The least and greatest value of each output where the analysis knows them (the ids an
        Embedding looks up: ``Arange(T)`` holds 0..T-1), from the inputs' ranges; None: unknown."""
        if self.passes_values and ranges:
            return (ranges[0],) * self.n_outputs
        return (None,) * self.n_outputs

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        """The dtype of each output, from the inputs' dtypes (names of ``symshape.dtypes``).
        Default: every output has the first input's dtype (float32 for a layer with no input).
        Layers that make a new dtype (Embedding: float32; comparisons: bool; Arange: int64) override it."""
        return (dtypes[0] if dtypes else "float32",) * self.n_outputs

    # --- what the interpreter may do with a node (forward.py); nothing unless a layer says so ----
    fresh_output: ClassVar[bool] = False  # forward() returns a new array: an in-place activation may overwrite it
    accepts_into: ClassVar[bool] = False  # forward(..., into=one of its inputs) may write the result there
    has_inplace_form: ClassVar[bool] = False  # apply_inplace(y) computes forward(y) in place

    def fuses_affine(self, out_shape: Shape) -> bool:
        """Whether ``forward(p, x, affine=(scale, shift), activation=f)`` may fold a following per-channel
        affine map on axis 1 (an eval-mode BatchNorm) into this layer, for this output shape."""
        return False

    @property
    def is_affine_in_eval(self) -> bool:
        """Whether ``as_affine`` gives this layer, in eval mode, as a per-channel scale and shift on axis 1."""
        return False

    def as_affine(self, p: dict[str, np.ndarray], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{self.op} is not a per-channel affine map")

    def apply_inplace(self, y: np.ndarray) -> None:
        raise NotImplementedError(f"{self.op} has no in-place form")

    def arity_problem(self, n: int) -> str:
        """Why ``n`` inputs do not suit this layer ("" when they do)."""
        allowed = self.n_inputs
        if allowed is None:
            return "" if n >= 2 else f"takes two or more inputs, got {n}"
        counts = allowed if isinstance(allowed, tuple) else (allowed,)
        if n in counts:
            return ""
        return f"takes {' or '.join(map(str, counts))} input(s), got {n}"

    # --- helpers for constructors ---------------------------------------------------------------
    def _size(self, name: str, value: object, *, optional: bool = False) -> Dim | None:
        """Validate a size argument: a positive int, a symbol name or expression, or None."""
        if value is None:
            if optional:
                return None
            raise SpecError(f"{type(self).__name__}: {name} is required (got None)", key=name)
        try:
            d = dims.parse_dim(value)
        except (dims.DimSyntaxError, TypeError) as exc:
            raise SpecError(f"{type(self).__name__}: {name}={value!r} is not a size: {exc}", key=name) from None
        if type(d) is int and d <= 0:
            raise SpecError(f"{type(self).__name__}: {name} must be a positive size, got {d}", key=name)
        return d

    def _flag(self, name: str, value: object) -> bool:
        """Validate a boolean argument (a YAML ``"yes"`` string is not silently true)."""
        if not isinstance(value, (bool, np.bool_)):
            raise SpecError(f"{type(self).__name__}: {name} must be true or false, got {value!r}", key=name)
        return bool(value)

    # --- introspection --------------------------------------------------------------------------
    @property
    def op(self) -> str:
        return type(self).__name__

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments as given (for spec files and reprs)."""
        return dict(self._config)

    def size_namespace(self, resolved: dict[str, Dim] | None = None) -> SimpleNamespace:
        """Size arguments, with ``None`` shown as a symbol named after the argument."""
        values = {n: getattr(self, n) for n in self.size_args}
        values.update(resolved or {})
        return SimpleNamespace(**{n: dims.sym(n) if v is None else v for n, v in values.items()})

    def param_specs(self) -> dict[str, ParamSpec]:
        return self.params(self.size_namespace())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        specs = self.param_specs()
        if name in specs:
            return UninitializedParameter(specs[name].shape, specs[name].buffer)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{self.op}({args})"

    def __call__(self, *args: Any, name: str | None = None) -> Any:
        from ..wiring import apply_layer

        return apply_layer(self, args, name)


def expand_tuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """torch's ``_single``/``_pair``: an int or a sequence of n positive ints."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or not all(type(v) is int for v in items):
        raise SpecError(f"{op}: {name} must be an int or {n} ints, got {value!r}", key=name)
    return items


def positive_tuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    items = expand_tuple(value, n, name, op)
    if any(v <= 0 for v in items):
        raise SpecError(f"{op}: {name} must be positive, got {value!r}", key=name)
    return items


def nonnegative_tuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    items = expand_tuple(value, n, name, op)
    if any(v < 0 for v in items):
        raise SpecError(f"{op}: {name} must not be negative, got {value!r}", key=name)
    return items


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), stable for large |x| (scipy's expit, imported when first needed)."""
    from scipy.special import expit

    return expit(x)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (scipy's, imported when first needed: it costs 0.3 s at start-up)."""
    from scipy.special import erf as scipy_erf

    return scipy_erf(x)


def normalize_dim_index(dim: int, rank: int) -> int | None:
    """torch's dim wrapping: ``-1`` is the last axis; None when out of range."""
    if -rank <= dim < rank:
        return dim % rank
    return None
