"""The numpy interpreter: runs a bound ShapeGraph node by node, in eval mode."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import arguments, dims, dtypes
from .analysis import Analysis
from .errors import Conflict, ShapeMismatchError, SpecError
from .layers.base import Layer
from .propagate import bind_from_arrays
from .weights import check_weights
from .wiring import ref_name, state_name


@dataclass(frozen=True, eq=False)
class _Plan:
    """What a forward pass of one bound graph needs, worked out once: the bound graph (None when it is the
    graph itself, which keys the cache), the fusions, the readers of each tensor, each node's parameters
    by local and state name, its bound keyword arguments, the tensors no later node reads once each node
    has run (released then: a small working set that reuses freed memory instead of faulting in fresh
    pages), and the weight layouts already checked."""

    bound: Analysis | None
    fused: dict[str, tuple[str | None, str | None]]
    readers: dict[str, list[str]]
    layers: dict[str, Layer]
    params: dict[str, list[tuple[str, str]]]
    kwargs: dict[str, dict[str, Any]]
    tied: dict[str, str]
    release: dict[str, list[str]]
    checked: set[tuple] = field(default_factory=set)


_PLANS: weakref.WeakKeyDictionary[Analysis, dict[tuple, _Plan]] = weakref.WeakKeyDictionary()
_PLANS_PER_GRAPH = 16  # input signatures kept per graph (the oldest is dropped)


def run(graph: Analysis, params: dict[str, np.ndarray], arrays: tuple, named: dict, own_params: bool = False,
        ) -> Any:
    """Outputs of the model for the given input arrays: one array, or a tuple for several outputs.
    ``own_params``: the parameters are the graph's own materialized ones (the eager cycle), not checked."""
    if not own_params:
        arguments.arrays_by_name("forward()", "params", params)
    inputs = _name_inputs(graph, arrays, named)
    plan = _plan(graph, inputs)
    bound = plan.bound or graph
    if not own_params:
        _check_params(plan, bound, params)
    params = {**{n: params[t] for n, t in plan.tied.items() if n not in params}, **params}
    values: dict[str, np.ndarray] = dict(inputs)
    fused, readers, layers = plan.fused, plan.readers, plan.layers
    skipped: set[str] = set()
    fresh: set[str] = set()  # tensors the interpreter made itself and may overwrite once their last reader runs

    def local_params(name: str) -> dict[str, np.ndarray]:
        return {k: params[state] for k, state in plan.params[name]}

    release = plan.release
    for node in bound.model.nodes:
        if node.name in skipped:
            for ref in release[node.name]:
                del values[ref]
            continue
        inputs = [values[r] for r in node.inputs]
        if node.name in fused:
            norm, relu = fused[node.name]
            activation = layers[relu].apply_inplace if relu else None
            if norm is None:  # a fresh output followed by a ReLU: in place
                out = node.layer.forward(local_params(node.name), *inputs,
                                         **_reusable(node, inputs, readers, fresh, bound))
                activation(out)
            else:
                affine = layers[norm].as_affine(local_params(norm), inputs[0].dtype)
                out = node.layer.forward(local_params(node.name), *inputs, affine=affine, activation=activation)
            for name in filter(None, (node.name, norm, relu)):
                values[name] = out  # the fused layers' outputs are the same tensor
                fresh.add(name)
            skipped.update(filter(None, (norm, relu)))
        else:
            result = node.layer.forward(local_params(node.name), *inputs, **plan.kwargs[node.name])
            outs = result if isinstance(result, tuple) else (result,)
            for ref, out in ((ref_name(node.name, i), out) for i, out in enumerate(outs)):
                if ref in readers:  # an output nothing reads is dropped at once
                    values[ref] = out
        del inputs
        for ref in release[node.name]:
            del values[ref]
    results = tuple(values[r] for r in bound.model.outputs)
    return results[0] if len(results) == 1 else results


def _plan(graph: Analysis, inputs: dict[str, np.ndarray]) -> _Plan:
    """The plan for inputs of these shapes and dtype kinds, made (binding and checking them) on first use."""
    key = tuple((name, array.shape, array.dtype.kind) for name, array in inputs.items())
    plans = _PLANS.setdefault(graph, {})
    if key in plans:
        return plans[key]
    bound = bind_from_arrays(graph, inputs)
    bound.require_concrete("forward()")
    _check_inputs(bound, inputs)
    index = {node.name: node for node in bound.model.nodes}
    local: dict[str, list[tuple[str, str]]] = {}
    kwargs: dict[str, dict[str, Any]] = {}
    for node in bound.model.nodes:
        owner = node.owner or node.name
        local[node.name] = [(k, state_name(owner, k)) for k in bound.node_data[owner]["params"]]
        kwargs[node.name] = {}
        if node.layer.needs_shapes:  # e.g. Reshape([B, S, 4, 8]): the bound sizes of its output
            kwargs[node.name]["out_shapes"] = bound.node(node.name)["output_shapes"]
        if node.layer.needs_args:  # e.g. Slice(1, "T - 4"): its size arguments, bound
            kwargs[node.name]["args"] = bound.node(node.name)["args"]
    readers = _readers(bound)
    plan = _Plan(None if bound is graph else bound, _fusions(bound, readers), readers,
                 {name: node.layer for name, node in index.items()}, local, kwargs,
                 {n: s.tied_to for n, s in bound.param_specs.items() if s.tied_to}, _releases(bound, readers))
    if len(plans) >= _PLANS_PER_GRAPH:
        plans.pop(next(iter(plans)))
    plans[key] = plan
    return plan


def _check_params(plan: _Plan, bound: Analysis, params: dict[str, np.ndarray]) -> None:
    """check_weights, skipped for a layout (names, shapes, dtypes) that already passed; tied tensors given
    under both names are compared every time."""
    if any(n in params and t in params for n, t in plan.tied.items()) or \
            not all(type(a) is np.ndarray for a in params.values()):
        check_weights(params, bound, "forward(): the parameters given")
        return
    layout = tuple((name, array.shape, array.dtype.str) for name, array in params.items())
    if layout not in plan.checked:
        check_weights(params, bound, "forward(): the parameters given")
        plan.checked.add(layout)


def _readers(graph: Analysis) -> dict[str, list[str]]:
    """Who reads each tensor ("" for a model output)."""
    readers: dict[str, list[str]] = {}
    for node in graph.model.nodes:
        for ref in node.inputs:
            readers.setdefault(ref, []).append(node.name)
    for ref in graph.model.outputs:
        readers.setdefault(ref, []).append("")
    return readers


def _releases(graph: Analysis, readers: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each node, the tensors to drop once it has run: those it is the last reader of (``readers`` lists
    them in node order; model outputs are kept)."""
    release: dict[str, list[str]] = {node.name: [] for node in graph.model.nodes}
    for ref, names in readers.items():
        if "" not in names:
            release[names[-1]].append(ref)
    return release


def _reusable(node: Any, inputs: list[np.ndarray], readers: dict, fresh: set[str], graph: Analysis) -> dict:
    """``into=`` an input buffer the layer may overwrite: made by the interpreter, read by this node only,
    and of the output's shape and dtype (the residual Add of a ResNet writes into its conv branch)."""
    if not node.layer.accepts_into:
        return {}
    shape = tuple(graph.node_data[node.name]["output_shapes"][0])
    dtype = np.result_type(*inputs)
    for ref, array in zip(node.inputs, inputs):
        if ref in fresh and readers.get(ref) == [node.name] and array.shape == shape and array.dtype == dtype:
            return {"into": array}
    return {}


def _fusions(graph: Analysis, readers: dict[str, list[str]]) -> dict[str, tuple[str | None, str | None]]:
    """Steps run as one: a convolution whose only reader is an eval-mode BatchNorm (folded in as a
    per-channel scale and shift) and maybe then a ReLU, or a layer with a fresh output whose only
    reader is a ReLU (applied in place). Tensors that are model outputs or read elsewhere are never
    fused away."""
    layers = {node.name: node.layer for node in graph.model.nodes}

    def only_reader(name: str, wanted: Callable[[Layer], bool]) -> str | None:
        found = readers.get(name, [])
        if len(found) == 1 and found[0] and wanted(layers[found[0]]):
            return found[0]
        return None

    def affine(layer: Layer) -> bool:
        return layer.is_affine_in_eval

    def inplace(layer: Layer) -> bool:
        return layer.has_inplace_form

    plan: dict[str, tuple[str | None, str | None]] = {}
    for node in graph.model.nodes:
        out_shapes = graph.node(node.name)["output_shapes"]
        norm = only_reader(node.name, affine) if node.layer.fuses_affine(out_shapes[0]) else None
        if norm is not None:
            plan[node.name] = (norm, only_reader(norm, inplace))
        elif node.layer.fresh_output and only_reader(node.name, inplace):
            plan[node.name] = (None, only_reader(node.name, inplace))
    return plan


def _name_inputs(graph: Analysis, arrays: tuple, named: dict) -> dict[str, np.ndarray]:
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


def _check_inputs(graph: Analysis, inputs: dict[str, np.ndarray]) -> None:
    """Each array has its input's shape and a dtype of the declared kind (float, int or bool)."""
    conflicts = []
    for name, shape in graph.inputs.items():
        actual = tuple(inputs[name].shape)
        if actual != tuple(shape):
            conflicts.append(Conflict(name, "input", "shape", dims.format_shape(shape),
                                      f"the array has shape {actual}"))
        declared, got = graph.node(name)["dtype"], inputs[name].dtype
        if declared is not None and got.kind != dtypes.numpy_kind(declared):
            conflicts.append(Conflict(name, "input", "dtype", f"{declared} (as declared)", f"the array is {got}",
                                      f"Give a {dtypes.TABLE[declared].kind} array, or declare the input as "
                                      f"{{shape: [...], dtype: {got}}}." if got.name in dtypes.TABLE else ""))
    if conflicts:
        raise ShapeMismatchError(conflicts)


