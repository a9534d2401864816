"""Wiring: Input, symbolic tensors, Model and Sequential. No shape logic lives here.

A ``Model`` is a list of nodes in topological order, each applying a layer to references of
earlier outputs (``"x"``, ``"conv1"``, ``"lstm:1"``); a layer object used by several nodes is
shared (its parameters belong to the first node, its *owner*).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from . import dims
from .dims import Shape
from .dtypes import INPUT_DTYPES
from .errors import SpecError
from .layers.base import Layer

_creation = itertools.count()


def ref_name(source: str, index: int) -> str:
    """The reference to output ``index`` of ``source``: ``lstm`` (output 0), ``lstm:1``, ``lstm:2``."""
    return source if index == 0 else f"{source}:{index}"


def parse_ref(ref: str) -> tuple[str, int]:
    """``"lstm:2"`` -> ``("lstm", 2)``; ``"lstm"`` -> ``("lstm", 0)``. The inverse of ``ref_name``;
    a suffix that is not a number is part of the name."""
    source, colon, index = ref.rpartition(":")
    if colon and source and index.isdigit():
        return source, int(index)
    return ref, 0


def state_name(node: str, local: str) -> str:
    """The state_dict name of a node's parameter: ``conv1.weight``; a layer that *is* one tensor
    (``Parameter``, ``Buffer``) declares it under the local name ``""`` and it is named after the node
    (``class_token``, ``encoder.pos_embedding``)."""
    return f"{node}.{local}" if local else node


def owning_node(name: str, nodes: Iterable[str]) -> str | None:
    """The node a state_dict name belongs to: the longest node name that is a dotted prefix of it
    (``layer1.0.conv1`` for ``layer1.0.conv1.weight``, ``m`` for MultiheadAttention's ``m.out_proj.weight``)."""
    return max((n for n in nodes if name.startswith(f"{n}.")), key=len, default=None)


def source_of(ref: str) -> str:
    """The node or input a reference reads from."""
    return parse_ref(ref)[0]


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: Shape | None
    dtype: str | None = "float32"  # None: not declared (Sequential, eager calls): arrays of any dtype kind


@dataclass(frozen=True)
class NodeSpec:
    name: str
    layer: Layer
    inputs: tuple[str, ...]  # references: "x", "conv1", "lstm:1"
    owner: str | None = None  # for a shared layer: the node owning its parameters


class _Call:
    """A layer applied to symbolic tensors, recorded by the functional API."""

    def __init__(self, layer: Layer, inputs: tuple[SymbolicTensor, ...], name: str | None):
        self.layer, self.inputs, self.name = layer, inputs, name
        self.order = next(_creation)


class SymbolicTensor:
    """The output ``index`` of an Input or of a layer call; wiring only, no data."""

    def __init__(self, producer: _Call | InputSpec, index: int = 0):
        self.producer, self.index = producer, index

    def __repr__(self) -> str:
        if isinstance(self.producer, InputSpec):
            return f"<SymbolicTensor input {self.producer.name} {dims.format_shape(self.producer.shape or ())}>"
        return f"<SymbolicTensor output {self.index} of {self.producer.layer!r}>"


def Input(shape: Any, name: str | None = None, dtype: str = "float32") -> SymbolicTensor:
    """A model input: ``Input("B, 3, H, W", name="x")``."""
    try:
        parsed = dims.parse_shape(shape)
    except dims.DimSyntaxError as exc:
        raise SpecError(f"Input {name or ''}: {exc}") from None
    if dtype not in INPUT_DTYPES:
        raise SpecError(f"Input {name or ''}: dtype must be one of {', '.join(INPUT_DTYPES)}, got {dtype!r}")
    return SymbolicTensor(InputSpec(name or f"input_{next(_creation)}", parsed, dtype))


def apply_layer(layer: Layer, args: tuple, name: str | None) -> Any:
    """``layer(...)``: on symbolic tensors, record a call; on numpy arrays, run it eagerly. A layer
    taking no input (``Parameter``, ``Arange``) called with nothing records a call."""
    if (args or layer.n_inputs == 0) and all(isinstance(a, SymbolicTensor) for a in args):
        _check_arity(layer, len(args))
        call = _Call(layer, tuple(args), name)
        outputs = tuple(SymbolicTensor(call, i) for i in range(layer.n_outputs))
        return outputs[0] if len(outputs) == 1 else outputs
    if args and all(isinstance(a, np.ndarray) for a in args):
        _check_arity(layer, len(args))
        names = [f"x{i}" if len(args) > 1 else "x" for i in range(len(args))]
        inputs = [InputSpec(n, None, None) for n in names]
        node = NodeSpec(name or "0", layer, tuple(names))
        return Model._from_parts(inputs, [node], [node.name])(*args)
    raise SpecError(f"{layer.op}: call a layer on symbolic tensors (ss.Input(...)) or on numpy arrays, "
                    f"got {', '.join(type(a).__name__ for a in args) or 'nothing'}")


def _check_arity(layer: Layer, n: int) -> None:
    problem = layer.arity_problem(n)
    if problem:
        raise SpecError(f"{layer.op} {problem}")


def _tensors(what: str, value: Any) -> list[Any]:
    """The symbolic tensors of a Model's ``inputs`` or ``outputs`` argument (one tensor or an iterable)."""
    if isinstance(value, SymbolicTensor):
        return [value]
    try:
        items = list(value)
    except TypeError:
        items = None
    if items is None or not all(isinstance(t, SymbolicTensor) for t in items):
        raise SpecError(f"Model: {what} must be a symbolic tensor or a list of them (from ss.Input(...) and "
                        f"layer calls), got {type(value).__name__}")
    return items


class Model:
    """A computation graph of layers: ``Model(inputs=[x], outputs=[y])`` from the functional API."""

    def __init__(self, inputs: SymbolicTensor | Iterable[SymbolicTensor],
                 outputs: SymbolicTensor | Iterable[SymbolicTensor], name: str | None = None,
                 tied: dict[str, str] | None = None):
        """``tied`` maps state_dict names to the tensor each one is (``{"lm_head.weight":
        "transformer.wte.weight"}``): weight tying across layers, as torch shares one Parameter."""
        inputs, outputs = _tensors("inputs", inputs), _tensors("outputs", outputs)
        if not outputs:
            raise SpecError("Model: give at least one output tensor")
        if not all(isinstance(t, SymbolicTensor) and isinstance(t.producer, InputSpec) for t in inputs):
            raise SpecError("Model: inputs must be tensors made by ss.Input(...)")
        input_specs = [t.producer for t in inputs]
        calls = _reachable_calls(outputs, set(map(id, input_specs)))
        names = _assign_names(calls, {s.name for s in input_specs})
        owners: dict[int, str] = {}
        nodes = []
        for call in calls:
            refs = tuple(_ref(t, names) for t in call.inputs)
            owner = owners.setdefault(id(call.layer), names[id(call)])
            nodes.append(NodeSpec(names[id(call)], call.layer, refs,
                                  None if owner == names[id(call)] else owner))
        self._setup(input_specs, nodes, [_ref(t, names) for t in outputs], name, tied=tied)

    @classmethod
    def _from_parts(cls, inputs: list[InputSpec], nodes: list[NodeSpec], outputs: list[str],
                    name: str | None = None, output_names: list[str] | None = None,
                    tied: dict[str, str] | None = None) -> Model:
        model = cls.__new__(cls)
        Model._setup(model, inputs, nodes, outputs, name, output_names, tied)
        return model

    def _setup(self, inputs: list[InputSpec], nodes: list[NodeSpec], outputs: list[str],
               name: str | None, output_names: list[str] | None = None, tied: dict[str, str] | None = None) -> None:
        if not isinstance(tied or {}, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in (tied or {}).items()):
            raise SpecError(f"tied: a mapping from state_dict name to state_dict name, got {tied!r}")
        self.tied = dict(tied or {})
        self.block_kinds: dict[str, str] = {}  # block (a dotted name prefix) -> what it is: "Bottleneck"
        self.name = name
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)  # node output references
        self.output_names = list(output_names or outputs)  # how the user refers to them
        self._check_names()

    def _check_names(self) -> None:
        seen: set[str] = set()
        for n in [i.name for i in self.inputs] + [n.name for n in self.nodes]:
            if n in seen:
                raise SpecError(f"the name {n!r} is used twice; names must be unique")
            seen.add(n)

    # --- access ---------------------------------------------------------------------------------
    @property
    def layers(self) -> dict[str, Layer]:
        """Layers by the name of the node owning their parameters."""
        return {n.name: n.layer for n in self.nodes if n.owner is None}

    # --- the stages -----------------------------------------------------------------------------
    def infer(self, *shapes: Any, strict: bool = True, **named: Any) -> Any:
        """Symbolic shape analysis, no data: a ShapeGraph. Shapes default to the declared inputs."""
        from .graph import ShapeGraph

        if len(shapes) > len(self.inputs):
            raise SpecError(f"infer: the model has {len(self.inputs)} input(s), got {len(shapes)} shapes")
        declared: dict[str, Shape] = {}
        for i, spec in enumerate(self.inputs):
            value = shapes[i] if i < len(shapes) else named.pop(spec.name, spec.shape)
            if value is None:
                raise SpecError(f"infer: give the shape of input {spec.name!r}, e.g. infer('B, D')")
            try:
                declared[spec.name] = dims.parse_shape(value)
            except dims.DimSyntaxError as exc:
                raise SpecError(f"infer: input {spec.name!r}: {exc}") from None
            shape = declared[spec.name]
            if any(type(d) is int and d < 1 for d in shape):
                raise SpecError(f"infer: input {spec.name!r}: sizes are positive, got {dims.format_shape(shape)}")
        if named:
            raise SpecError(f"infer: unknown input(s) {sorted(named)}; inputs are {[i.name for i in self.inputs]}")
        return ShapeGraph.analyse(self, declared, strict)

    def __call__(self, *args: Any, name: str | None = None) -> Any:
        if args and all(isinstance(a, SymbolicTensor) for a in args):
            return self._inline(args, name)
        if args and all(isinstance(a, np.ndarray) for a in args):
            return self._eager(args)
        raise SpecError("call a model on symbolic tensors (ss.Input(...)) or on numpy arrays")

    def _eager(self, arrays: tuple[np.ndarray, ...]) -> Any:
        """torch's lazy cycle: infer from the arrays' shapes, initialize what is missing, run."""
        graph = self.infer(*[a.shape for a in arrays])
        params: dict[str, np.ndarray] = {}
        for node in self.nodes:
            if node.owner is None:
                params.update({state_name(node.name, k): v for k, v in node.layer._values.items()})
        missing = [n for n in graph.state_shapes if n not in params]
        if missing:
            params.update(graph.materialize(seed=None, only=missing))
        for node in self.nodes:
            if node.owner is None:
                for local in graph.node_data[node.name]["params"]:
                    node.layer._values[local] = params[state_name(node.name, local)]
                for arg, value in graph.node_data[node.name]["args"].items():
                    if getattr(node.layer, arg) is None:
                        setattr(node.layer, arg, value)
        return graph._forward_own(params, arrays)  # parameters made above: no need to check them

    def _inline(self, args: tuple[SymbolicTensor, ...], prefix: str | None) -> Any:
        if len(args) != len(self.inputs):
            raise SpecError(f"the model takes {len(self.inputs)} input(s), got {len(args)}")
        tensors: dict[str, SymbolicTensor] = {spec.name: t for spec, t in zip(self.inputs, args)}
        for node in self.nodes:
            name = f"{prefix}.{node.name}" if prefix else None
            out = node.layer(*[tensors[r] for r in node.inputs], name=name)
            outs = out if isinstance(out, tuple) else (out,)
            for i, t in enumerate(outs):
                tensors[ref_name(node.name, i)] = t
        results = tuple(tensors[r] for r in self.outputs)
        return results[0] if len(results) == 1 else results

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        lines += [f"  ({n.name}): {n.layer!r}" + (f"  # shares {n.owner}" if n.owner else "")
                  for n in self.nodes]
        return "\n".join(lines + [")"])


class Sequential(Model):
    """A chain of layers named ``"0"``, ``"1"``, ... (or by the keys of an OrderedDict), as in torch.

    A nested Sequential contributes its layers under a dotted prefix (``"1.0"``).
    """

    def __init__(self, *layers: Layer | Sequential | OrderedDict):
        if len(layers) == 1 and isinstance(layers[0], (OrderedDict, dict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), layer) for i, layer in enumerate(layers)]
        self._items = OrderedDict(items)
        nodes: list[NodeSpec] = []
        owners: dict[int, str] = {}
        previous = "x"
        for node in _chain(items, ""):
            owner = owners.setdefault(id(node.layer), node.name)
            nodes.append(NodeSpec(node.name, node.layer, (previous,), None if owner == node.name else owner))
            previous = node.name
        last = nodes[-1].layer.n_outputs if nodes else 1
        self._setup([InputSpec("x", None, None)], nodes, [ref_name(previous, k) for k in range(last)], None)

    def __getitem__(self, key: int | str) -> Layer | Sequential:
        if isinstance(key, int):
            return list(self._items.values())[key]
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Layer | Sequential]:
        return iter(self._items.values())


def _chain(items: list[tuple[str, Any]], prefix: str) -> Iterator[NodeSpec]:
    for key, item in items:
        name = f"{prefix}{key}"
        if isinstance(item, Sequential):
            yield from _chain(list(item._items.items()), name + ".")
        elif isinstance(item, Layer):
            if item.arity_problem(1):
                raise SpecError(f"Sequential: {item.op} at {name!r} {item.arity_problem(1)}; "
                                "use the functional API")
            yield NodeSpec(name, item, ())
        else:
            raise SpecError(f"Sequential: entry {name!r} is {type(item).__name__}, not a layer")


def _reachable_calls(outputs: list[SymbolicTensor], inputs: set[int]) -> list[_Call]:
    found: dict[int, _Call] = {}
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if not isinstance(t, SymbolicTensor):
            raise SpecError(f"Model: outputs must be symbolic tensors, got {type(t).__name__}")
        if isinstance(t.producer, InputSpec):
            if id(t.producer) not in inputs:
                raise SpecError(f"Model: the outputs depend on input {t.producer.name!r}, "
                                "which is not listed in inputs")
            continue
        if id(t.producer) not in found:
            found[id(t.producer)] = t.producer
            stack.extend(t.producer.inputs)
    return sorted(found.values(), key=lambda c: c.order)


def _assign_names(calls: list[_Call], taken: set[str]) -> dict[int, str]:
    names: dict[int, str] = {}
    used = set(taken)
    for call in calls:
        if call.name is not None:
            if call.name in used:
                raise SpecError(f"Model: the name {call.name!r} is used twice; names must be unique")
            used.add(call.name)
            names[id(call)] = call.name
    counters: dict[str, int] = {}
    for call in calls:
        if call.name is None:
            base = call.layer.op.lower()
            while True:
                k = counters.get(base, 0)
                counters[base] = k + 1
                candidate = base if k == 0 else f"{base}_{k}"
                if candidate not in used:
                    break
            used.add(candidate)
            names[id(call)] = candidate
    return names


def _ref(t: SymbolicTensor, names: dict[int, str]) -> str:
    if isinstance(t.producer, InputSpec):
        return t.producer.name
    return ref_name(names[id(t.producer)], t.index)
