"""The numpy interpreter: runs a bound ShapeGraph node by node, in eval mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dims
from .build import ref_name
from .errors import Conflict, ShapeMismatchError, SpecError


def run(graph: Any, params: dict[str, np.ndarray], arrays: tuple, named: dict) -> Any:
    """Outputs of the model for the given input arrays: one array, or a tuple for several outputs."""
    inputs = _name_inputs(graph, arrays, named)
    graph = graph.bind_from_arrays(inputs)
    graph.require_concrete("forward()")
    _check_inputs(graph, inputs)
    _check_params(graph, params)
    values: dict[str, np.ndarray] = dict(inputs)
    for node in graph.model.nodes:
        owner = node.owner or node.name
        prefix = owner + "."
        local = {k: params[prefix + k] for k in graph.graph.nodes[owner]["params"]}
        inputs = [values[r] for r in node.inputs]
        if node.layer.needs_shapes:  # e.g. Reshape([B, S, 4, 8]): the bound sizes of its output
            result = node.layer.forward(local, *inputs, out_shapes=graph.graph.nodes[node.name]["output_shapes"])
        else:
            result = node.layer.forward(local, *inputs)
        outs = result if isinstance(result, tuple) else (result,)
        for i, out in enumerate(outs):
            values[ref_name(node.name, i)] = out
    results = tuple(values[r] for r in graph.model.outputs)
    return results[0] if len(results) == 1 else results


def _name_inputs(graph: Any, arrays: tuple, named: dict) -> dict[str, np.ndarray]:
    names = [s.name for s in graph.model.inputs]
    if len(arrays) + len(named) != len(names):
        raise SpecError(f"forward: the model takes {len(names)} input(s) ({', '.join(names)}), "
                        f"got {len(arrays) + len(named)}")
    inputs = dict(zip(names, arrays))
    for k, v in named.items():
        if k not in names or k in inputs:
            raise SpecError(f"forward: unexpected or repeated input {k!r}; inputs are {names}")
        inputs[k] = v
    return {k: np.asarray(v) for k, v in inputs.items()}


def _check_inputs(graph: Any, inputs: dict[str, np.ndarray]) -> None:
    conflicts = []
    for name, shape in graph.inputs.items():
        actual = tuple(inputs[name].shape)
        if actual != tuple(shape):
            conflicts.append(Conflict(name, "input", "shape", dims.format_shape(shape),
                                      f"the array has shape {actual}"))
    if conflicts:
        raise ShapeMismatchError(conflicts)


def _check_params(graph: Any, params: dict[str, np.ndarray]) -> None:
    """Every name, shape and dtype checked, all differences reported at once."""
    expected = graph.state_shapes
    conflicts = []
    for name, shape in expected.items():
        if name not in params:
            conflicts.append(Conflict(name, "parameter", "value", f"a {dims.format_shape(shape)} array",
                                      "it is missing"))
        elif tuple(np.shape(params[name])) != tuple(shape):
            conflicts.append(Conflict(name, "parameter", "shape", dims.format_shape(shape),
                                      f"the array has shape {tuple(np.shape(params[name]))}"))
    for name in params:
        if name not in expected:
            conflicts.append(Conflict(name, "parameter", "name", "not a parameter of the model",
                                      "it was given", "Remove it or check the layer names."))
    if conflicts:
        raise ShapeMismatchError(conflicts)
