"""How a shape was derived: the chain of layers and formulas from a parameter or tensor back to
the model's input dims, with the conditions that chain imposes."""

from __future__ import annotations

from . import arguments, dims
from .analysis import Analysis
from .errors import SpecError
from .wiring import parse_ref, source_of


def _owner(graph: Analysis, name: str) -> tuple[str, str] | None:
    """(node, local parameter name) for a state_dict name."""
    for node in sorted(graph.model.nodes, key=lambda n: -len(n.name)):
        if name == node.name and "" in graph.node(node.name)["params"]:  # a Parameter node is its tensor
            return node.name, ""
        prefix = node.name + "."
        if name.startswith(prefix) and name[len(prefix):] in graph.node(node.name)["params"]:
            return node.name, name[len(prefix):]
    return None


def _layer_text(graph: Analysis, name: str) -> str:
    data = graph.node(name)
    args = ", ".join(f"{k}={v!r}" for k, v in data["layer"].config.items())
    return f"{name} ({data['op']}({args}))"


def _chain(graph: Analysis, start: str) -> list[str]:
    """Node names from a model input to ``start``, following each node's first input."""
    chain = [start]
    while graph.node(chain[-1])["kind"] == "layer" and graph.node(chain[-1])["inputs"]:
        chain.append(source_of(graph.node(chain[-1])["inputs"][0]))
    return chain[::-1]


def explain(graph: Analysis, name: str) -> str:
    """Text explaining the shape of a parameter (``fc1.weight``), a node output (``conv2``, ``lstm:1``)
    or an input, back to the input dims."""
    arguments.name("explain()", name)
    lines: list[str] = []
    owner = _owner(graph, name)
    if owner is not None:
        node, local = owner
        spec = graph.node(node)["params"][local]
        layer = graph.node(node)["layer"]
        kind = "buffer" if spec.buffer else "parameter"
        of = f"{kind} {local!r} of" if local else f"{kind}:"
        lines.append(f"{name} {dims.format_shape(spec.shape)}: {of} {_layer_text(graph, node)}")
        inferred = {k: v for k, v in graph.node(node)["args"].items() if getattr(layer, k, 0) is None}
        for arg, value in inferred.items():
            lines.append(f"  {arg} = {value}, inferred from the layer's input")
        start = node
    else:
        base, index = parse_ref(name)
        if base not in graph.graph.nodes:
            known = [n.name for n in graph.model.nodes][:8]
            raise SpecError(f"explain: {name!r} is no parameter, layer or input of the model "
                            f"(layers: {', '.join(known)}{', ...' if len(graph.model.nodes) > 8 else ''})")
        data = graph.node(base)
        shape = data["shape"] if data["kind"] == "input" else data["output_shapes"][index]
        lines.append(f"{name} {dims.format_shape(shape or ())}")
        start = base
    chain = _chain(graph, start)
    lines.append("derived from the input, layer by layer:")
    width = max(len(n) for n in chain)
    for step in chain:
        data = graph.node(step)
        if data["kind"] == "input":
            lines.append(f"  {step:<{width}}  input {dims.format_shape(data['shape'])}")
            continue
        if data["output_shapes"] == data["input_shapes"][:1]:
            lines.append(f"  {step:<{width}}  {data['op']}: unchanged")
            continue
        shapes = ", ".join(dims.format_shape(s) for s in data["input_shapes"] if s is not None)
        out = ", ".join(dims.format_shape(s) for s in data["output_shapes"] if s is not None)
        lines.append(f"  {step:<{width}}  {data['op']}: {shapes + ' -> ' if shapes else ''}{out}")
    conditions = [c for c in graph.constraints if c.node in chain]
    if conditions:
        lines.append("conditions met along the way: " + ", ".join(f"{c} (from {c.node})" for c in conditions))
    fixed = {k: v for k, v in graph.fixed_sizes.items()}
    if fixed:
        lines.append("sizes fixed: " + ", ".join(f"{k} = {v}" for k, v in fixed.items()))
    return "\n".join(lines)
