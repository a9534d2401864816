"""What a forward pass costs, as formulas of the input sizes: parameters, multiply-accumulates
(torch.utils.flop_counter's convention: its FLOPs / 2, see Layer.macs), activation elements and bytes, and
the peak activation memory of the forward schedule."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

from . import arguments, dims
from .analysis import Analysis
from .dims import Dim
from .dtypes import TABLE, itemsize


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
    size = itemsize(arguments.choice("costs()", "dtype", dtype, tuple(TABLE)))
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


Terms = dict  # a sum of positive monomials: {monomial (a product of sizes, or 1): coefficient}


def peak_bytes(graph: Analysis, size: int) -> Dim:
    """The most bytes live at once when the nodes run in order, each tensor freed after its last reader.

    The live total is kept as a sum of monomials (products of sizes) updated tensor by tensor, so no
    formula is built for a step until it is known to be a candidate for the peak (see ``peak_of``)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.model.nodes):
        for ref in node.inputs:
            last_use[ref] = i
    keep = set(graph.model.outputs)
    live: dict[str, Terms] = {name: _terms(shape, size) for name, shape in graph.inputs.items()}
    running: Counter = Counter()
    for terms in live.values():
        running.update(terms)
    steps = [dict(running)]
    for i, node in enumerate(graph.model.nodes):
        for k, shape in enumerate(graph.node(node.name)["output_shapes"]):
            live[node.name if k == 0 else f"{node.name}:{k}"] = terms = _terms(shape, size)
            running.update(terms)
        steps.append({m: c for m, c in running.items() if c})
        for ref in [r for r in live if last_use.get(r, -1) == i and r not in keep]:
            running.subtract(live.pop(ref))
    return peak_of(steps)


@lru_cache(maxsize=4096)
def _terms(shape: tuple | None, size: int) -> Terms:
    """A tensor's bytes as one monomial: the product of its symbolic dims, times the rest."""
    if shape is None:
        return {}
    number = size * math.prod(d for d in shape if type(d) is int)
    symbolic = [d for d in shape if type(d) is not int]
    return {sympy.Mul(*symbolic) if symbolic else 1: number} if number else {}


GRID = np.array([*range(1, 129), *(2**k for k in range(8, 17))], dtype=np.int64)  # sizes the peak is compared at
GRID_POINTS = 20_000  # points sampled when the full grid of three or more sizes would be larger


def peak_of(steps: list[Terms]) -> Dim:
    """The largest of the sums ``steps``, as ``Max`` of the ones that can be the largest.

    Sizes are positive, so a sum that another matches or exceeds term by term is dropped (exact). The
    rest are compared on a grid of sizes (every size up to 128, then powers of two to 2**16; sizes
    common to every term, the batch, factored out): those that are the largest nowhere on it are
    dropped as well. ResNet-50's 161 steps come down to four candidates."""
    unique = list({frozenset(t.items()): t for t in steps}.values())
    order = sorted(range(len(unique)), key=lambda i: -sum(unique[i].values()))
    kept: list[Terms] = []
    for i in order:
        if not any(all(k.get(m, 0) >= c for m, c in unique[i].items()) for k in kept):
            kept.append(unique[i])
    if len(kept) > 1:
        kept = _largest_somewhere(kept)
    formulas = [dims.total(c * m for m, c in t.items()) for t in kept]
    return formulas[0] if len(formulas) == 1 else sympy.Max(*formulas, evaluate=False)


def _largest_somewhere(candidates: list[Terms]) -> list[Terms]:
    """The candidates that are the largest at some point of the grid (all, if one cannot be evaluated)."""
    monomials = list(dict.fromkeys(m for t in candidates for m in t))
    common = set.intersection(*({f for f in sympy.Mul.make_args(m) if f.is_Symbol} for m in monomials))
    symbols = sorted(dims.free_symbols(tuple(m for m in monomials if m != 1)) - common, key=lambda s: s.name)
    if len(GRID) ** len(symbols) <= GRID_POINTS * 4:
        axes = np.meshgrid(*([GRID] * len(symbols)), indexing="ij") if symbols else [np.ones(1, dtype=np.int64)]
    else:
        draw = np.random.default_rng(0)
        axes = [np.concatenate([GRID, draw.choice(GRID, GRID_POINTS)]) for _ in symbols]
    grid = dict(zip(symbols, axes)) | {s: np.int64(1) for s in common}
    try:
        values = {m: dims.evaluate_grid(m if m != 1 else 1, grid).ravel() for m in monomials}
    except (ValueError, OverflowError):
        return candidates
    table = np.stack([sum(c * values[m] for m, c in t.items()) for t in candidates])
    return [candidates[i] for i in sorted(set(np.argmax(table, axis=0).tolist()))]
