"""ONNX out: ``to_onnx(model, "model.onnx")``. Sizes still symbolic are dim_params (``B``, ``H``), the
parameters are initializers under their state_dict names (drawn from a seed, or given weights), and
each layer is written as the ONNX ops computing torch's eval-mode forward. A size an op needs at run
time (a Reshape to ``(B, 16*floor(H/4)**2)``) is computed in the graph from the inputs' shapes.
Recurrent layers take ONNX's gate order, so their weights are written rearranged under
``<node>.W_l0``-style names. Layers without an ONNX translation are listed in one SpecError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import sympy

from .. import dims
from ..analysis import Analysis
from ..errors import SpecError
from ..files import atomic_write
from ..importers.onnx import onnx_module, unique_name
from ..weights import check_weights
from ..wiring import Model, NodeSpec, parse_ref, state_name

DEFAULT_OPSET = 20
_ELEM = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7, "bool": 9, "float16": 10,
         "float64": 11}


class Unsupported(Exception):
    """A layer (or one of its options) has no ONNX translation here; the message says which."""


def to_onnx(model: Model | Analysis, path: str | Path, weights: dict[str, np.ndarray] | None = None, *,
            seed: int = 0, opset: int | None = None, **sizes: Any) -> None:
    """Write ``model`` (a Model, or a ShapeGraph from ``infer``/``bind``) as an ONNX file, atomically.
    ``sizes`` bind symbols first (``B=1``); ``weights`` default to torch's initialization from ``seed``."""
    onnx = onnx_module()
    proto = onnx_model(model, weights, seed=seed, opset=opset, **sizes)
    atomic_write(path, lambda tmp: onnx.save(proto, str(tmp)))


def onnx_model(model: Model | Analysis, weights: dict[str, np.ndarray] | None = None, *, seed: int = 0,
               opset: int | None = None, **sizes: Any) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (see ``to_onnx``), checked with ``onnx.checker``."""
    onnx = onnx_module()
    graph = model if isinstance(model, Analysis) else model.infer()
    if sizes:
        graph = graph.bind(**sizes)
    missing = [f"{n.name} ({n.layer.op})" for n in graph.model.nodes if n.layer.op not in EXPORTERS]
    if missing:
        raise SpecError(f"to_onnx: {len(missing)} layer(s) have no ONNX export: {', '.join(missing)}")
    if weights is None:
        params = graph.materialize(seed=seed)
    else:
        check_weights(weights, graph, "to_onnx weights")
        params = weights
    writer = _Writer(graph, params)
    problems = []
    for node in graph.model.nodes:
        if not all(r in writer.tensors for r in node.inputs):
            continue  # downstream of a layer that could not be exported
        try:
            writer.export(node)
        except Unsupported as exc:
            problems.append(f"{node.name} ({node.layer.op}): {exc}")
    if problems:
        raise SpecError(f"to_onnx: {len(problems)} layer(s) cannot be exported: " + "; ".join(problems))
    proto = writer.proto(opset or DEFAULT_OPSET)
    onnx.checker.check_model(proto)
    return proto


def _dim_proto(d: dims.Dim) -> int | str:
    return d if type(d) is int else str(d)


class _Writer:
    def __init__(self, graph: Analysis, params: dict[str, np.ndarray]):
        self.onnx = onnx_module()
        self.graph, self.params = graph, params
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self.tensors: dict[str, str] = {}  # symshape ref -> ONNX tensor name
        self.taken: set[str] = set()
        self.dims: dict[Any, str] = {}  # size expression -> int64 [1] tensor
        self.symbols: dict[sympy.Symbol, tuple[str, int]] = {}
        for spec in graph.model.inputs:
            self.tensors[spec.name] = self._fresh(spec.name)
            for axis, d in enumerate(graph.inputs[spec.name]):
                if isinstance(d, sympy.Symbol):
                    self.symbols.setdefault(d, (spec.name, axis))

    # --- names, constants, nodes ------------------------------------------------------------------
    def _fresh(self, base: str) -> str:
        return unique_name(base, self.taken)

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        name = self._fresh(hint)
        array = np.asarray(value, dtype=dtype)
        self.initializers[name] = self.onnx.numpy_helper.from_array(np.array(array, order="C"), name)  # 0-d stays 0-d
        return name

    def ints(self, values: list[int], hint: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def op(self, op_type: str, inputs: list[str | None], hint: str, n_out: int = 1, **attrs: Any) -> Any:
        outs = [self._fresh(f"{hint}/{op_type}" + (f"_{i}" if i else "")) for i in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op_type, [i or "" for i in inputs], outs,
                                                     name=self._fresh(f"{hint}/{op_type}_node"), **attrs))
        return outs[0] if n_out == 1 else outs

    def param(self, node: NodeSpec, local: str) -> str | None:
        """The initializer of a node's parameter (its owner's, for a shared layer), or None if it has none."""
        owner = node.owner or node.name
        if local not in self.graph.graph.nodes[owner]["params"]:
            return None
        name = state_name(owner, local)
        if name not in self.initializers:
            self.taken.add(name)
            self.initializers[name] = self.onnx.numpy_helper.from_array(np.ascontiguousarray(self.params[name]), name)
        return name

    def array(self, node: NodeSpec, local: str) -> np.ndarray:
        return np.asarray(self.params[state_name(node.owner or node.name, local)])

    def dtype(self, ref: str) -> str:
        source, index = parse_ref(ref)
        info = self.graph.graph.nodes[source]
        return info["dtype"] if info["kind"] == "input" else info["output_dtypes"][index]

    # --- sizes computed in the graph ----------------------------------------------------------------
    def dim(self, d: dims.Dim, hint: str) -> str:
        """An int64 tensor of shape [1] holding the size ``d`` (an expression of the input sizes)."""
        if type(d) is int:
            return self.ints([d], f"{hint}/size")
        if d in self.dims:
            return self.dims[d]
        if isinstance(d, sympy.Symbol):
            if d not in self.symbols:
                raise Unsupported(f"the size {d} is not the size of an input dim; bind it")
            source, axis = self.symbols[d]
            out = self.op("Shape", [self.tensors[source]], f"{d}", start=axis, end=axis + 1)
        elif isinstance(d, sympy.Add):
            terms = [self.dim(dims.normalize(t), hint) for t in d.args]
            out = terms[0]
            for t in terms[1:]:
                out = self.op("Add", [out, t], hint)
        elif isinstance(d, sympy.Mul):
            factors = [self.dim(dims.normalize(f), hint) for f in d.args]
            out = factors[0]
            for f in factors[1:]:
                out = self.op("Mul", [out, f], hint)
        elif isinstance(d, sympy.Pow) and d.exp.is_Integer and d.exp > 0:
            base = self.dim(dims.normalize(d.base), hint)
            out = base
            for _ in range(int(d.exp) - 1):
                out = self.op("Mul", [out, base], hint)
        elif isinstance(d, sympy.floor):
            numerator, denominator = sympy.fraction(sympy.together(d.args[0]))
            if not denominator.is_Integer:
                raise Unsupported(f"the size {d}")
            out = self.op("Div", [self.dim(dims.normalize(numerator), hint), self.ints([int(denominator)], hint)],
                          hint)
        elif isinstance(d, (sympy.Max, sympy.Min)):
            args = [self.dim(dims.normalize(a), hint) for a in d.args]
            out = self.op("Max" if isinstance(d, sympy.Max) else "Min", args, hint)
        else:
            raise Unsupported(f"the size {d} cannot be computed in an ONNX graph")
        self.dims[d] = out
        return out

    def shape(self, sizes: tuple, hint: str, infer_one: bool = True) -> str:
        """An int64 shape tensor; with ``infer_one``, one symbolic entry is left to Reshape (-1)."""
        sizes = list(sizes)
        symbolic = [i for i, d in enumerate(sizes) if type(d) is not int]
        if infer_one and symbolic:
            sizes[max(symbolic, key=lambda i: len(str(sizes[i])))] = -1
        if all(type(d) is int for d in sizes):
            return self.ints(sizes, f"{hint}/shape")
        pieces = [self.dim(d, hint) for d in sizes]
        return self.op("Concat", pieces, hint, axis=0)

    def reshape(self, x: str, sizes: tuple, hint: str) -> str:
        return self.op("Reshape", [x, self.shape(sizes, hint)], hint)

    # --- the walk --------------------------------------------------------------------------------------
    def export(self, node: NodeSpec) -> None:
        info = self.graph.graph.nodes[node.name]
        xs = [self.tensors[r] for r in node.inputs]
        outs = EXPORTERS[node.layer.op](self, node, info, xs)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for i, out in enumerate(outs):
            self.tensors[node.name if i == 0 else f"{node.name}:{i}"] = out

    def proto(self, opset: int) -> Any:
        helper = self.onnx.helper
        inputs = [helper.make_tensor_value_info(self.tensors[s.name], _ELEM[s.dtype],
                                                [_dim_proto(d) for d in self.graph.inputs[s.name]])
                  for s in self.graph.model.inputs]
        outputs = []
        for name, ref in zip(self.graph.model.output_names, self.graph.model.outputs):
            tensor = self.tensors[ref]
            if tensor in self.initializers or tensor in {v.name for v in inputs} or name != tensor:
                final = self._fresh(name)
                self.nodes.append(helper.make_node("Identity", [tensor], [final], name=self._fresh(f"{name}/output")))
                tensor = final
            shape = self.graph.shapes[ref]
            outputs.append(helper.make_tensor_value_info(tensor, _ELEM[self.dtype(ref)],
                                                         [_dim_proto(d) for d in shape]))
        graph = helper.make_graph(self.nodes, self.graph.model.name or "symshape", inputs, outputs,
                                  list(self.initializers.values()))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="symshape")


# =====================================================================================================
# layers: each gets the writer, the node, its analysis attributes and its input tensors


def _input_shape(info: dict, i: int = 0) -> tuple:
    return tuple(info["input_shapes"][i])


def _simple(op_type: str, **attrs: Any) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        return w.op(op_type, xs, node.name, **attrs)

    return export


def _conv(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer = node.layer
    if layer.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={layer.padding_mode!r}")
    n = layer.n
    x = xs[0]
    unbatched = len(_input_shape(info)) == n + 1
    if unbatched:
        x = w.op("Unsqueeze", [x, w.ints([0], node.name)], node.name)
    transposed = "Transpose" in layer.op
    pads = [p for p, _ in layer.pad_pairs()] + [q for _, q in layer.pad_pairs()] if not transposed \
        else list(layer.padding) * 2
    attrs: dict[str, Any] = dict(kernel_shape=list(layer.kernel_size), strides=list(layer.stride), pads=pads,
                                 dilations=list(layer.dilation), group=layer.groups)
    if transposed:
        attrs["output_padding"] = list(layer.output_padding)
    out = w.op("ConvTranspose" if transposed else "Conv", [x, w.param(node, "weight"), w.param(node, "bias")],
               node.name, **attrs)
    return w.op("Squeeze", [out, w.ints([0], node.name)], node.name) if unbatched else out


def _linear(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return _affine(w, node.name, xs[0], w.param(node, "weight"), w.param(node, "bias"), len(_input_shape(info)))


def _affine(w: _Writer, hint: str, x: str, weight: str, bias: str | None, rank: int) -> str:
    """x @ weight.T + bias, with torch's (out, in) weight layout."""
    if rank == 2:
        return w.op("Gemm", [x, weight, bias], hint, transB=1)
    y = w.op("MatMul", [x, w.op("Transpose", [weight], hint, perm=[1, 0])], hint)
    return w.op("Add", [y, bias], hint) if bias else y


def _batch_norm(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer = node.layer
    if not layer.track_running_stats:
        raise Unsupported("track_running_stats=False (batch statistics in eval mode)")
    channels = info["args"]["num_features"]
    scale, bias = w.param(node, "weight"), w.param(node, "bias")
    if scale is None:
        scale = w.const(np.ones(channels, np.float32), f"{node.name}.scale")
    if bias is None:
        bias = w.const(np.zeros(channels, np.float32), f"{node.name}.shift")
    return w.op("BatchNormalization", [xs[0], scale, bias, w.param(node, "running_mean"),
                                       w.param(node, "running_var")], node.name, epsilon=float(layer.eps))


def _layer_norm(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer = node.layer
    shape = _input_shape(info)[-len(layer.normalized_shape):]
    scale = w.param(node, "weight") or w.const(np.ones([int(d) for d in shape], np.float32), f"{node.name}.scale")
    return w.op("LayerNormalization", [xs[0], scale, w.param(node, "bias")], node.name,
                axis=-len(layer.normalized_shape), epsilon=float(layer.eps))


def _softmax(op_type: str) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        rank = len(_input_shape(info))
        dim = node.layer.dim if node.layer.dim is not None else (0 if rank in (0, 1, 3) else 1)
        return w.op(op_type, xs, node.name, axis=dim)

    return export


def _silu(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Mul", [xs[0], w.op("Sigmoid", xs, node.name)], node.name)


def _clip(low: float, high: float) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        dtype = w.dtype(node.inputs[0])
        return w.op("Clip", [xs[0], w.const(low, f"{node.name}.min", dtype), w.const(high, f"{node.name}.max", dtype)],
                    node.name)

    return export


def _gelu(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Gelu", xs, node.name, approximate=node.layer.approximate)


def _max_pool(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer = node.layer
    if layer.return_indices:
        raise Unsupported("return_indices=True")
    return w.op("MaxPool", xs, node.name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                pads=list(layer.padding) * 2, dilations=list(layer.dilation), ceil_mode=int(layer.ceil_mode))


def _avg_pool(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer = node.layer
    if layer.divisor_override is not None:
        raise Unsupported("divisor_override")
    return w.op("AveragePool", xs, node.name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                pads=list(layer.padding) * 2, ceil_mode=int(layer.ceil_mode),
                count_include_pad=int(layer.count_include_pad))


def _adaptive_avg_pool(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    shape, out = _input_shape(info), tuple(info["output_shapes"][0])
    n = len(node.layer.output_size)
    if all(d == 1 for d in out[-n:]):
        return w.op("GlobalAveragePool", xs, node.name)
    sizes, targets = shape[-n:], out[-n:]
    if not all(type(s) is int and type(t) is int and s % t == 0 for s, t in zip(sizes, targets)):
        raise Unsupported(f"output_size {targets} from input size {sizes}: ONNX pools with fixed windows; "
                          "bind the input sizes to multiples of the output size")
    kernel = [s // t for s, t in zip(sizes, targets)]
    return w.op("AveragePool", xs, node.name, kernel_shape=kernel, strides=kernel)


def _to_shape(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """Any op that only reshapes: Reshape, View, Flatten, Unflatten, Squeeze, Unsqueeze."""
    before, after = _input_shape(info), tuple(info["output_shapes"][0])
    if node.layer.op == "Flatten" and len(after) == 2 and len(before) >= 2 and dims.definitely_equal(after[0],
                                                                                                     before[0]):
        return w.op("Flatten", xs, node.name, axis=1)
    return w.reshape(xs[0], after, node.name)


def _permute(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    rank = len(_input_shape(info))
    if node.layer.op == "Permute":
        perm = [d % rank for d in node.layer.dims]
    else:
        perm = list(range(rank))
        a, b = node.layer.dim0 % rank, node.layer.dim1 % rank
        perm[a], perm[b] = perm[b], perm[a]
    return w.op("Transpose", xs, node.name, perm=perm)


def _reduce(op_type: str) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        axes = node.layer.axes(len(_input_shape(info)))
        return w.op(op_type, [xs[0], w.ints(list(axes), node.name)], node.name, keepdims=int(node.layer.keepdim))

    return export


def _binary(op_type: str) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        layer = node.layer
        dtype = info["output_dtypes"][0]
        if layer.op == "Div" and getattr(layer, "rounding_mode", None) is not None:
            raise Unsupported(f"rounding_mode={layer.rounding_mode!r}")
        operands = _cast_operands(w, node, xs, dtype)
        if layer.scalar_operand is not None:
            operands.append(w.const(layer.scalar_operand, f"{node.name}.other", dtype))
        alpha = getattr(layer, "alpha", 1)
        if alpha != 1:
            operands[1] = w.op("Mul", [operands[1], w.const(alpha, f"{node.name}.alpha", dtype)], node.name)
        if layer.op == "RSub":
            operands = operands[::-1]
        out = operands[0]
        for other in operands[1:]:
            out = w.op(op_type, [out, other], node.name)
        return out

    return export


def _concat(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Concat", xs, node.name, axis=node.layer.dim)


def _embedding(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    if node.layer.max_norm is not None:
        raise Unsupported("max_norm (it renormalizes the table while looking up)")
    return w.op("Gather", [w.param(node, "weight"), xs[0]], node.name, axis=0)


def _state(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    if w.param(node, "") is None:
        raise Unsupported("a non-persistent buffer")
    return w.param(node, "")


def _identity(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return xs[0]


def _cast_operands(w: _Writer, node: NodeSpec, xs: list[str], dtype: str) -> list[str]:
    return [x if w.dtype(r) == dtype else w.op("Cast", [x], node.name, to=_ELEM[dtype])
            for x, r in zip(xs, node.inputs)]


def _compare(op_type: str, negate: bool = False, logical: bool = False) -> Callable[..., str]:
    def export(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
        layer = node.layer
        dtype = "bool" if logical else layer.compute_dtype(*(w.dtype(r) for r in node.inputs))
        operands = _cast_operands(w, node, xs, dtype)
        if layer.scalar_operand is not None:
            operands.append(w.const(layer.scalar_operand, f"{node.name}.other", dtype))
        out = w.op(op_type, operands, node.name)
        return w.op("Not", [out], node.name) if negate else out

    return export


def _where(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer, dtype = node.layer, info["output_dtypes"][0]
    values = iter(_cast_operands(w, node, xs, dtype)[1:])
    a, b = (next(values) if s is None else w.const(s, f"{node.name}.value", dtype) for s in (layer.input, layer.other))
    return w.op("Where", [xs[0], a, b], node.name)


def _masked_fill(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    value = w.const(node.layer.value, f"{node.name}.value", w.dtype(node.inputs[0]))
    return w.op("Where", [xs[1], value, xs[0]], node.name)


def _filled(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    shape = w.shape(tuple(info["output_shapes"][0]), node.name, infer_one=False)
    value = w.onnx.numpy_helper.from_array(np.asarray([node.layer.fill_value], dtype=info["output_dtypes"][0]))
    return w.op("ConstantOfShape", [shape], node.name, value=value)


def _triangle(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Trilu", [xs[0], w.ints(node.layer.diagonal, node.name)], node.name, upper=int(node.layer.op == "Triu"))


def _slice(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    args = info["args"]
    start = 0 if args["start"] is None else args["start"]
    end = 2**63 - 1 if args["end"] is None else args["end"]
    return w.op("Slice", [xs[0], w.dim(start, node.name), w.dim(end, node.name), w.ints([node.layer.dim], node.name),
                          w.ints([node.layer.step], node.name)], node.name)


def _select(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    index = info["args"]["index"]
    if type(index) is int:
        position = w.const(np.int64(index), f"{node.name}.index")
    else:
        position = w.op("Squeeze", [w.dim(index, node.name), w.ints([0], node.name)], node.name)
    return w.op("Gather", [xs[0], position], node.name, axis=node.layer.dim)


def _index(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    if len(xs) > 2:
        raise Unsupported("Index with several index tensors")
    return w.op("Gather", xs, node.name, axis=node.layer.dim)


def _split(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> list[str]:
    axis = node.layer.dim % len(_input_shape(info))
    sizes = tuple(shape[axis] for shape in info["output_shapes"])
    outs = w.op("Split", [xs[0], w.shape(sizes, node.name, infer_one=False)], node.name, n_out=len(sizes), axis=axis)
    return outs if isinstance(outs, list) else [outs]


# --- recurrent layers ----------------------------------------------------------------------------------
_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}  # torch's gate blocks in ONNX's order


def _gates(array: np.ndarray, op: str) -> np.ndarray:
    blocks = np.split(array, len(_GATES[op]), axis=0)
    return np.concatenate([blocks[i] for i in _GATES[op]], axis=0)


def _recurrent(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> list[str]:
    layer, op, name = node.layer, node.layer.op, node.name
    if getattr(layer, "proj_size", 0) or len(xs) > 1:
        raise Unsupported("proj_size or an initial state input")
    if len(_input_shape(info)) != 3:
        raise Unsupported("an unbatched input")
    hidden = info["args"]["hidden_size"]
    x = w.op("Transpose", [xs[0]], name, perm=[1, 0, 2]) if layer.batch_first else xs[0]
    suffixes = ["", "_reverse"][:layer.directions]
    attrs: dict[str, Any] = dict(hidden_size=int(hidden), direction="bidirectional" if layer.bidirectional
                                 else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = [{"tanh": "Tanh", "relu": "Relu"}[layer.nonlinearity]] * layer.directions
    states: list[list[str]] = [[], []]
    for k in range(layer.num_layers):
        stacked = {}
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if kind.startswith("bias") and not layer.has_bias:
                continue
            stacked[kind] = np.stack([_gates(w.array(node, f"{kind}_l{k}{s}"), op) for s in suffixes])
        weights = [w.const(stacked["weight_ih"], f"{name}.W_l{k}"), w.const(stacked["weight_hh"], f"{name}.R_l{k}")]
        bias = (w.const(np.concatenate([stacked["bias_ih"], stacked["bias_hh"]], axis=1), f"{name}.B_l{k}")
                if layer.has_bias else None)
        outs = w.op(op, [x, *weights, bias], name, n_out=3 if op == "LSTM" else 2, **attrs)
        y = w.op("Transpose", [outs[0]], name, perm=[0, 2, 1, 3])  # (T, D, B, H) -> (T, B, D, H)
        x = w.op("Reshape", [y, w.ints([0, 0, -1], name)], name)
        for i, state in enumerate(outs[1:]):
            states[i].append(state)
    out = w.op("Transpose", [x], name, perm=[1, 0, 2]) if layer.batch_first else x
    finals = [s[0] if len(s) == 1 else w.op("Concat", s, name, axis=0) for s in states if s]
    return [out, *finals]


# --- attention -----------------------------------------------------------------------------------------
def _attention(w: _Writer, node: NodeSpec, prefix: str, x: str, heads: int, d_model: int) -> str:
    """Self-attention on a batch-first (B, S, E) tensor with ``<prefix>in_proj_weight`` and out_proj."""
    name = f"{node.name}.{prefix.rstrip('.')}" if prefix else node.name
    qkv = _affine(w, name, x, w.param(node, f"{prefix}in_proj_weight"), w.param(node, f"{prefix}in_proj_bias"), 3)
    q, k, v = w.op("Split", [qkv, w.ints([d_model] * 3, name)], name, n_out=3, axis=-1)
    head = d_model // heads
    split = w.ints([0, 0, heads, head], name)
    q, k, v = (w.op("Reshape", [t, split], name) for t in (q, k, v))
    q = w.op("Transpose", [q], name, perm=[0, 2, 1, 3])
    k = w.op("Transpose", [k], name, perm=[0, 2, 3, 1])
    v = w.op("Transpose", [v], name, perm=[0, 2, 1, 3])
    scores = w.op("Mul", [w.op("MatMul", [q, k], name), w.const(np.float32(1 / np.sqrt(head)), f"{name}.scale")],
                  name)
    context = w.op("MatMul", [w.op("Softmax", [scores], name, axis=-1), v], name)
    merged = w.op("Reshape", [w.op("Transpose", [context], name, perm=[0, 2, 1, 3]),
                              w.ints([0, 0, d_model], name)], name)
    return _affine(w, name, merged, w.param(node, f"{prefix}out_proj.weight"), w.param(node, f"{prefix}out_proj.bias"),
                   3)


def _encoder_layer(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    layer, name = node.layer, node.name
    if layer.masks or layer.is_causal:
        raise Unsupported("masks or is_causal")
    rank, d_model = len(_input_shape(info)), int(info["args"]["d_model"])
    x = xs[0]
    if rank == 2:
        x = w.op("Unsqueeze", [x, w.ints([0], name)], name)
    elif not layer.batch_first:
        x = w.op("Transpose", [x], name, perm=[1, 0, 2])

    def norm(t: str, i: int) -> str:
        return w.op("LayerNormalization", [t, w.param(node, f"norm{i}.weight"), w.param(node, f"norm{i}.bias")],
                    f"{name}.norm{i}", axis=-1, epsilon=float(layer.layer_norm_eps))

    def feedforward(t: str) -> str:
        h = _affine(w, f"{name}.linear1", t, w.param(node, "linear1.weight"), w.param(node, "linear1.bias"), 3)
        h = w.op("Relu", [h], name) if layer.activation == "relu" else w.op("Gelu", [h], name)
        return _affine(w, f"{name}.linear2", h, w.param(node, "linear2.weight"), w.param(node, "linear2.bias"), 3)

    def attend(t: str) -> str:
        return _attention(w, node, "self_attn.", t, layer.nhead, d_model)

    if layer.norm_first:
        x = w.op("Add", [x, attend(norm(x, 1))], name)
        x = w.op("Add", [x, feedforward(norm(x, 2))], name)
    else:
        x = norm(w.op("Add", [x, attend(x)], name), 1)
        x = norm(w.op("Add", [x, feedforward(x)], name), 2)
    if rank == 2:
        return w.op("Squeeze", [x, w.ints([0], name)], name)
    return x if layer.batch_first else w.op("Transpose", [x], name, perm=[1, 0, 2])


def _rms_norm(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """x / sqrt(mean(x^2) + eps) * weight (eps None: the dtype's machine epsilon, as torch)."""
    layer, x, name = node.layer, xs[0], node.name
    dtype = w.dtype(node.inputs[0])
    rank = len(_input_shape(info))
    eps = np.finfo(np.float64 if dtype == "float64" else np.float32).eps if layer.eps is None else layer.eps
    axes = w.ints(list(range(rank - len(layer.normalized_shape), rank)), name)
    mean = w.op("ReduceMean", [w.op("Mul", [x, x], name), axes], name, keepdims=1)
    y = w.op("Div", [x, w.op("Sqrt", [w.op("Add", [mean, w.const(eps, f"{name}.eps", dtype)], name)], name)], name)
    weight = w.param(node, "weight")
    return w.op("Mul", [y, weight], name) if weight else y


def _repeat_heads(w: _Writer, t: str, heads: int, groups: int, hint: str) -> str:
    """np.repeat(t, heads // groups, axis=-3): each key/value head repeated for its query heads (GQA)."""
    grown = w.op("Expand", [w.op("Unsqueeze", [t, w.ints([-3], hint)], hint), w.ints([heads // groups, 1, 1], hint)],
                 hint)
    shape = w.op("Concat", [w.op("Shape", [t], hint, end=-3), w.ints([heads], hint),
                            w.op("Shape", [t], hint, start=-2)], hint, axis=0)
    return w.op("Reshape", [grown, shape], hint)


def _sdpa(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """softmax(q @ k^T * scale + mask) @ v; a causal or given mask is added as 0 / -inf scores, and a row
    with every position masked gives zeros, as torch does."""
    layer, name = node.layer, node.name
    q, k, v = xs[:3]
    dtype = w.dtype(node.inputs[0])
    shapes = [_input_shape(info, i) for i in range(3)]
    if layer.enable_gqa:
        heads = shapes[0][-3]
        if type(heads) is not int or any(type(shapes[i][-3]) is not int for i in (1, 2)):
            raise Unsupported("enable_gqa with symbolic head counts; bind them")
        k, v = (_repeat_heads(w, t, heads, shapes[i][-3], name) if shapes[i][-3] != heads else t
                for i, t in ((1, k), (2, v)))
    width = shapes[0][-1]
    if layer.scale is None and type(width) is not int:
        raise Unsupported(f"the default scale 1/sqrt({width}) of a symbolic width; bind it or give scale")
    scale = 1 / np.sqrt(width) if layer.scale is None else layer.scale
    rank = len(shapes[1])
    perm = [*range(rank - 2), rank - 1, rank - 2]
    scores = w.op("Mul", [w.op("MatMul", [q, w.op("Transpose", [k], name, perm=perm)], name),
                          w.const(scale, f"{name}.scale", dtype)], name)
    masked = layer.is_causal or len(xs) > 3
    if layer.is_causal:
        square = w.op("Shape", [scores], name, start=-2)
        fill = w.onnx.numpy_helper.from_array(np.asarray([-np.inf], dtype=dtype))
        blocked = w.op("ConstantOfShape", [square], name, value=fill)
        scores = w.op("Add", [scores, w.op("Trilu", [blocked, w.ints(1, name)], name, upper=1)], name)
    elif masked:
        mask = xs[3]
        if w.dtype(node.inputs[3]) == "bool":
            mask = w.op("Where", [mask, w.const(0.0, f"{name}.keep", dtype), w.const(-np.inf, f"{name}.drop", dtype)],
                        name)
        scores = w.op("Add", [scores, mask], name)
    weights = w.op("Softmax", [scores], name, axis=-1)
    if masked:
        weights = w.op("Where", [w.op("IsNaN", [weights], name), w.const(0.0, f"{name}.zero", dtype), weights], name)
    return w.op("MatMul", [weights, v], name)


def _arange(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """start + step * i for i in range(length), in int64 (or float64 when a float is given), then cast."""
    layer, name = node.layer, node.name
    length = w.op("Squeeze", [w.dim(info["output_shapes"][0][0], name), w.ints([0], name)], name)
    steps = w.op("Range", [w.const(np.int64(0), f"{name}.zero"), length, w.const(np.int64(1), f"{name}.one")], name)
    wide = "float64" if layer.floats else "int64"
    if layer.floats:
        steps = w.op("Cast", [steps], name, to=_ELEM[wide])
    out = w.op("Add", [w.op("Mul", [steps, w.const(layer.step, f"{name}.step", wide)], name),
                       w.const(layer.start, f"{name}.start", wide)], name)
    return out if layer.dtype == wide else w.op("Cast", [out], name, to=_ELEM[layer.dtype])


def _cast(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Cast", xs, node.name, to=_ELEM[node.layer.dtype])


def _expand(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    return w.op("Expand", [xs[0], w.shape(tuple(info["output_shapes"][0]), node.name, infer_one=False)], node.name)


def _table(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """A constant computed from sizes alone (SinusoidalPositionalEncoding): its values as an initializer."""
    shape = tuple(info["output_shapes"][0])
    if not all(type(d) is int for d in shape):
        raise Unsupported(f"the symbolic size {dims.format_shape(shape)}; bind it")
    return w.const(node.layer.forward({}, [shape]), node.name)


def _multihead_attention(w: _Writer, node: NodeSpec, info: dict, xs: list[str]) -> str:
    """Self-attention (query, key and value one tensor), batch-first or not, without masks or weights out."""
    layer, name = node.layer, node.name
    if len(set(node.inputs)) != 1 or layer.masks or layer.is_causal or layer.need_weights or layer.add_bias_kv \
            or layer.add_zero_attn:
        raise Unsupported("only self-attention (one input as query, key and value) without masks, "
                          "add_bias_kv, add_zero_attn or need_weights")
    rank, d_model = len(_input_shape(info)), int(info["args"]["embed_dim"])
    x = xs[0]
    if rank == 2:
        x = w.op("Unsqueeze", [x, w.ints([0], name)], name)
    elif not layer.batch_first:
        x = w.op("Transpose", [x], name, perm=[1, 0, 2])
    y = _attention(w, node, "", x, layer.num_heads, d_model)
    if rank == 2:
        return w.op("Squeeze", [y, w.ints([0], name)], name)
    return y if layer.batch_first else w.op("Transpose", [y], name, perm=[1, 0, 2])


EXPORTERS: dict[str, Callable[..., Any]] = {
    **{op: _conv for op in ("Conv1d", "Conv2d", "Conv3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
                            "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConvTranspose1d",
                            "LazyConvTranspose2d", "LazyConvTranspose3d")},
    "Linear": _linear, "LazyLinear": _linear,
    **{op: _batch_norm for op in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                                  "LazyBatchNorm3d")},
    "LayerNorm": _layer_norm,
    "ReLU": _simple("Relu"), "Sigmoid": _simple("Sigmoid"), "Tanh": _simple("Tanh"), "GELU": _gelu, "SiLU": _silu,
    "Hardswish": _simple("HardSwish"), "Hardsigmoid": _simple("HardSigmoid", alpha=1 / 6, beta=0.5),
    "ReLU6": _clip(0.0, 6.0), "Mish": _simple("Mish"), "Softsign": _simple("Softsign"),
    "Exp": _simple("Exp"), "Log": _simple("Log"), "Sqrt": _simple("Sqrt"), "Erf": _simple("Erf"),
    "Neg": _simple("Neg"), "Abs": _simple("Abs"), "Sin": _simple("Sin"), "Cos": _simple("Cos"),
    "Reciprocal": _simple("Reciprocal"),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    **{op: _identity for op in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                "FeatureAlphaDropout", "Identity", "AssertSize")},
    "MaxPool1d": _max_pool, "MaxPool2d": _max_pool, "MaxPool3d": _max_pool,
    "AvgPool1d": _avg_pool, "AvgPool2d": _avg_pool, "AvgPool3d": _avg_pool,
    "AdaptiveAvgPool1d": _adaptive_avg_pool, "AdaptiveAvgPool2d": _adaptive_avg_pool,
    "AdaptiveAvgPool3d": _adaptive_avg_pool,
    **{op: _to_shape for op in ("Flatten", "Unflatten", "Reshape", "View", "Squeeze", "Unsqueeze")},
    "Permute": _permute, "Transpose": _permute,
    "Mean": _reduce("ReduceMean"), "Sum": _reduce("ReduceSum"),
    "Add": _binary("Add"), "Sub": _binary("Sub"), "RSub": _binary("Sub"), "Mul": _binary("Mul"),
    "Div": _binary("Div"), "Maximum": _binary("Max"), "Minimum": _binary("Min"),
    "Concat": _concat, "MatMul": _simple("MatMul"), "Embedding": _embedding,
    "Parameter": _state, "Buffer": _state,
    "LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent,
    "TransformerEncoderLayer": _encoder_layer,
    "Eq": _compare("Equal"), "Ne": _compare("Equal", negate=True), "Lt": _compare("Less"),
    "Le": _compare("LessOrEqual"), "Gt": _compare("Greater"), "Ge": _compare("GreaterOrEqual"),
    "LogicalAnd": _compare("And", logical=True), "LogicalOr": _compare("Or", logical=True),
    "LogicalXor": _compare("Xor", logical=True),
    "Where": _where, "MaskedFill": _masked_fill,
    "Full": _filled, "Zeros": _filled, "Ones": _filled, "Tril": _triangle, "Triu": _triangle,
    "Slice": _slice, "Select": _select, "Index": _index, "Split": _split, "Chunk": _split,
    "RMSNorm": _rms_norm, "ScaledDotProductAttention": _sdpa, "MultiheadAttention": _multihead_attention,
    "Arange": _arange, "Cast": _cast, "Expand": _expand, "SinusoidalPositionalEncoding": _table,
}
