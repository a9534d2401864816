"""What a forward pass costs, as formulas of the input sizes: parameters, multiply-accumulates
(torchinfo's convention, so bound figures compare with it), activation elements and bytes, and
the peak activation memory of the forward schedule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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


GRID = np.array([*range(1, 129), *(2**k for k in range(8, 17))], dtype=np.int64)  # sizes the peak is compared at
GRID_POINTS = 20_000  # points sampled when the full grid of three or more sizes would be larger


def maximum(values: list[Dim]) -> Dim:
    """The largest value, as ``Max`` of the candidates that can be the largest.

    Sizes are positive, so a candidate whose every term's coefficient another matches or exceeds is
    dropped (exact). The rest are compared on a grid of sizes (every size up to 128, then powers of
    two to 2**16; sizes common to every term factored out): those that are the largest nowhere on
    it are dropped as well. ResNet-50's 161 candidates come down to two."""
    ints = [v for v in values if type(v) is int]
    symbolic = list(dict.fromkeys(v for v in values if type(v) is not int))
    if not symbolic:
        return max(ints)
    candidates = _undominated(symbolic) + ([max(ints)] if ints else [])
    if len(candidates) > 1:
        candidates = _largest_somewhere(candidates)
    return candidates[0] if len(candidates) == 1 else sympy.Max(*candidates, evaluate=False)


def _undominated(values: list[sympy.Expr]) -> list[sympy.Expr]:
    """``values`` without those another dominates term by term (sums of positive monomials)."""
    terms = [v.as_coefficients_dict() for v in values]
    order = sorted(range(len(values)), key=lambda i: -sum(terms[i].values()))
    kept: list[int] = []
    for i in order:
        if not any(all(terms[k].get(m, 0) >= c for m, c in terms[i].items()) for k in kept):
            kept.append(i)
    return [values[i] for i in sorted(kept)]


def _largest_somewhere(candidates: list[Dim]) -> list[Dim]:
    """The candidates that are the largest at some point of the grid (all, if one cannot be evaluated)."""
    common = _common_factors(candidates)
    symbols = sorted(dims.free_symbols(tuple(c for c in candidates if type(c) is not int)) - common,
                     key=lambda s: s.name)
    if len(GRID) ** len(symbols) <= GRID_POINTS * 4:
        axes = np.meshgrid(*([GRID] * len(symbols)), indexing="ij") if symbols else []
    else:
        draw = np.random.default_rng(0)
        axes = [np.concatenate([GRID, draw.choice(GRID, GRID_POINTS)]) for _ in symbols]
    grid = dict(zip(symbols, axes)) | {s: np.int64(1) for s in common}
    try:
        table = np.stack([dims.evaluate_grid(c, grid).ravel() if grid else np.array([dims.evaluate(c, {})])
                          for c in candidates])
    except (ValueError, OverflowError):
        return candidates
    winners = sorted(set(np.argmax(table, axis=0).tolist()))
    return [candidates[i] for i in winners]


def _common_factors(candidates: list[Dim]) -> set[sympy.Symbol]:
    """Symbols that divide every term of every candidate (the batch size): they scale all alike."""
    if any(type(c) is int for c in candidates):
        return set()
    found = None
    for c in candidates:
        for term in sympy.Add.make_args(c):
            factors = {f for f in sympy.Mul.make_args(term) if f.is_Symbol}
            found = factors if found is None else found & factors
    return found or set()
