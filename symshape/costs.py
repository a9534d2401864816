"""What a forward pass costs, as formulas of the input sizes: parameters, multiply-accumulates
(torchinfo's convention, so bound figures compare with it), activation elements and bytes, and
the peak activation memory of the forward schedule."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from . import dims
from .analysis import Analysis
from .dims import Dim
from .dtypes import itemsize


@dataclass(frozen=True)
class NodeCost:
    params: Dim
    macs: Dim
    activations: Dim  # elements of the node's outputs
    activation_bytes: Dim


@dataclass(frozen=True)
class Costs:
    nodes: dict[str, NodeCost]
    params: Dim
    macs: Dim
    activations: Dim
    activation_bytes: Dim
    peak_activation_bytes: Dim  # inputs and live outputs, freed after their last use

    def to_json(self) -> dict:
        return {"params": dims.to_json(self.params), "macs": dims.to_json(self.macs),
                "activations": dims.to_json(self.activations),
                "activation_bytes": dims.to_json(self.activation_bytes),
                "peak_activation_bytes": dims.to_json(self.peak_activation_bytes)}


def _numel(shape) -> Dim:
    return 0 if shape is None else dims.prod(shape)


def costs(graph: Analysis, dtype: str = "float32") -> Costs:
    size = itemsize(dtype)
    nodes: dict[str, NodeCost] = {}
    for node in graph.model.nodes:
        data = graph.node(node.name)
        params = {k: s for k, s in data["params"].items()}
        outputs = [s for s in data["output_shapes"] if s is not None]
        owner_params = graph.node(node.owner)["params"] if node.owner else params
        count = dims.total(dims.prod(s.shape) for s in params.values() if not s.buffer)
        elements = dims.total(_numel(s) for s in outputs)
        macs = node.layer.macs(owner_params, outputs, data["input_shapes"]) if outputs else 0
        nodes[node.name] = NodeCost(count, macs, elements, dims.prod([elements, size]))
    return Costs(nodes, graph.num_params, dims.total(c.macs for c in nodes.values()),
                 dims.total(c.activations for c in nodes.values()),
                 dims.total(c.activation_bytes for c in nodes.values()), peak_bytes(graph, size))


def peak_bytes(graph: Analysis, size: int) -> Dim:
    """The most bytes live at once when the nodes run in order, each tensor freed after its last reader."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.model.nodes):
        for ref in node.inputs:
            last_use[ref] = i
    keep = set(graph.model.outputs)
    live: dict[str, Dim] = {name: dims.prod([_numel(shape), size]) for name, shape in graph.inputs.items()}
    peaks = [dims.total(live.values())]
    for i, node in enumerate(graph.model.nodes):
        for k, shape in enumerate(graph.node(node.name)["output_shapes"]):
            live[node.name if k == 0 else f"{node.name}:{k}"] = dims.prod([_numel(shape), size])
        peaks.append(dims.total(live.values()))
        for ref in [r for r in live if last_use.get(r, -1) == i and r not in keep]:
            del live[ref]
    return maximum(peaks)


def maximum(values: list[Dim]) -> Dim:
    """The largest value; symbolic candidates that another provably dominates are dropped."""
    ints = [v for v in values if type(v) is int]
    symbolic = list(dict.fromkeys(v for v in values if type(v) is not int))
    if not symbolic:
        return max(ints)
    kept = [v for v in symbolic if not any(w is not v and _dominates(w, v) for w in symbolic)]
    candidates = kept + ([max(ints)] if ints else [])
    return candidates[0] if len(candidates) == 1 else dims.normalize(sympy.Max(*candidates))


def _dominates(a: Dim, b: Dim) -> bool:
    """``a >= b`` for every size: their difference is a polynomial with no negative coefficient."""
    diff = sympy.expand(a - b)
    if diff == 0:
        return False
    return all(coeff >= 0 for coeff in sympy.Poly(diff, *sorted(diff.free_symbols, key=str)).coeffs()) \
        if diff.free_symbols and not diff.atoms(sympy.floor, sympy.ceiling, sympy.Mod, sympy.Min, sympy.Max) \
        else bool(diff.is_nonnegative)
