"""torch functions, tensor methods and Python operators in a traced graph -> symshape layers or sizes.

One table, ``HANDLERS``, keyed by a canonical name: ``torch.X`` for torch functions and tensor methods
(``torch.flatten(x, 1)`` and ``x.flatten(1)`` take the same arguments), ``F.X`` for
``torch.nn.functional``, ``operator.X``, ``math.X`` and ``builtins.X``. A handler gets the converter and
the node's arguments with values already mapped (tensors, weights, sizes, Python values); arithmetic on
sizes stays arithmetic on sizes (``x.size(1) // 4``), on tensors it becomes a layer.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Callable

import sympy

from .. import dims
from .convert import Converter, Unsupported
from .values import Condition, Pin, Tensor, Weight

Handler = Callable[[Converter, str, tuple, dict], Any]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn
    return register


# --- values ------------------------------------------------------------------------------------------

def is_tensor(v: Any) -> bool:
    return isinstance(v, (Tensor, Weight))


def is_size(v: Any) -> bool:
    return (type(v) is int) or (isinstance(v, sympy.Expr) and not v.is_number)


def size(v: Any) -> dims.Dim:
    if isinstance(v, sympy.Expr) and v.is_Integer:
        return int(v)
    if not is_size(v):
        raise Unsupported(f"expected a size, got {v!r}")
    return v


def sizes(args: tuple) -> list:
    """``view(a, b)`` or ``view((a, b))``: the sizes as a list."""
    items = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    return [size(v) for v in items]


def number(v: Any) -> Any:
    """A Python scalar operand (an int, float or bool; a symbolic size only where it is an int)."""
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, sympy.Expr) and v.is_number:
        return int(v) if v.is_Integer else float(v)
    raise Unsupported(f"a scalar operand that depends on the sizes ({v}) is not supported")


def arg(args: tuple, kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


def dtype_name(v: Any) -> str:
    import torch

    if isinstance(v, torch.dtype):
        return str(v).removeprefix("torch.")
    if isinstance(v, str):
        return v
    raise Unsupported(f"expected a dtype, got {v!r}")


# --- sizes and metadata ----------------------------------------------------------------------------

@handles("torch.size")
def _size(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    shape = c.shape(args[0])
    d = arg(args, kwargs, 1, "dim")
    return tuple(shape) if d is None else shape[d]


@handles("torch.dim", "torch.ndimension")
def _dim(c: Converter, name: str, args: tuple, kwargs: dict) -> int:
    return len(c.shape(args[0]))


@handles("torch.numel")
def _numel(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return dims.prod(c.shape(args[0]))


@handles("builtins.getattr")
def _getattr(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    obj, attr = args[0], args[1]
    if is_tensor(obj):
        if attr == "shape":
            return c.shape(obj)
        if attr == "ndim":
            return len(c.shape(obj))
        if attr == "dtype":
            return c.dtype(obj)
        if attr == "device":
            return "cpu"
        if attr in ("is_nested", "is_sparse", "is_quantized"):
            return False  # an imported model's tensors are dense and unquantized
        if attr == "T":
            return c.op("Permute", [obj], "permute", dims=list(range(len(c.shape(obj))))[::-1])
        raise Unsupported(f"tensor attribute {attr!r}")
    return getattr(obj, attr)


@handles("operator.getitem")
def _getitem(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    obj, index = args
    if not is_tensor(obj):
        return obj[index]
    return index_tensor(c, obj, index)


@handles("operator.setitem")
def _setitem(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """``x[a:b, c:d] = v`` (a number, int bounds) as a new tensor: ``x`` masked-filled where every dim's
    position is inside its slice. The converter then binds ``x``'s node to it (see Converter.run)."""
    x, index, value = args
    x = c.tensor(x) if isinstance(x, Weight) else x
    items = list(index) if isinstance(index, tuple) else [index]
    if not isinstance(x, Tensor) or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not all(isinstance(i, slice) and i.step in (None, 1) and all(
                b is None or type(b) is int for b in (i.start, i.stop)) for i in items):
        raise Unsupported("item assignment is supported for a number into a block of int step-1 slices of "
                          "a tensor")
    shape = c.shape(x)
    mask = None
    for axis, item in enumerate(items):
        inside = _inside(c, shape[axis], item.start, item.stop)
        if inside is None:
            continue
        for _ in range(len(shape) - 1 - axis):
            inside = c.op("Unsqueeze", [inside], "setitem", dim=-1)
        mask = inside if mask is None else c.op("LogicalAnd", [mask, inside], "setitem")
    if mask is None:
        return c.op("Full", [], "setitem", size=list(shape), fill_value=value, dtype=c.dtype(x))
    return c.op("MaskedFill", [x, mask], "setitem", value=value)


def _inside(c: Converter, length: Any, start: int | None, stop: int | None) -> Any:
    """The bool vector of the positions ``0..length-1`` inside ``[start:stop]`` (Python's clamping), or
    None for the whole dim. A negative bound is compared with the position counted from the end
    (``i - length``), so no bound depends on the size."""
    position = c.op("Arange", [], "setitem", start=0, end=length, dtype="int64")
    from_end = None
    tests = []
    for bound, op in ((start, "Ge"), (stop, "Lt")):
        if bound is None or (op == "Ge" and bound == 0):
            continue
        if bound < 0 and from_end is None:  # i - length, as -(length - 1 - i) - 1
            flipped = c.op("Flip", [position], "setitem", dims=[0])
            from_end = c.op("Sub", [c.op("Neg", [flipped], "setitem")], "setitem", other=1)
        tests.append(c.op(op, [from_end if bound < 0 else position], "setitem", other=bound))
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else c.op("LogicalAnd", tests, "setitem")


def index_tensor(c: Converter, x: Any, index: Any) -> Any:
    """``x[...]`` with ints (Select), slices (Slice), None (Unsqueeze) and one Ellipsis."""
    items = list(index) if isinstance(index, tuple) else [index]
    if any(is_tensor(i) for i in items):
        tensors = [k for k, i in enumerate(items) if is_tensor(i)]
        if tensors != list(range(tensors[0], tensors[-1] + 1)) \
                or any(not (isinstance(i, slice) and i == slice(None)) for i in items[:tensors[0]]) \
                or any(i is not Ellipsis and not (isinstance(i, slice) and i == slice(None))
                       for i in items[tensors[-1] + 1:]):
            raise Unsupported("indexing with tensors is supported for index tensors on consecutive dims")
        return c.op("Index", [x, *(items[k] for k in tensors)], "index", dim=tensors[0])
    rank = len(c.shape(x))
    if Ellipsis in items:
        k = items.index(Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[k:k + 1] = [slice(None)] * (rank - used)
    out, axis = x, 0
    for item in items:
        if item is None:
            out = c.op("Unsqueeze", [out], "unsqueeze", dim=axis)
            axis += 1
        elif isinstance(item, slice):
            if item != slice(None) and item != slice(0, None):
                out = c.op("Slice", [out], "slice", dim=axis, start=item.start, end=item.stop, step=item.step or 1)
            axis += 1
        else:
            out = c.op("Select", [out], "select", dim=axis, index=size(item) if is_size(item) else item)
    return out


@handles("torch.contiguous", "torch.clone", "torch.detach", "F.dropout", "torch.dropout", "F.dropout1d",
         "F.dropout2d", "torch.requires_grad_", "torch.cpu", "F.alpha_dropout")
def _identity(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    if name.startswith("F.") or name == "torch.dropout":
        if arg(args, kwargs, 2, "training", False):
            raise Unsupported("dropout in training mode (import the module in eval mode)")
    return args[0]


@handles("torch.fx._symbolic_trace._assert_is_none")
def _assert_is_none(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """fx's check that an argument left at its default None is None (``forward(x, mask=None)``)."""
    if args[0] is not None:
        raise Unsupported(f"an argument fixed to None while tracing is {args[0]!r}")
    return None


@handles("torch._assert", "torch._check", "torch._assert_async")
def _assert(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    cond = args[0]
    if cond is True:
        return None
    if cond is False:
        raise Unsupported(f"the assertion fails: {args[1] if len(args) > 1 else ''}")
    if isinstance(cond, Condition) and cond.op == "eq":
        for symbol, value in ((cond.a, cond.b), (cond.b, cond.a)):
            if isinstance(symbol, sympy.Symbol) and type(value) is int:
                raise Pin(symbol, value)
    raise Unsupported(f"an assertion on the sizes ({cond}): symshape checks sizes by its shape rules, "
                      "not by assertions")


@handles("torch.to", "torch.type")
def _to(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    import torch

    x = args[0]
    target = kwargs.get("dtype")
    for a in args[1:]:
        if isinstance(a, torch.dtype):
            target = a
        elif is_tensor(a):
            target = c.dtype(a)
    if target is None or dtype_name(target) == c.dtype(x):
        return x
    return c.op("Cast", [x], "to", dtype=dtype_name(target))


@handles("torch.type_as")
def _type_as(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return _to(c, name, (args[0], args[1]), {})


def _cast_to(dtype: str) -> Handler:
    def cast(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        return args[0] if c.dtype(args[0]) == dtype else c.op("Cast", [args[0]], name.split(".")[-1], dtype=dtype)
    return cast


for _name, _dt in (("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"),
                   ("int", "int32"), ("bool", "bool")):
    HANDLERS[f"torch.{_name}"] = _cast_to(_dt)


# --- arithmetic: sizes stay sizes, tensors become layers ------------------------------------------

_SIZE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: dims.total([a, b]) if is_size(a) and is_size(b) else a + b,
    "sub": lambda a, b: dims.difference(a, b) if is_size(a) and is_size(b) else a - b,
    "mul": lambda a, b: dims.prod([a, b]) if is_size(a) and is_size(b) else a * b,
    "floordiv": lambda a, b: dims.floordiv(a, b) if is_size(a) and is_size(b) else a // b,
    "truediv": lambda a, b: a / b if not (is_size(a) and is_size(b)) else (a / b if type(a) is int and type(b) is int
                                                                            else sympy.Rational(1) * a / b),
    "mod": lambda a, b: dims.mod(a, b) if is_size(a) and is_size(b) else a % b,
    "pow": lambda a, b: a ** b,
}

_TENSOR_OPS = {"add": "Add", "sub": "Sub", "mul": "Mul", "truediv": "Div", "pow": "Pow", "floordiv": "Div"}


def _binary(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        a = args[0]
        b = arg(args, kwargs, 1, "other" if op != "pow" else "exponent")
        if not is_tensor(a) and not is_tensor(b):
            return _SIZE_OPS[op](a, b)
        alpha = kwargs.get("alpha", 1)
        extra = {"alpha": alpha} if alpha != 1 else {}
        layer = _TENSOR_OPS.get(op)
        if layer is None:
            raise Unsupported(f"{op} on tensors")
        if op == "floordiv":
            extra["rounding_mode"] = "floor"
        if op == "truediv" and kwargs.get("rounding_mode"):
            extra["rounding_mode"] = kwargs["rounding_mode"]
        key = "exponent" if op == "pow" else "other"
        if is_tensor(a) and is_tensor(b):
            return c.op(layer, [a, b], op, **extra)
        if is_tensor(a):
            return c.op(layer, [a], op, **{key: number(b)}, **extra)
        # a scalar on the left
        if op in ("add", "mul"):
            return c.op(layer, [b], op, other=number(a), **extra)
        if op == "sub":
            return c.op("RSub", [b], "rsub", other=number(a), **extra)
        if op == "truediv":
            return c.op("Mul", [c.op("Reciprocal", [b], "reciprocal")], "mul", other=number(a))
        raise Unsupported(f"a scalar {op} a tensor")
    return handler


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    HANDLERS[f"operator.{_op}"] = _binary(_op)
    HANDLERS[f"operator.i{_op}"] = _binary(_op)
for _t, _op in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv"), ("true_divide", "truediv"),
                ("pow", "pow"), ("floor_divide", "floordiv"), ("multiply", "mul"), ("subtract", "sub"),
                ("add_", "add"), ("mul_", "mul"), ("div_", "truediv"), ("sub_", "sub")):
    HANDLERS[f"torch.{_t}"] = _binary(_op)


@handles("torch.rsub")
def _rsub(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x, other = args[0], arg(args, kwargs, 1, "other")
    if is_tensor(other):
        return c.op("Sub", [other, x], "rsub")
    return c.op("RSub", [x], "rsub", other=number(other), alpha=kwargs.get("alpha", 1))


@handles("operator.neg", "torch.neg")
def _neg(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Neg", [args[0]], "neg") if is_tensor(args[0]) else -args[0]


@handles("operator.matmul", "torch.matmul", "torch.bmm", "torch.mm")
def _matmul(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("MatMul", [args[0], args[1]], "matmul")


@handles("torch.addmm")
def _addmm(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """input + mat1 @ mat2 (Hugging Face's Conv1D), for beta = alpha = 1."""
    if kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1:
        raise Unsupported("torch.addmm with beta or alpha other than 1")
    return c.op("Add", [c.op("MatMul", [args[1], args[2]], "addmm"), args[0]], "addmm")


@handles("torch.cumsum")
def _cumsum(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    if kwargs.get("dtype") is not None:
        raise Unsupported("torch.cumsum with a dtype")
    return c.op("Cumsum", [args[0]], "cumsum", dim=arg(args, kwargs, 1, "dim"))


@handles("torch.diff")
def _diff(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """torch.diff(x, n, dim, prepend, append): differences of neighbours along dim, n times."""
    x, n, d = args[0], arg(args, kwargs, 1, "n", 1), arg(args, kwargs, 2, "dim", -1)
    parts = [arg(args, kwargs, 3, "prepend"), x, arg(args, kwargs, 4, "append")]
    if any(p is not None and not is_tensor(p) for p in parts):
        raise Unsupported("torch.diff with a scalar prepend or append")
    parts = [p for p in parts if p is not None]
    out = parts[0] if len(parts) == 1 else c.op("Concat", parts, "diff", dim=d)
    for _ in range(n):
        later = c.op("Slice", [out], "diff", dim=d, start=1, end=None, step=1)
        earlier = c.op("Slice", [out], "diff", dim=d, start=0, end=-1, step=1)
        out = c.op("Sub", [later, earlier], "diff")
    return out


_COMPARE = {"eq": "Eq", "ne": "Ne", "lt": "Lt", "le": "Le", "gt": "Gt", "ge": "Ge",
            "and_": "LogicalAnd", "or_": "LogicalOr", "xor": "LogicalXor",
            "logical_and": "LogicalAnd", "logical_or": "LogicalOr", "logical_xor": "LogicalXor"}


def _compare(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        a, b = args[0], arg(args, kwargs, 1, "other")
        if not is_tensor(a) and not is_tensor(b):
            return _compare_values(op, a, b)
        if is_tensor(a) and is_tensor(b):
            return c.op(_COMPARE[op], [a, b], op.rstrip("_"))
        if is_tensor(a):
            return c.op(_COMPARE[op], [a], op.rstrip("_"), other=number(b))
        raise Unsupported(f"a scalar on the left of {op}")
    return handler


def _compare_values(op: str, a: Any, b: Any) -> Any:
    """A comparison of sizes or Python values, decided now (a symbolic one must not depend on the sizes)."""
    if op.startswith("logical"):
        raise Unsupported(f"{op} of Python values")
    if is_size(a) and is_size(b) and (type(a) is not int or type(b) is not int):
        gap = dims.difference(a, b)
        if type(gap) is not int:
            return Condition(a, op, b)
        a, b = gap, 0
    return getattr(operator, op)(a, b)


for _op in _COMPARE:
    if not _op.startswith("logical"):
        HANDLERS[f"operator.{_op}"] = _compare(_op)
    HANDLERS[f"torch.{_op.rstrip('_')}"] = _compare(_op)


@handles("operator.invert", "torch.logical_not", "torch.bitwise_not")
def _not(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    if not is_tensor(args[0]):
        return ~args[0]
    if c.dtype(args[0]) != "bool":
        raise Unsupported("bitwise not of a non-bool tensor")
    return c.op("LogicalNot", [args[0]], "logical_not")


def _unary(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        if not is_tensor(x):
            value = number(x)
            return {"Sqrt": math.sqrt, "Exp": math.exp, "Log": math.log, "Abs": abs}[op](value)
        return c.op(op, [x], op.lower())
    return handler


for _fn, _layer in (("sqrt", "Sqrt"), ("rsqrt", "Rsqrt"), ("exp", "Exp"), ("log", "Log"), ("sin", "Sin"),
                    ("cos", "Cos"), ("abs", "Abs"), ("reciprocal", "Reciprocal"), ("erf", "Erf")):
    HANDLERS[f"torch.{_fn}"] = _unary(_layer)
    HANDLERS[f"math.{_fn}"] = _unary(_layer)


@handles("torch.clamp", "torch.clip", "torch.clamp_min", "torch.clamp_max")
def _clamp(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    lo, hi = arg(args, kwargs, 1, "min"), arg(args, kwargs, 2, "max")
    if name == "torch.clamp_max":
        lo, hi = None, lo
    if is_tensor(lo) or is_tensor(hi):
        raise Unsupported("clamp with tensor bounds")
    return c.op("Clamp", [args[0]], "clamp", min=lo, max=hi)


@handles("torch.where")
def _where(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    cond, a, b = args[0], arg(args, kwargs, 1, "input"), arg(args, kwargs, 2, "other")
    inputs = [cond] + [v for v in (a, b) if is_tensor(v)]
    scalars = {k: number(v) for k, v in (("input", a), ("other", b)) if not is_tensor(v)}
    return c.op("Where", inputs, "where", **scalars)


@handles("torch.masked_fill")
def _masked_fill(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    value = arg(args, kwargs, 2, "value")
    if is_tensor(value):
        raise Unsupported("masked_fill with a tensor value")
    return c.op("MaskedFill", [args[0], arg(args, kwargs, 1, "mask")], "masked_fill", value=number(value))


# --- shapes ----------------------------------------------------------------------------------------

@handles("torch.flatten")
def _flatten(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Flatten", [args[0]], "flatten", start_dim=arg(args, kwargs, 1, "start_dim", 0),
                end_dim=arg(args, kwargs, 2, "end_dim", -1))


@handles("torch.view", "torch.reshape")
def _reshape(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    import torch

    if len(args) == 2 and isinstance(args[1], torch.dtype):
        raise Unsupported("view as another dtype")
    target = sizes(args[1:]) if len(args) > 1 else sizes((kwargs.get("shape") or kwargs.get("size"),))
    if tuple(target) == c.shape(args[0]):
        return args[0]
    return c.op("Reshape", [args[0]], name.split(".")[-1], shape=target)


@handles("torch.view_as", "torch.reshape_as")
def _view_as(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Reshape", [args[0]], "reshape", shape=list(c.shape(args[1])))


@handles("torch.permute")
def _permute(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    order = sizes(args[1:]) if len(args) > 1 else list(kwargs["dims"])
    return c.op("Permute", [args[0]], "permute", dims=order)


@handles("torch.transpose", "torch.swapaxes")
def _transpose(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Transpose", [args[0]], "transpose", dim0=arg(args, kwargs, 1, "dim0"),
                dim1=arg(args, kwargs, 2, "dim1"))


@handles("torch.t")
def _t(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return args[0] if len(c.shape(args[0])) < 2 else c.op("Transpose", [args[0]], "t", dim0=0, dim1=1)


@handles("torch.unsqueeze")
def _unsqueeze(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Unsqueeze", [args[0]], "unsqueeze", dim=arg(args, kwargs, 1, "dim"))


@handles("torch.squeeze")
def _squeeze(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Squeeze", [args[0]], "squeeze", dim=arg(args, kwargs, 1, "dim"))


@handles("torch.expand")
def _expand(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    target = sizes(args[1:]) if len(args) > 1 else sizes((kwargs["size"],))
    return c.op("Expand", [args[0]], "expand", size=target)


@handles("torch.expand_as")
def _expand_as(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Expand", [args[0]], "expand", size=list(c.shape(args[1])))


@handles("torch.repeat")
def _repeat(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Repeat", [args[0]], "repeat", repeats=sizes(args[1:]))


@handles("torch.repeat_interleave")
def _repeat_interleave(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    repeats = arg(args, kwargs, 1, "repeats")
    return c.op("RepeatInterleave", [args[0]], "repeat_interleave", repeats=size(repeats),
                dim=arg(args, kwargs, 2, "dim"))


@handles("torch.cat", "torch.concat", "torch.concatenate")
def _cat(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    tensors = [t for t in args[0] if not (isinstance(t, Tensor) and c.shape(t) == (0,))]
    if len(tensors) == 1:
        return tensors[0]
    return c.op("Concat", tensors, "cat", dim=arg(args, kwargs, 1, "dim", 0))


@handles("torch.stack")
def _stack(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    d = arg(args, kwargs, 1, "dim", 0)
    parts = [c.op("Unsqueeze", [t], "unsqueeze", dim=d) for t in args[0]]
    return parts[0] if len(parts) == 1 else c.op("Concat", parts, "stack", dim=d)


@handles("torch.chunk")
def _chunk(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Chunk", [args[0]], "chunk", chunks=arg(args, kwargs, 1, "chunks"), dim=arg(args, kwargs, 2, "dim", 0))


@handles("torch.split")
def _split(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    piece = arg(args, kwargs, 1, "split_size_or_sections", kwargs.get("split_size"))
    d = arg(args, kwargs, 2, "dim", 0)
    if isinstance(piece, (list, tuple)):
        sections = [size(p) for p in piece]
    else:
        length = c.shape(x)[d]
        if type(length) is not int or type(piece) is not int:
            raise Unsupported("split into pieces of a size when the dim is symbolic (the number of outputs "
                              "would depend on the sizes); give the sections")
        sections = [piece] * (length // piece) + ([length % piece] if length % piece else [])
    out = c.op("Split", [x], "split", split_size_or_sections=sections, dim=d)
    return out if isinstance(out, tuple) else (out,)


@handles("torch.unbind")
def _unbind(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    d = arg(args, kwargs, 1, "dim", 0)
    n = c.shape(args[0])[d]
    if type(n) is not int:
        raise Unsupported("unbind of a symbolic dim")
    return tuple(c.op("Select", [args[0]], "select", dim=d, index=i) for i in range(n))


@handles("torch.select")
def _select(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Select", [args[0]], "select", dim=arg(args, kwargs, 1, "dim"), index=arg(args, kwargs, 2, "index"))


@handles("torch.tensor_split")
def _tensor_split(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """``torch.tensor_split(x, indices=(i, j, ...), dim)``: the slices between the indices (Python's clamping)."""
    x = args[0]
    indices = kwargs.get("indices", args[1] if len(args) > 1 and isinstance(args[1], (tuple, list)) else None)
    if indices is None or not all(type(i) is int for i in indices):
        raise Unsupported("tensor_split is supported with a tuple of int indices")
    dim = arg(args, kwargs, 2, "dim", 0)
    bounds = [None, *indices, None]
    return tuple(c.op("Slice", [x], "tensor_split", dim=dim, start=a, end=b, step=1)
                 for a, b in zip(bounds, bounds[1:]))


@handles("torch.narrow")
def _narrow(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Narrow", [args[0]], "narrow", dim=args[1], start=args[2], length=args[3])


@handles("torch.index_select")
def _index_select(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("IndexSelect", [args[0], args[2]], "index_select", dim=args[1])


@handles("torch.gather")
def _gather(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Gather", [args[0], arg(args, kwargs, 2, "index")], "gather", dim=arg(args, kwargs, 1, "dim"))


@handles("torch.roll")
def _roll(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Roll", [args[0]], "roll", shifts=arg(args, kwargs, 1, "shifts"), dims=arg(args, kwargs, 2, "dims"))


@handles("F.pad")
def _pad(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    pad, mode, value = list(arg(args, kwargs, 1, "pad")), arg(args, kwargs, 2, "mode", "constant"), \
        arg(args, kwargs, 3, "value")
    if all(type(v) is int for v in pad) or mode != "constant":
        return c.op("Pad", [args[0]], "pad", pad=pad, mode=mode, value=value)
    return _pad_symbolic(c, args[0], pad, 0.0 if value is None else value)


def _pad_symbolic(c: Converter, x: Any, pad: list, value: Any) -> Any:
    """Constant padding by amounts that are expressions of the input sizes (Swin pads to a multiple of
    its window: ``(w - W % w) % w``), exact and without a Pad layer with symbolic amounts: a block of
    ``amount + 1`` values is concatenated and the one extra value sliced off again (an amount may be 0
    and symshape sizes are positive). Each symbolic amount must be known to be non-negative."""
    out = x
    rank = len(c.shape(x))
    for i in range(len(pad) // 2):
        axis = rank - 1 - i
        for k, amount in ((0, pad[2 * i]), (1, pad[2 * i + 1])):
            if amount == 0:
                continue
            if type(amount) is not int and not (is_size(amount) and size(amount).is_nonnegative):
                raise Unsupported(f"F.pad by {amount}, which is not known to be non-negative")
            if type(amount) is int and amount < 0:
                out = c.op("Slice", [out], "pad", dim=axis, start=-amount if k == 0 else 0,
                           end=None if k == 0 else amount, step=1)
                continue
            block = list(c.shape(out))
            block[axis] = dims.total([size(amount), 1])
            fill = c.op("Full", [], "pad", size=block, fill_value=float(value), dtype=c.dtype(out))
            joined = c.op("Concat", [fill, out] if k == 0 else [out, fill], "pad", dim=axis)
            out = c.op("Slice", [joined], "pad", dim=axis, start=1 if k == 0 else 0,
                       end=None if k == 0 else -1, step=1)
    return out


# --- reductions and normalizations --------------------------------------------------------------------

def _reduce(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        d = arg(args, kwargs, 1, "dim")
        if kwargs.get("dtype") is not None:
            raise Unsupported(f"{name} with a dtype")
        d = list(d) if isinstance(d, (tuple, list)) else d
        return c.op(op, [args[0]], op.lower(), dim=d, keepdim=arg(args, kwargs, 2, "keepdim", False))
    return handler


for _fn, _layer in (("mean", "Mean"), ("sum", "Sum"), ("amax", "Amax"), ("amin", "Amin")):
    HANDLERS[f"torch.{_fn}"] = _reduce(_layer)


@handles("F.normalize")
def _normalize(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    """x / max(||x||_p over ``dim``, eps), as torch: the norm kept as a dim of size 1 and broadcast."""
    x, p = args[0], arg(args, kwargs, 1, "p", 2.0)
    dim, eps = arg(args, kwargs, 2, "dim", 1), arg(args, kwargs, 3, "eps", 1e-12)
    if arg(args, kwargs, 4, "out") is not None:
        raise Unsupported("F.normalize(out=...)")
    if not isinstance(p, (int, float)) or p <= 0:
        raise Unsupported(f"F.normalize with p={p!r}")
    if p == 2:
        powered = c.op("Mul", [x, x], "normalize")
    else:
        magnitude = c.op("Abs", [x], "normalize")
        powered = magnitude if p == 1 else c.op("Pow", [magnitude], "normalize", exponent=float(p))
    total = c.op("Sum", [powered], "normalize", dim=dim, keepdim=True)
    norm = total if p == 1 else (c.op("Sqrt", [total], "normalize") if p == 2
                                 else c.op("Pow", [total], "normalize", exponent=1.0 / p))
    return c.op("Div", [x, c.op("Clamp", [norm], "normalize", min=eps)], "normalize")


@handles("torch.var")
def _var(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    return c.op("Var", [args[0]], "var", dim=arg(args, kwargs, 1, "dim"), keepdim=kwargs.get("keepdim", False),
                correction=kwargs.get("correction", 0 if kwargs.get("unbiased") is False else 1))


def _softmax(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        x, dtype = args[0], arg(args, kwargs, 3 if name.startswith("F.") else 2, "dtype")
        if dtype is not None and dtype_name(dtype) != c.dtype(x):
            x = c.op("Cast", [x], "to", dtype=dtype_name(dtype))
        return c.op(op, [x], op.lower(), dim=arg(args, kwargs, 1, "dim"))
    return handler


for _prefix in ("torch", "F"):
    HANDLERS[f"{_prefix}.softmax"] = _softmax("Softmax")
    HANDLERS[f"{_prefix}.log_softmax"] = _softmax("LogSoftmax")


def _activation(op: str, **defaults: Any) -> Handler:
    """F.relu(x, inplace) and friends: the activation layer (arguments after x by their torch names)."""
    names = list(defaults)

    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        values = {n: arg(args, kwargs, i + 1, n, default) for i, (n, default) in enumerate(defaults.items())}
        values.pop("inplace", None)
        return c.op(op, [args[0]], op.lower(), **{n: values[n] for n in names if n in values})
    return handler


for _fn, _layer, _defaults in (
        ("relu", "ReLU", {"inplace": False}), ("relu6", "ReLU6", {"inplace": False}),
        ("silu", "SiLU", {"inplace": False}), ("hardswish", "Hardswish", {"inplace": False}),
        ("hardsigmoid", "Hardsigmoid", {"inplace": False}), ("mish", "Mish", {"inplace": False}),
        ("gelu", "GELU", {"approximate": "none"}), ("sigmoid", "Sigmoid", {}), ("tanh", "Tanh", {}),
        ("leaky_relu", "LeakyReLU", {"negative_slope": 0.01, "inplace": False}),
        ("elu", "ELU", {"alpha": 1.0, "inplace": False}), ("softplus", "Softplus", {"beta": 1.0, "threshold": 20.0}),
        ("glu", "GLU", {"dim": -1}), ("logsigmoid", "LogSigmoid", {})):
    HANDLERS[f"F.{_fn}"] = _activation(_layer, **_defaults)
    HANDLERS[f"torch.{_fn}"] = _activation(_layer, **{k: v for k, v in _defaults.items() if k != "inplace"})
    HANDLERS[f"torch.{_fn}_"] = HANDLERS[f"torch.{_fn}"]


@handles("F.adaptive_avg_pool2d", "F.adaptive_avg_pool1d", "F.adaptive_max_pool2d")
def _adaptive_pool(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    op = {"F.adaptive_avg_pool2d": "AdaptiveAvgPool2d", "F.adaptive_avg_pool1d": "AdaptiveAvgPool1d",
          "F.adaptive_max_pool2d": "AdaptiveMaxPool2d"}[name]
    return c.op(op, [args[0]], op.lower(), output_size=arg(args, kwargs, 1, "output_size"))


@handles("F.max_pool2d", "F.avg_pool2d", "torch.max_pool2d", "torch.avg_pool2d")
def _pool(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    if "max" in name:
        keys = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        defaults = (None, None, 0, 1, False, False)
        op = "MaxPool2d"
    else:
        keys = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
        defaults = (None, None, 0, False, True, None)
        op = "AvgPool2d"
    values = {k: arg(args, kwargs, i + 1, k, d) for i, (k, d) in enumerate(zip(keys, defaults))}
    if values["stride"] in ((), []):
        values["stride"] = None
    return c.op(op, [args[0]], op.lower(), **values)


@handles("F.interpolate")
def _interpolate(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    keys = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
    values = {k: arg(args, kwargs, i + 1, k, d) for i, (k, d) in enumerate(zip(keys, (None, None, "nearest",
                                                                                     None, None)))}
    if kwargs.get("antialias"):
        raise Unsupported("interpolate with antialias")
    return c.op("Upsample", [args[0]], "interpolate", **values)


@handles("torch.einsum")
def _einsum(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    operands = list(args[1][0] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:])
    return c.op("Einsum", operands, "einsum", equation=args[0])


@handles("F.scaled_dot_product_attention")
def _sdpa(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    q, k, v = args[:3]
    mask = arg(args, kwargs, 3, "attn_mask")
    options = {key: arg(args, kwargs, i, key, d) for i, (key, d) in
               enumerate((("dropout_p", 0.0), ("is_causal", False), ("scale", None)), start=4)}
    options["enable_gqa"] = kwargs.get("enable_gqa", False)
    if options["dropout_p"] and c.module.training:
        raise Unsupported("attention dropout in training mode")
    options["dropout_p"] = 0.0
    return c.op("ScaledDotProductAttention", [q, k, v] + ([mask] if mask is not None else []), "sdpa", **options)


# --- constants made from sizes ----------------------------------------------------------------------------

@handles("torch.arange")
def _arange(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    bounds = [a for a in args if not is_tensor(a)] + [kwargs[k] for k in ("start", "end", "step") if k in kwargs]
    return _arange_layer(c, bounds, kwargs.get("dtype"))


def _arange_layer(c: Converter, bounds: list, dtype: Any) -> Any:
    start, end, step = (0, bounds[0], 1) if len(bounds) == 1 else (bounds + [1])[:3]
    return c.op("Arange", [], "arange", start=start, end=end, step=step,
                dtype=None if dtype is None else dtype_name(dtype))


def _full(fill: Any) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        if name == "torch.full":
            shape, value = sizes((args[0],)), arg(args, kwargs, 1, "fill_value")
        else:
            shape, value = sizes(args if args else (kwargs["size"],)), fill
        dtype = kwargs.get("dtype")
        return c.op("Full", [], name.split(".")[-1], size=shape, fill_value=number(value),
                    dtype=None if dtype is None else dtype_name(dtype))
    return handler


def _full_like(fill: Any) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        value = arg(args, kwargs, 1, "fill_value") if fill is None else fill
        dtype = kwargs.get("dtype")
        return c.op("Full", [], name.split(".")[-1], size=list(c.shape(args[0])), fill_value=number(value),
                    dtype=c.dtype(args[0]) if dtype is None else dtype_name(dtype))
    return handler


HANDLERS["torch.full_like"] = _full_like(None)
HANDLERS["torch.zeros_like"] = _full_like(0)
HANDLERS["torch.ones_like"] = _full_like(1)
HANDLERS["torch.new_zeros"] = lambda c, name, args, kwargs: _new(c, args, kwargs, 0)
HANDLERS["torch.new_ones"] = lambda c, name, args, kwargs: _new(c, args, kwargs, 1)


def _new(c: Converter, args: tuple, kwargs: dict, fill: int) -> Any:
    dtype = kwargs.get("dtype")
    return c.op("Full", [], "new", size=sizes(args[1:]) if len(args) > 1 else sizes((kwargs["size"],)),
                fill_value=fill, dtype=c.dtype(args[0]) if dtype is None else dtype_name(dtype))


@handles("torch._C._log_api_usage_once")
def _ignored(c: Converter, name: str, args: tuple, kwargs: dict) -> None:
    return None


HANDLERS["torch.full"] = _full(None)
HANDLERS["torch.zeros"] = _full(0.0)
HANDLERS["torch.ones"] = _full(1.0)


def _triangle(op: str) -> Handler:
    def handler(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
        return c.op(op, [args[0]], op.lower(), diagonal=arg(args, kwargs, 1, "diagonal", 0))
    return handler


HANDLERS["torch.tril"] = _triangle("Tril")
HANDLERS["torch.triu"] = _triangle("Triu")


# --- Python builtins and math on sizes --------------------------------------------------------------------

@handles("builtins.int", "math.floor", "math.ceil", "builtins.float", "builtins.abs", "builtins.len",
         "builtins.min", "builtins.max", "builtins.round", "builtins.tuple", "builtins.list")
def _python(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    fn = getattr(builtins if name.startswith("builtins.") else math, name.split(".")[1])
    if any(is_tensor(a) for a in args):
        raise Unsupported(f"{name} of a tensor")
    if any(isinstance(a, sympy.Expr) and not a.is_number for a in args):
        if name == "builtins.int":
            return args[0]
        if name in ("builtins.min", "builtins.max") and len(args) == 2:
            return (dims.minimum if name.endswith("min") else dims.maximum)(args[0], args[1])
        raise Unsupported(f"{name} of a symbolic size")
    return fn(*args, **kwargs)


def canonical_names() -> dict[int, str]:
    """id(function) -> canonical name, for the namespaces a traced graph calls into."""
    import torch
    import torch.nn.functional as F

    table: dict[int, str] = {}
    for prefix, namespace in (("builtins", builtins), ("math", math), ("operator", operator), ("torch", torch),
                              ("torch", torch.Tensor), ("torch", torch._C._VariableFunctions), ("F", F),
                              ("F", torch._C._nn)):
        for key in dir(namespace):
            value = getattr(namespace, key, None)
            if callable(value) and not key.startswith("__"):
                table.setdefault(id(value), f"{prefix}.{key}")
    return table


# --- functional forms of layers, on a module's own weights ------------------------------------------

@handles("F.linear")
def _linear(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x, w, b = args[0], arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    out_features, in_features = c.shape(w)
    folded = c.fold("Linear", x, {"weight": w, "bias": b}, in_features=in_features, out_features=out_features,
                    bias=b is not None)
    if folded is not None:
        return folded
    y = c.op("MatMul", [x, c.op("Transpose", [w], "t", dim0=0, dim1=1)], "linear")
    return y if b is None else c.op("Add", [y, b], "add")


@handles("F.layer_norm", "F.group_norm", "F.rms_norm")
def _norm(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    if name == "F.group_norm":
        groups, w, b, eps = (arg(args, kwargs, i, k, d) for i, (k, d) in
                             enumerate((("num_groups", None), ("weight", None), ("bias", None), ("eps", 1e-5)), 1))
        folded = c.fold("GroupNorm", x, {"weight": w, "bias": b}, num_groups=groups, num_channels=c.shape(x)[1],
                        eps=eps, affine=w is not None)
        layer, options = "GroupNorm", {"num_groups": groups, "num_channels": c.shape(x)[1], "eps": eps}
    else:
        shape = list(arg(args, kwargs, 1, "normalized_shape"))
        w = arg(args, kwargs, 2, "weight")
        b = arg(args, kwargs, 3, "bias") if name == "F.layer_norm" else None
        eps = arg(args, kwargs, 4 if name == "F.layer_norm" else 3, "eps", 1e-5 if name == "F.layer_norm" else None)
        layer = "LayerNorm" if name == "F.layer_norm" else "RMSNorm"
        extra = {"bias": b is not None} if layer == "LayerNorm" else {}
        folded = c.fold(layer, x, {"weight": w, "bias": b}, normalized_shape=shape, eps=eps,
                        elementwise_affine=w is not None, **extra)
        options = {"normalized_shape": shape, "eps": eps}
    if folded is not None:
        return folded
    if w is not None and len(c.shape(w)) != 1 and layer == "GroupNorm":
        raise Unsupported("group_norm with an unusual weight")
    affine_off = {"affine": False} if layer == "GroupNorm" else {"elementwise_affine": False}
    y = c.op(layer, [x], layer.lower(), **options, **affine_off, **({"bias": False} if layer == "LayerNorm" else {}))
    if w is not None:
        w = w if layer != "GroupNorm" else c.op("Reshape", [w], "reshape", shape=[-1] + [1] * (len(c.shape(x)) - 2))
        y = c.op("Mul", [y, w], "mul")
    if b is not None:
        b = b if layer != "GroupNorm" else c.op("Reshape", [b], "reshape", shape=[-1] + [1] * (len(c.shape(x)) - 2))
        y = c.op("Add", [y, b], "add")
    return y


@handles("F.embedding")
def _embedding(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    ids, w = args[0], arg(args, kwargs, 1, "weight")
    padding_idx = arg(args, kwargs, 2, "padding_idx")
    if arg(args, kwargs, 3, "max_norm") is not None:
        raise Unsupported("embedding with max_norm (it renormalizes the weights in place)")
    n, d = c.shape(w)
    folded = c.fold("Embedding", ids, {"weight": w}, num_embeddings=n, embedding_dim=d,
                    padding_idx=padding_idx)
    return folded if folded is not None else c.op("Index", [w, ids], "embedding", dim=0)


@handles("F.conv1d", "F.conv2d", "F.conv3d", "torch.conv1d", "torch.conv2d", "torch.conv3d")
def _conv(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x, w, b = args[0], arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    keys = (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))
    options = {k: arg(args, kwargs, i, k, d) for i, (k, d) in enumerate(keys, 3)}
    shape = c.shape(w)
    op = f"Conv{name[-2]}d"
    folded = c.fold(op, x, {"weight": w, "bias": b}, in_channels=shape[1] * options["groups"],
                    out_channels=shape[0], kernel_size=tuple(shape[2:]), bias=b is not None, **options)
    if folded is None:
        raise Unsupported(f"{name} on weights that are not one module's weight and bias")
    return folded


@handles("F.batch_norm")
def _batch_norm(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    x, mean, var = args[0], arg(args, kwargs, 1, "running_mean"), arg(args, kwargs, 2, "running_var")
    w, b = arg(args, kwargs, 3, "weight"), arg(args, kwargs, 4, "bias")
    if arg(args, kwargs, 5, "training", False):
        raise Unsupported("batch_norm in training mode (import the module in eval mode)")
    eps = arg(args, kwargs, 7, "eps", 1e-5)
    rank = len(c.shape(x))
    op = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(rank)
    folded = None if op is None else c.fold(op, x, {"weight": w, "bias": b, "running_mean": mean, "running_var": var},
                                            num_features=c.shape(x)[1], eps=eps, affine=w is not None)
    if folded is None:
        raise Unsupported("batch_norm on statistics that are not one module's buffers")
    return folded


@handles("torchvision.ops.stochastic_depth.stochastic_depth")
def _stochastic_depth(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    if arg(args, kwargs, 3, "training", True):
        raise Unsupported("stochastic depth in training mode (import the module in eval mode)")
    return args[0]


@handles("torch.min", "torch.max", "torch.minimum", "torch.maximum")
def _min_max(c: Converter, name: str, args: tuple, kwargs: dict) -> Any:
    other = arg(args, kwargs, 1, "other")
    if not is_tensor(other):
        raise Unsupported(f"{name} over a dim or of a whole tensor (only the elementwise form of two tensors)")
    return c.op("Minimum" if "min" in name else "Maximum", [args[0], other], name.split(".")[-1])
