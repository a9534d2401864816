"""ONNX graphs in: ``from_onnx("model.onnx")`` -> a symshape Model whose dim_params are symbols.

The graph is read node by node. A tensor is either *dynamic* (an output of a symshape node) or
*static* (a numpy array known while importing: initializers, Constant nodes, and the size arithmetic
``Shape -> Gather -> Concat`` that exporters write, evaluated here on symbolic sizes: an object array
of ``B``, ``floor(H/2)``). Ops on static tensors are evaluated; ops on dynamic tensors become layers.
Initializers feeding a torch-shaped pattern fold into that layer (Conv + weight + bias -> Conv2d,
Gemm or MatMul + Add -> Linear, BatchNormalization, LayerNormalization, Gather on a table -> Embedding),
named after the initializers (``conv1.weight`` -> node ``conv1``) or else after the ONNX node
(``/layer1/conv1/Conv`` -> ``layer1.conv1``); other initializers become ``Parameter``/``Buffer`` nodes
under their own names. A size read from a tensor (``Shape``) is the size symshape's own analysis gives
for the graph built so far. Every unmapped node is reported at once, in one SpecError.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import dims
from ..errors import SpecError
from ..layers.base import LAYERS, Layer
from ..wiring import InputSpec, Model, NodeSpec, ref_name, state_name

EXTRA_HINT = "install the ONNX extra: pip install 'symshape[onnx]'"
_ELEM_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
                11: "float64"}
_BIG = 2**62  # Slice bounds beyond this mean "to the end"


def onnx_module() -> Any:
    """The ``onnx`` package, imported when first needed; a SpecError naming the extra without it."""
    try:
        import onnx
    except ImportError:
        raise SpecError(f"reading or writing .onnx files needs the onnx package; {EXTRA_HINT}") from None
    return onnx


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... : the first name not yet in ``taken`` (which gets it)."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


@dataclass
class Imported:
    """An imported graph: the model and the initializers' values under the model's state_dict names."""

    model: Model
    weights: dict[str, np.ndarray]


def from_onnx(source: Any) -> Model:
    """A symshape Model from an ``.onnx`` file (path) or an ``onnx.ModelProto``."""
    return read_onnx(source).model


def read_onnx(source: Any) -> Imported:
    """The model and its weights (``{state_dict name: array}``) from an ``.onnx`` file or ModelProto."""
    proto = _load(source)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        raise SpecError(f"{_origin(source)}: ONNX opset {opset} is not supported; symshape reads opset 13 and later "
                        "(re-export with opset_version=17)")
    return _Importer(proto.graph, _origin(source)).run()


def _origin(source: Any) -> str:
    return str(source) if isinstance(source, (str, Path)) else "ONNX model"


def _load(source: Any) -> Any:
    onnx = onnx_module()
    if isinstance(source, onnx.ModelProto):
        return source
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"ONNX file {path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError... for a file that is not ONNX
        raise SpecError(f"{path} is not an ONNX model: onnx cannot parse it ({type(exc).__name__}: "
                        f"{str(exc)[:200]})") from None


class Unsupported(Exception):
    """A node that cannot be mapped; the message says why."""


def _name(text: str) -> str:
    """A valid symshape name: word characters and dots (``/layer1/conv1/Conv`` -> ``layer1.conv1.Conv``)."""
    return re.sub(r"[^\w.]", "_", text.strip("/").replace("/", ".")).strip(".") or "t"


def _symbol_name(text: str) -> str:
    text = re.sub(r"\W", "_", text) or "d"
    return text if not text[0].isdigit() else f"d_{text}"


def _attrs(node: Any) -> dict[str, Any]:
    onnx = onnx_module()
    out = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        if isinstance(value, onnx.TensorProto):
            value = onnx.numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode()
        out[a.name] = value
    return out


def _static(value: Any) -> np.ndarray:
    """A static array: numeric, or an object array of symbolic sizes (ints when they all are)."""
    array = np.asarray(value)
    if array.dtype == object:
        flat = [dims.normalize(v) for v in array.reshape(-1)]
        if all(type(v) is int for v in flat):
            return np.array(flat, dtype=np.int64).reshape(array.shape)
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(array.shape)
    return array


def _ints(value: np.ndarray, what: str) -> list[int]:
    if value.dtype == object:
        raise Unsupported(f"{what} depends on the sizes ({', '.join(map(str, value.reshape(-1)))})")
    return [int(v) for v in np.asarray(value).reshape(-1)]


class _Importer:
    def __init__(self, graph: Any, origin: str):
        onnx = onnx_module()
        self.graph, self.origin = graph, origin
        self.values: dict[str, Any] = {}  # ONNX tensor -> str (a symshape ref) or np.ndarray (static)
        for init in graph.initializer:
            self.values[init.name] = onnx.numpy_helper.to_array(init)
        self.inputs: list[InputSpec] = []
        self.nodes: list[NodeSpec] = []
        self.layers: dict[str, NodeSpec] = {}
        self.weights: dict[str, np.ndarray] = {}
        self.sources: dict[str, dict[str, str]] = {}  # node -> {local param: ONNX initializer name}
        self.taken: set[str] = set()
        self.readers = Counter(name for node in graph.node for name in node.input)
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.absorbed: dict[int, str] = {}  # id of a node folded into an earlier layer -> its output ref
        self.analyses: dict[str, Any] = {}

    # --- the walk ---------------------------------------------------------------------------------
    def run(self) -> Imported:
        for value in self.graph.input:
            if value.name not in self.values:
                self._input(value)
        unsupported: list[str] = []
        unknown: set[str] = set()
        for node in self.graph.node:
            label = f"{node.op_type} {node.name or '(unnamed)'}"
            if id(node) in self.absorbed:
                self.values[node.output[0]] = self.absorbed[id(node)]
                continue
            if any(n in unknown for n in node.input if n):
                unknown.update(node.output)
                if node.op_type not in HANDLERS and node.op_type not in STATIC:
                    unsupported.append(f"{label}: no mapping for {node.op_type}")
                continue
            try:
                self._node(node)
            except Unsupported as exc:
                unsupported.append(f"{label}: {exc}")
                unknown.update(node.output)
        if unsupported:
            raise SpecError(f"{self.origin}: {len(unsupported)} ONNX node(s) cannot be imported: "
                            + "; ".join(unsupported))
        outputs, names = [], []
        for value in self.graph.output:
            v = self.values.get(value.name)
            if not isinstance(v, str):
                raise SpecError(f"{self.origin}: graph output {value.name!r} is a constant; symshape models "
                                "compute their outputs from their inputs")
            outputs.append(v)
            names.append(_name(value.name))
        model = Model._from_parts(self.inputs, self.nodes, outputs, _name(self.graph.name) if self.graph.name
                                  else None, names if len(set(names)) == len(names) else None)
        return Imported(model, self.weights)

    def _input(self, value: Any) -> None:
        t = value.type.tensor_type
        dtype = _ELEM_DTYPES.get(t.elem_type)
        if dtype is None or dtype in ("uint8", "int8", "int16"):
            raise SpecError(f"{self.origin}: input {value.name!r} has ONNX element type {t.elem_type}, which "
                            "symshape inputs do not take (float32, float64, float16, int64, int32, bool)")
        name = self._unique(_name(value.name))
        shape = []
        for axis, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            else:
                shape.append(dims.sym(_symbol_name(d.dim_param or f"{name}_{axis}")))
        self.inputs.append(InputSpec(name, tuple(shape), dtype))
        self.values[value.name] = name

    def _node(self, node: Any) -> None:
        a = _attrs(node)
        ins = [self.values.get(n) if n else None for n in node.input]
        for n, v in zip(node.input, ins):
            if n and v is None:
                raise Unsupported(f"input {n!r} is not produced by any earlier node")
        dynamic = any(isinstance(v, str) for v in ins)
        if node.op_type == "Expand" and isinstance(ins[1], np.ndarray) and ins[1].dtype == object:
            dynamic = True  # a constant (ViT's class token) expanded to symbolic sizes: an Expand layer
        if not dynamic and node.op_type in STATIC:
            outs = STATIC[node.op_type](self, a, *ins)
        elif node.op_type == "Shape" or (dynamic and node.op_type in HANDLERS):
            outs = HANDLERS[node.op_type](self, node, a, *ins)
        elif not dynamic and all(v is None or v.dtype != object for v in ins):
            outs = _reference(node, ins)
        else:
            raise Unsupported(f"no mapping for {node.op_type}" + ("" if dynamic else " on constants"))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, value in zip(node.output, outs):
            if name:
                self.values[name] = value if isinstance(value, str) else _static(value)

    # --- building -----------------------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        return unique_name(base, self.taken)

    def node_name(self, node: Any, module: bool = False) -> str:
        """``/layer1/relu/Relu`` -> ``layer1.relu.Relu``, or for a layer with parameters (``module``) the
        torch module path ``/layer1/conv1/Conv`` -> ``layer1.conv1``; ``node_relu_1`` -> ``relu_1``."""
        text = node.name or node.op_type.lower()
        parts = [p for p in text.strip("/").split("/") if p]
        if module and len(parts) > 1 and parts[-1].split("_")[0] == node.op_type:
            parts = parts[:-1]
        return _name(".".join(parts).removeprefix("node_"))

    def add(self, layer: Layer, inputs: list[str], name: str, owner: str | None = None) -> str | list[str]:
        spec = NodeSpec(name, layer, tuple(inputs), owner)
        self.nodes.append(spec)
        if owner is None:
            self.layers[name] = spec
        return name if layer.n_outputs == 1 else [ref_name(name, i) for i in range(layer.n_outputs)]

    def layer(self, node: Any, op: str, inputs: list[Any], *args: Any, **kwargs: Any) -> str | list[str]:
        """A parameterless layer ``op(*args, **kwargs)`` on ``inputs`` (static ones become constants)."""
        refs = [self.tensor(v, f"{self.node_name(node)}.const") for v in inputs]
        try:
            built = LAYERS[op](*args, **kwargs)
        except SpecError as exc:
            raise Unsupported(str(exc)) from None
        return self.add(built, refs, self._unique(self.node_name(node)))

    def tensor(self, value: Any, name: str) -> str:
        """A ref for a value: a dynamic one as it is, a static array as a Parameter/Buffer node."""
        if isinstance(value, str):
            return value
        array = np.asarray(value)
        if array.dtype == object:
            raise Unsupported(f"a tensor of sizes ({', '.join(map(str, array.reshape(-1)))}) is used as data")
        key = self._unique(_name(name))
        shape = list(array.shape)
        if array.dtype == np.float32:
            layer = LAYERS["Parameter"](shape)
        else:
            layer = LAYERS["Buffer"](shape, dtype=array.dtype.name)
        self.weights[state_name(key, "")] = array
        return self.add(layer, [], key)

    def fold(self, node: Any, layer: Layer, params: dict[str, tuple[np.ndarray, str | None]],
             inputs: list[str]) -> str | list[str]:
        """A layer with parameters taken from initializers. Named after them (``conv1.weight`` -> ``conv1``)
        when their names say so, else after the ONNX node; the same initializers used again share the layer."""
        given = {k: v for k, v in params.items() if v[0] is not None}
        sources = {k: name for k, (_, name) in given.items() if name}
        prefixes = {name[:-len(local) - 1] for local, name in sources.items() if name.endswith(f".{local}")}
        candidates = [p for p in prefixes if p and _name(p) == p] if len(prefixes) == 1 else []
        for owner in candidates + [n for n, s in self.sources.items() if s == sources and sources]:
            spec = self.layers.get(owner)
            if spec is not None and spec.layer.config == layer.config and self.sources.get(owner) == sources:
                return self.add(spec.layer, inputs, self._unique(f"{owner}_shared"), owner)
        name = candidates[0] if candidates and candidates[0] not in self.taken else None
        name = self._unique(name or self.node_name(node, module=True))
        for local, (array, _) in given.items():
            self.weights[state_name(name, local)] = array
        self.sources[name] = sources
        return self.add(layer, inputs, name)

    # --- what the analysis says -----------------------------------------------------------------------
    def analysis(self, ref: str) -> Any:
        if ref not in self.analyses:
            model = Model._from_parts(self.inputs, list(self.nodes), [ref])
            self.analyses[ref] = model.infer(strict=False)
        return self.analyses[ref]

    def shape(self, ref: str) -> tuple:
        shape = self.analysis(ref).shapes.get(ref)
        if shape is None:
            raise Unsupported("the shape of its input is unknown (an earlier shape error)")
        return tuple(shape)


# =====================================================================================================
# static evaluation: ops on arrays known while importing (sizes included, as object arrays)


def _floordiv(a: Any, b: Any) -> Any:
    return dims.floordiv(dims.normalize(a), dims.normalize(b))


def _elementwise(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], np.ndarray]:
    return np.frompyfunc(fn, 2, 1)


def _static_div(imp: _Importer, a: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f" or y.dtype.kind == "f":
        return (x / y).astype(np.result_type(x, y))
    if x.dtype == object or y.dtype == object:
        return _elementwise(_floordiv)(x, y)
    return np.trunc(x / y).astype(np.result_type(x, y)) if (x < 0).any() or (y < 0).any() else x // y


def _static_equal(imp: _Importer, a: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype != object and y.dtype != object:
        return np.equal(x, y)

    def equal(p: Any, q: Any) -> bool:
        p, q = dims.normalize(p), dims.normalize(q)
        if type(p) is int and type(q) is int or dims.definitely_equal(p, q):
            return p == q
        if type(q) is int and q <= 0 or type(p) is int and p <= 0:
            return False  # sizes are positive
        raise Unsupported(f"whether {p} == {q} depends on the sizes")

    return _elementwise(equal)(x, y).astype(bool)


def _static_slice(imp: _Importer, a: dict, x: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  axes: np.ndarray | None = None, steps: np.ndarray | None = None) -> np.ndarray:
    starts, ends = _ints(starts, "Slice starts"), _ints(ends, "Slice ends")
    axes = list(range(len(starts))) if axes is None else _ints(axes, "Slice axes")
    steps = [1] * len(starts) if steps is None else _ints(steps, "Slice steps")
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[ax] = slice(max(min(s, _BIG), -_BIG), max(min(e, _BIG), -_BIG), st)
    return x[tuple(index)]


def _axes(a: dict, given: np.ndarray | None) -> list[int] | None:
    if given is not None:
        return _ints(given, "axes")
    return list(a["axes"]) if "axes" in a else None


def _static_unsqueeze(imp: _Importer, a: dict, x: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    wanted = _axes(a, axes) or []
    rank = x.ndim + len(wanted)
    for ax in sorted(v % rank for v in wanted):
        x = np.expand_dims(x, ax)
    return x


def _static_squeeze(imp: _Importer, a: dict, x: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    wanted = _axes(a, axes)
    return np.squeeze(x) if wanted is None else np.squeeze(x, axis=tuple(v % x.ndim for v in wanted))


def _static_cast(imp: _Importer, a: dict, x: np.ndarray) -> np.ndarray:
    dtype = _ELEM_DTYPES.get(a["to"])
    if dtype is None:
        raise Unsupported(f"Cast to ONNX element type {a['to']}")
    if x.dtype == object:
        if dtype.startswith("int"):
            return x
        raise Unsupported(f"the sizes ({', '.join(map(str, x.reshape(-1)))}) are used as {dtype} data")
    return x.astype(dtype)


def _static_constant(imp: _Importer, a: dict) -> np.ndarray:
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(a[key], dtype=dtype)
    raise Unsupported(f"Constant with {', '.join(a) or 'no value'}")


def _static_constant_of_shape(imp: _Importer, a: dict, shape: np.ndarray) -> np.ndarray:
    value = np.asarray(a.get("value", np.zeros(1, np.float32))).reshape(-1)
    return np.full(_ints(shape, "ConstantOfShape shape"), value[0], dtype=value.dtype)


def _static_gather(imp: _Importer, a: dict, x: np.ndarray, index: np.ndarray) -> np.ndarray:
    return np.take(x, index, axis=a.get("axis", 0))


def _static_concat(imp: _Importer, a: dict, *xs: np.ndarray) -> np.ndarray:
    if any(x.dtype == object for x in xs):
        xs = tuple(x.astype(object) for x in xs)
    return np.concatenate(xs, axis=a.get("axis", 0))


def _reference(node: Any, ins: list[np.ndarray | None]) -> list[np.ndarray]:
    """Any other op on numeric constants (swin_v2's relative-position MLP, Swin's ScatterND-built
    masks), evaluated by ONNX's own reference implementation."""
    from onnx.reference import ReferenceEvaluator

    feeds = {name: value for name, value in zip(node.input, ins) if name}
    try:
        return ReferenceEvaluator(node).run(None, feeds)
    except Exception as exc:  # the reference raises anything from NotImplementedError to IndexError
        raise Unsupported(f"onnx.reference cannot evaluate it on constants ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]})") from None


def _numpy(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def run(imp: _Importer, a: dict, *xs: np.ndarray) -> np.ndarray:
        return np.asarray(fn(*xs))

    return run


STATIC: dict[str, Callable[..., Any]] = {
    "Constant": _static_constant,
    "ConstantOfShape": _static_constant_of_shape,
    "Identity": _numpy(lambda x: x),
    "Gather": _static_gather,
    "Concat": _static_concat,
    "Unsqueeze": _static_unsqueeze,
    "Squeeze": _static_squeeze,
    "Slice": _static_slice,
    "Cast": _static_cast,
    "Add": _numpy(lambda x, y: x + y),
    "Sub": _numpy(lambda x, y: x - y),
    "Mul": _numpy(lambda x, y: x * y),
    "Div": _static_div,
    "Mod": _numpy(lambda x, y: _elementwise(lambda p, q: dims.mod(dims.normalize(p), dims.normalize(q)))(x, y)
                  if x.dtype == object or y.dtype == object else np.mod(x, y)),
    "Neg": _numpy(lambda x: -x),
    "Sqrt": _numpy(np.sqrt),
    "Reciprocal": _numpy(lambda x: 1 / x),
    "Equal": _static_equal,
    "Not": _numpy(np.logical_not),
    "Where": _numpy(np.where),
    "Max": _numpy(lambda *xs: _elementwise(lambda p, q: dims.maximum(dims.normalize(p), dims.normalize(q)))(*xs)
                  if len(xs) == 2 else np.maximum.reduce(xs)),
    "Min": _numpy(lambda *xs: _elementwise(lambda p, q: dims.minimum(dims.normalize(p), dims.normalize(q)))(*xs)
                  if len(xs) == 2 else np.minimum.reduce(xs)),
    "Reshape": lambda imp, a, x, shape: x.reshape(_ints(shape, "Reshape shape")),
    "Expand": lambda imp, a, x, shape: np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(_ints(shape, "shape")))),
    "Transpose": lambda imp, a, x: np.transpose(x, a.get("perm")),
    "MatMul": _numpy(np.matmul),
    "Pow": _numpy(lambda x, y: np.power(x, y).astype(x.dtype)),  # ONNX: the base's dtype
    "Exp": _numpy(np.exp), "Log": _numpy(np.log), "Abs": _numpy(np.abs), "Sign": _numpy(np.sign),
    "Range": _numpy(lambda start, limit, delta: np.arange(start.item(), limit.item(), delta.item(),
                                                          dtype=np.result_type(start, limit, delta))),
}


# =====================================================================================================
# dynamic ops: each handler gets the importer, the node, its attributes and its inputs (refs or arrays)


def _scalar(value: Any) -> Any:
    """A size-1 static array as a Python number, else None."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype != object:
        return value.reshape(-1)[0].item()
    return None


def _unary(op: str, **fixed: Any) -> Callable[..., Any]:
    def handler(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
        return imp.layer(node, op, [x], **fixed)

    return handler


def _binary(op: str, reverse: str | None = None) -> Callable[..., Any]:
    """x op y; a size-1 constant operand becomes the scalar ``other``."""
    def handler(imp: _Importer, node: Any, a: dict, x: Any, y: Any) -> Any:
        if isinstance(x, str) and _scalar(y) is not None:
            return imp.layer(node, op, [x], other=_scalar(y)) if op != "Pow" else imp.layer(node, op, [x], _scalar(y))
        if isinstance(y, str) and _scalar(x) is not None and reverse:
            return imp.layer(node, reverse, [y], other=_scalar(x))
        return imp.layer(node, op, [x, y])

    return handler


def _commutative(op: str) -> Callable[..., Any]:
    return _binary(op, op)


def _div(imp: _Importer, node: Any, a: dict, x: Any, y: Any) -> Any:
    if isinstance(y, str) and _scalar(x) == 1:
        return imp.layer(node, "Reciprocal", [y])
    return _binary("Div")(imp, node, a, x, y)


def _conv(imp: _Importer, node: Any, a: dict, x: Any, w: Any, b: Any = None) -> Any:
    if not isinstance(w, np.ndarray):
        raise Unsupported("its weight is computed in the graph (symshape convolutions own their weights)")
    n, group = w.ndim - 2, a.get("group", 1)
    padding = _pads(a, n)
    transposed = node.op_type == "ConvTranspose"
    kwargs = dict(kernel_size=tuple(w.shape[2:]), stride=tuple(a.get("strides", [1] * n)), padding=padding,
                  dilation=tuple(a.get("dilations", [1] * n)), groups=group, bias=b is not None)
    if transposed:
        if a.get("output_shape"):
            raise Unsupported("ConvTranspose with output_shape")
        op, channels = f"ConvTranspose{n}d", (w.shape[0], w.shape[1] * group)
        kwargs["output_padding"] = tuple(a.get("output_padding", [0] * n))
    else:
        op, channels = f"Conv{n}d", (w.shape[1] * group, w.shape[0])
    if op not in LAYERS:
        raise Unsupported(f"a {n}-d convolution")
    layer = LAYERS[op](*channels, **kwargs)
    return imp.fold(node, layer, {"weight": (w, node.input[1]), "bias": (b, _input_name(node, 2))}, [x])


def _input_name(node: Any, i: int) -> str | None:
    return node.input[i] if len(node.input) > i and node.input[i] else None


def _pads(a: dict, n: int) -> tuple[int, ...]:
    auto = a.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return (0,) * n
    if auto != "NOTSET":
        raise Unsupported(f"auto_pad={auto}")
    pads = list(a.get("pads", [0] * 2 * n))
    if pads[:n] != pads[n:]:
        raise Unsupported(f"asymmetric pads {pads} (torch pads both sides equally)")
    return tuple(pads[:n])


def _gemm(imp: _Importer, node: Any, a: dict, x: Any, w: Any, c: Any = None) -> Any:
    if not isinstance(x, str) or not isinstance(w, np.ndarray) or a.get("transA", 0):
        raise Unsupported("only Gemm of a tensor by a weight initializer (transA=0) maps to Linear")
    weight = (w if a.get("transB", 0) else w.T) * np.float32(a.get("alpha", 1.0))
    bias = None
    if c is not None:
        if not isinstance(c, np.ndarray):
            raise Unsupported("its bias is computed in the graph")
        bias = np.broadcast_to(c * np.float32(a.get("beta", 1.0)), (weight.shape[0],)).astype(weight.dtype)
    layer = LAYERS["Linear"](weight.shape[1], weight.shape[0], bias=bias is not None)
    return imp.fold(node, layer, {"weight": (np.ascontiguousarray(weight), node.input[1]),
                                  "bias": (bias, _input_name(node, 2))}, [x])


def _matmul(imp: _Importer, node: Any, a: dict, x: Any, y: Any) -> Any:
    if isinstance(x, str) and isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype.kind == "f":
        bias, bias_name = None, None
        readers = imp.consumers.get(node.output[0], [])
        is_output = node.output[0] in {o.name for o in imp.graph.output}
        if len(readers) == 1 and readers[0].op_type == "Add" and not is_output:
            other = [n for n in readers[0].input if n != node.output[0]]
            value = imp.values.get(other[0]) if len(other) == 1 else None
            if isinstance(value, np.ndarray) and value.shape == (y.shape[1],) and value.dtype == y.dtype:
                bias, bias_name = value, other[0]
        layer = LAYERS["Linear"](y.shape[0], y.shape[1], bias=bias is not None)
        out = imp.fold(node, layer, {"weight": (np.ascontiguousarray(y.T), node.input[1]),
                                     "bias": (bias, bias_name)}, [x])
        if bias is not None:
            imp.absorbed[id(readers[0])] = out
        return out
    return imp.layer(node, "MatMul", [x, y])


def _batch_norm(imp: _Importer, node: Any, a: dict, x: Any, scale: Any, b: Any, mean: Any, var: Any) -> Any:
    if not all(isinstance(v, np.ndarray) for v in (scale, b, mean, var)):
        raise Unsupported("its statistics are computed in the graph")
    if len(node.output) > 1 and any(node.output[1:]) or a.get("training_mode", 0):
        raise Unsupported("training-mode BatchNormalization")
    rank = len(imp.shape(x))
    op = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(rank)
    if op is None:
        raise Unsupported(f"BatchNormalization of a rank-{rank} tensor")
    layer = LAYERS[op](len(scale), eps=float(a.get("epsilon", 1e-5)))
    names = [_input_name(node, i) for i in range(1, 5)]
    params = {k: (v, n) for k, v, n in zip(("weight", "bias", "running_mean", "running_var"), (scale, b, mean, var),
                                           names)}
    params["num_batches_tracked"] = (np.array(0, dtype=np.int64), None)
    return imp.fold(node, layer, params, [x])


def _layer_norm(imp: _Importer, node: Any, a: dict, x: Any, scale: Any, b: Any = None) -> Any:
    if not isinstance(scale, np.ndarray) or b is not None and not isinstance(b, np.ndarray):
        raise Unsupported("its scale or bias is computed in the graph")
    if len(node.output) > 1 and any(node.output[1:]):
        raise Unsupported("the mean and inverse deviation outputs")
    axis = a.get("axis", -1)
    shape = imp.shape(x)
    normalized = tuple(shape[axis:])
    if any(type(d) is not int for d in normalized):
        raise Unsupported(f"normalizing over symbolic sizes {normalized}")
    layer = LAYERS["LayerNorm"](list(normalized), eps=float(a.get("epsilon", 1e-5)), bias=b is not None)
    weight = np.broadcast_to(scale, normalized).astype(scale.dtype)
    bias = None if b is None else np.broadcast_to(b, normalized).astype(b.dtype)
    return imp.fold(node, layer, {"weight": (weight, node.input[1]), "bias": (bias, _input_name(node, 2))}, [x])


def _gather(imp: _Importer, node: Any, a: dict, x: Any, index: Any) -> Any:
    axis = a.get("axis", 0)
    if isinstance(x, np.ndarray) and x.ndim == 2 and axis == 0 and x.dtype.kind == "f":
        layer = LAYERS["Embedding"](x.shape[0], x.shape[1])
        return imp.fold(node, layer, {"weight": (x, node.input[0])}, [index])
    if isinstance(index, np.ndarray) and index.ndim == 0:
        return imp.layer(node, "Select", [x], axis, int(index))
    return imp.layer(node, "Index", [x, index], axis)


def _shape(imp: _Importer, node: Any, a: dict, x: Any) -> np.ndarray:
    shape = x.shape if isinstance(x, np.ndarray) else imp.shape(x)
    rank = len(shape)
    start, end = a.get("start", 0), a.get("end", rank)
    out = np.empty(rank, dtype=object)
    out[:] = list(shape)
    return out[slice(start if start >= 0 else start + rank, end if end >= 0 else end + rank)]


def _reshape(imp: _Importer, node: Any, a: dict, x: Any, shape: Any) -> Any:
    if not isinstance(shape, np.ndarray):
        raise Unsupported("its target shape is computed from data, not from sizes")
    target = [dims.normalize(v) for v in shape.reshape(-1)]
    if 0 in target:
        if a.get("allowzero", 0):
            raise Unsupported("a zero size with allowzero=1")
        source = imp.shape(x)
        target = [source[i] if d == 0 else d for i, d in enumerate(target)]
    return imp.layer(node, "Reshape", [x], target)


def _flatten(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
    axis = a.get("axis", 1)
    if axis == 1:
        return imp.layer(node, "Flatten", [x])
    shape = imp.shape(x)
    axis = axis % max(len(shape), 1) if axis < 0 else axis
    return imp.layer(node, "Reshape", [x], [dims.prod(shape[:axis]), dims.prod(shape[axis:])])


def _transpose(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
    perm = a.get("perm") or list(range(len(imp.shape(x))))[::-1]
    return imp.layer(node, "Permute", [x], list(perm))


def _softmax(op: str) -> Callable[..., Any]:
    def handler(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
        return imp.layer(node, op, [x], a.get("axis", -1))

    return handler


def _concat(imp: _Importer, node: Any, a: dict, *xs: Any) -> Any:
    return imp.layer(node, "Concat", list(xs), a["axis"])


def _unsqueeze(imp: _Importer, node: Any, a: dict, x: Any, axes: Any = None) -> Any:
    wanted = _axes(a, axes) or []
    if len(wanted) == 1 and wanted[0] >= 0:
        return imp.layer(node, "Unsqueeze", [x], wanted[0])
    shape = list(imp.shape(x))
    rank = len(shape) + len(wanted)
    for ax in sorted(v % rank for v in wanted):
        shape.insert(ax, 1)
    return imp.layer(node, "Reshape", [x], shape)


def _squeeze(imp: _Importer, node: Any, a: dict, x: Any, axes: Any = None) -> Any:
    wanted = _axes(a, axes)
    return imp.layer(node, "Squeeze", [x], None if wanted is None else list(wanted))


def _slice(imp: _Importer, node: Any, a: dict, x: Any, starts: Any, ends: Any, axes: Any = None,
           steps: Any = None) -> Any:
    values = [v for v in (starts, ends, axes, steps) if v is not None]
    if not all(isinstance(v, np.ndarray) for v in values):
        raise Unsupported("its bounds are computed from data")
    bounds = [[dims.normalize(v) for v in b.reshape(-1)] for b in (starts, ends)]
    axes = list(range(len(bounds[0]))) if axes is None else _ints(axes, "Slice axes")
    steps = [1] * len(axes) if steps is None else _ints(steps, "Slice steps")
    if any(s <= 0 for s in steps):
        raise Unsupported(f"negative slice steps {steps}")
    out = x
    for start, end, axis, step in zip(*bounds, axes, steps):
        start = None if type(start) is int and (start == 0 or start <= -_BIG) else start
        end = None if type(end) is int and end >= _BIG else end
        out = imp.layer(node, "Slice", [out], axis, start, end, step)
    return out


def _split(imp: _Importer, node: Any, a: dict, x: Any, split: Any = None) -> Any:
    axis = a.get("axis", 0)
    sections = a.get("split") if split is None else _ints(split, "Split sizes")
    if sections:
        return imp.layer(node, "Split", [x], list(sections), axis)
    return imp.layer(node, "Chunk", [x], a.get("num_outputs", len(node.output)), axis)


def _expand(imp: _Importer, node: Any, a: dict, x: Any, shape: Any) -> Any:
    if not isinstance(shape, np.ndarray):
        raise Unsupported("its target shape is computed from data")
    target = [dims.normalize(v) for v in shape.reshape(-1)]
    rank = x.ndim if isinstance(x, np.ndarray) else len(imp.shape(x))
    lead = max(len(target) - rank, 0)
    size = [-1] * (rank - len(target)) + [d if i < lead or d != 1 else -1 for i, d in enumerate(target)]
    return imp.layer(node, "Expand", [x], size)


def _where(imp: _Importer, node: Any, a: dict, cond: Any, x: Any, y: Any) -> Any:
    sx, sy = _scalar(x), _scalar(y)
    tensors = [cond] + [v for v, s in ((x, sx), (y, sy)) if s is None]
    return imp.layer(node, "Where", tensors, input=sx, other=sy)


def _clip(imp: _Importer, node: Any, a: dict, x: Any, low: Any = None, high: Any = None) -> Any:
    low, high = (a.get("min") if low is None else _scalar(low)), (a.get("max") if high is None else _scalar(high))
    if low == 0 and high == 6:
        return imp.layer(node, "ReLU6", [x])
    return imp.layer(node, "Clamp", [x], low, high)


def _pool(kind: str) -> Callable[..., Any]:
    def handler(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
        if len(node.output) > 1 and any(node.output[1:]):
            raise Unsupported("pooling indices")
        kernel = tuple(a["kernel_shape"])
        n = len(kernel)
        kwargs: dict[str, Any] = dict(stride=tuple(a.get("strides", [1] * n)), padding=_pads(a, n),
                                      ceil_mode=bool(a.get("ceil_mode", 0)))
        if kind == "Max":
            kwargs["dilation"] = tuple(a.get("dilations", [1] * n))
        else:
            if any(d != 1 for d in a.get("dilations", [1] * n)):
                raise Unsupported("dilated average pooling")
            kwargs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        return imp.layer(node, f"{kind}Pool{n}d", [x], kernel, **kwargs)

    return handler


def _global_pool(kind: str) -> Callable[..., Any]:
    def handler(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
        n = len(imp.shape(x)) - 2
        op = f"Adaptive{kind}Pool{n}d"
        if op not in LAYERS:
            raise Unsupported(f"global pooling of a rank-{n + 2} tensor")
        return imp.layer(node, op, [x], 1)

    return handler


def _reduce(op: str) -> Callable[..., Any]:
    def handler(imp: _Importer, node: Any, a: dict, x: Any, axes: Any = None) -> Any:
        wanted = _axes(a, axes)
        keep = bool(a.get("keepdims", 1))
        if not wanted:
            if a.get("noop_with_empty_axes", 0):
                return x
            wanted = list(range(len(imp.shape(x))))
        return imp.layer(node, op, [x], list(wanted), keep)

    return handler


def _identity(imp: _Importer, node: Any, a: dict, x: Any, *rest: Any) -> Any:
    return x


def _gelu(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
    return imp.layer(node, "GELU", [x], a.get("approximate", "none"))


def _cast(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
    dtype = _ELEM_DTYPES.get(a["to"])
    if dtype is None:
        raise Unsupported(f"Cast to ONNX element type {a['to']}")
    return imp.layer(node, "Cast", [x], dtype)


def _prelu(imp: _Importer, node: Any, a: dict, x: Any, slope: Any) -> Any:
    if not isinstance(slope, np.ndarray):
        raise Unsupported("its slope is computed in the graph")
    weight = slope.reshape(-1)
    return imp.fold(node, LAYERS["PReLU"](weight.size), {"weight": (weight, node.input[1])}, [x])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _pad(imp: _Importer, node: Any, a: dict, x: Any, pads: Any = None, value: Any = None, axes: Any = None) -> Any:
    """ONNX pads (all begins, then all ends, first axis first) -> torch's (last dim's before, after, ...)."""
    mode = _PAD_MODES.get(a.get("mode", "constant"))
    if mode is None:
        raise Unsupported(f"mode={a.get('mode')!r}")
    pads = np.asarray(a["pads"]) if pads is None and "pads" in a else pads
    if not isinstance(x, str) or not isinstance(pads, np.ndarray):
        raise Unsupported("its pads are computed from data")
    pads = _ints(pads, "Pad pads")
    rank = len(imp.shape(x))
    wanted = list(range(rank)) if axes is None else [v % rank for v in _ints(axes, "Pad axes")]
    half = len(pads) // 2
    pairs = {axis: (pads[i], pads[half + i]) for i, axis in enumerate(wanted)}
    padded = [axis for axis in range(rank) if pairs.get(axis, (0, 0)) != (0, 0)]
    if not padded:
        return x
    first = min(padded) if mode == "constant" else min(min(padded), max(rank - 2, 0))
    if mode != "constant" and rank - first > 3:
        raise Unsupported(f"{a.get('mode')} padding of axes {padded} of a rank-{rank} tensor (torch pads the "
                          "last 1-3 dims)")
    fill = _scalar(value) if value is not None and mode == "constant" else None
    if value is not None and mode == "constant" and fill is None:
        raise Unsupported("its constant_value is computed in the graph")
    torch_pad = [p for axis in range(rank - 1, first - 1, -1) for p in pairs.get(axis, (0, 0))]
    return imp.layer(node, "Pad", [x], torch_pad, mode, None if fill is None else float(fill))


def _reduce_l2(imp: _Importer, node: Any, a: dict, x: Any, axes: Any = None) -> Any:
    """sqrt(sum(x * x)) over the axes (F.normalize's norm)."""
    squares = imp.layer(node, "Mul", [x, x])
    return imp.layer(node, "Sqrt", [_reduce("Sum")(imp, node, a, squares, axes)])


def _scatter_nd(imp: _Importer, node: Any, a: dict, data: Any, indices: Any, updates: Any) -> Any:
    """``data[indices] = updates`` with constant indices and updates on a computed tensor of known sizes:
    Where(the scattered positions, the scattered constants, data)."""
    if a.get("reduction", "none") != "none":
        raise Unsupported(f"reduction={a['reduction']!r}")
    if not isinstance(indices, np.ndarray) or not isinstance(updates, np.ndarray) or indices.dtype == object:
        raise Unsupported("its indices or updates are computed in the graph")
    shape = imp.shape(data)
    if any(type(d) is not int for d in shape):
        raise Unsupported(f"scattering into a tensor of symbolic sizes {shape}")
    mask = _reference(node, [np.zeros(shape, bool), indices, np.ones(updates.shape, bool)])[0]
    values = _reference(node, [np.zeros(shape, updates.dtype), indices, updates])[0]
    return imp.layer(node, "Where", [mask, values, data])


def _einsum(imp: _Importer, node: Any, a: dict, *xs: Any) -> Any:
    return imp.layer(node, "Einsum", list(xs), a["equation"])


def _hard_sigmoid(imp: _Importer, node: Any, a: dict, x: Any) -> Any:
    if not np.isclose(a.get("alpha", 0.2), 1 / 6) or not np.isclose(a.get("beta", 0.5), 0.5):
        raise Unsupported("HardSigmoid with alpha other than 1/6 (torch's)")
    return imp.layer(node, "Hardsigmoid", [x])


HANDLERS: dict[str, Callable[..., Any]] = {
    "Identity": _identity, "Dropout": _identity,
    "Shape": _shape,
    "Conv": _conv, "ConvTranspose": _conv, "Gemm": _gemm, "MatMul": _matmul,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm, "PRelu": _prelu,
    "Relu": _unary("ReLU"), "Sigmoid": _unary("Sigmoid"), "Tanh": _unary("Tanh"), "Gelu": _gelu,
    "Erf": _unary("Erf"), "Sqrt": _unary("Sqrt"), "Exp": _unary("Exp"), "Log": _unary("Log"),
    "Neg": _unary("Neg"), "Abs": _unary("Abs"), "Reciprocal": _unary("Reciprocal"), "Sin": _unary("Sin"),
    "Cos": _unary("Cos"), "Not": _unary("LogicalNot"), "HardSwish": _unary("Hardswish"),
    "HardSigmoid": _hard_sigmoid, "Softplus": _unary("Softplus"), "Softsign": _unary("Softsign"),
    "Mish": _unary("Mish"), "Selu": _unary("SELU"),
    "LeakyRelu": lambda imp, node, a, x: imp.layer(node, "LeakyReLU", [x], a.get("alpha", 0.01)),
    "Elu": lambda imp, node, a, x: imp.layer(node, "ELU", [x], a.get("alpha", 1.0)),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Add": _commutative("Add"), "Mul": _commutative("Mul"), "Sub": _binary("Sub", "RSub"), "Div": _div,
    "Pow": _binary("Pow"), "Max": _commutative("Maximum"), "Min": _commutative("Minimum"),
    "Equal": _commutative("Eq"), "Less": _binary("Lt", "Gt"), "Greater": _binary("Gt", "Lt"),
    "LessOrEqual": _binary("Le", "Ge"), "GreaterOrEqual": _binary("Ge", "Le"),
    "And": _commutative("LogicalAnd"), "Or": _commutative("LogicalOr"), "Xor": _commutative("LogicalXor"),
    "Where": _where, "Clip": _clip, "Cast": _cast,
    "Concat": _concat, "Transpose": _transpose, "Reshape": _reshape, "Flatten": _flatten,
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Slice": _slice, "Gather": _gather, "Split": _split,
    "Expand": _expand,
    "MaxPool": _pool("Max"), "AveragePool": _pool("Avg"),
    "GlobalAveragePool": _global_pool("Avg"), "GlobalMaxPool": _global_pool("Max"),
    "ReduceMean": _reduce("Mean"), "ReduceSum": _reduce("Sum"), "ReduceMax": _reduce("Amax"),
    "ReduceMin": _reduce("Amin"), "ReduceL2": _reduce_l2,
    "Pad": _pad, "Einsum": _einsum, "ScatterND": _scatter_nd,
}
