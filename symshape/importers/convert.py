"""A traced torch.fx graph -> a symshape Model, node by node, with sizes kept symbolic.

Shapes are needed while converting (``x.size(0)``, ``x.shape[-1] // heads``): the converter runs
symshape's own shape rules on the nodes built so far (incrementally, with the engine's ``RuleContext``),
so a size read from a tensor is the exact symbolic size symshape will propagate (``B``, ``floor(H/16)``),
and ops consuming it (Reshape, Expand, Arange, Slice) carry expressions of the input sizes.
Every unmapped node is collected with its target and source line and reported at once.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from ..errors import SpecError
from ..layers.base import LAYERS, Layer
from ..propagate import Restart, RuleContext, Solver, propagate
from ..wiring import InputSpec, Model, NodeSpec, ref_name, state_name
from .torch_modules import layer_from_module
from .values import UNKNOWN, Tensor, Unknown, Weight, contains


class Unsupported(Exception):
    """Raised by an op handler: this node cannot be mapped (the reason is the message)."""


class Converter:
    def __init__(self, module: Any, inputs: list[InputSpec], name: str | None):
        self.module = module
        self.inputs = inputs
        self.model_name = name
        self.nodes: list[NodeSpec] = []
        self.names: set[str] = {i.name for i in inputs}
        self.last_suffix: dict[str, int] = {}  # base name -> its highest _k so far: unique() does not rescan
        self.owners: dict[str, tuple[Layer, str]] = {}  # module path -> (layer, node owning it)
        self.weight_nodes: dict[str, Tensor] = {}
        self.problems: list[str] = []
        self.modules = dict(module.named_modules(remove_duplicate=False))
        self.state_names = set(module.state_dict().keys())
        # incremental shapes: the engine's solver and the shapes of every reference so far
        self.solver = Solver({}, {})
        self.shapes: dict[str, Any] = {i.name: i.shape for i in inputs}
        self.dtypes: dict[str, str] = {i.name: i.dtype for i in inputs}
        self.done = 0  # nodes whose shapes are known

    # --- building ----------------------------------------------------------------------------------
    def unique(self, name: str) -> str:
        """``name``, or ``name_k`` with the least k not taken (names are never released)."""
        base, k = name, self.last_suffix.get(name, 0)
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        if k:
            self.last_suffix[base] = k
        self.names.add(name)
        return name

    def add(self, layer: Layer, inputs: list[Any], name: str, owner: str | None = None) -> Any:
        """Append a node applying ``layer`` to ``inputs`` (tensors or weights); its output value(s)."""
        refs = tuple(self.tensor(v).ref for v in inputs)
        problem = layer.arity_problem(len(refs))
        if problem:
            raise Unsupported(f"{layer.op} {problem}")
        node = NodeSpec(self.unique(name), layer, refs, owner)
        self.nodes.append(node)
        outs = tuple(Tensor(ref_name(node.name, i)) for i in range(layer.n_outputs))
        return outs[0] if len(outs) == 1 else outs

    def op(self, op: str, inputs: list[Any], name: str, **kwargs: Any) -> Any:
        """``add`` of the registered layer ``op`` built from ``kwargs``."""
        cls = LAYERS.get(op)
        if cls is None:
            raise Unsupported(f"symshape has no {op} layer yet")
        try:
            layer = cls(**kwargs)
        except SpecError as exc:
            raise Unsupported(str(exc)) from None
        return self.add(layer, inputs, name)

    def module_call(self, path: str, inputs: list[Any], kwargs: dict[str, Any], name: str) -> Any:
        """A leaf module applied to inputs: its layer, shared if the module was called before."""
        if path in self.owners:
            layer, owner = self.owners[path]
            return torch_outputs(layer, self.add(layer, inputs, name, owner=owner))
        module = self.modules[path]
        # options left at None are not given (MultiheadAttention(..., attn_mask=None): no mask input)
        options = {k: v for k, v in kwargs.items() if v is not None and not contains(v, Tensor)}
        layer = layer_from_module(module, options)
        if layer is None:
            raise Unsupported(f"{type(module).__name__} at {path!r} has no symshape equivalent")
        out = self.add(layer, inputs, path)
        self.owners[path] = (layer, self.nodes[-1].name)
        return torch_outputs(layer, out)

    def fold(self, op: str, x: Any, weights: dict[str, Any], **kwargs: Any) -> Any | None:
        """A functional call on one module's own weights (``F.layer_norm(x, s, P.weight, P.bias)``) as the
        layer ``op`` named ``P``, so its parameters keep their names; None if the weights are not so."""
        given = {k: w for k, w in weights.items() if w is not None}
        if not given or not all(isinstance(w, Weight) for w in given.values()):
            return None
        prefixes = {w.name.rpartition(".")[0] for w in given.values()}
        if len(prefixes) != 1 or any(w.name.rpartition(".")[2] != k for k, w in given.items()):
            return None
        path = prefixes.pop()
        if not path:  # the root's own weights (an nn.Linear imported by itself): a node cannot carry their names
            return None
        if path in self.owners:
            layer, owner = self.owners[path]
            return self.add(layer, [x], path, owner=owner) if layer.op == op else None
        try:
            layer = LAYERS[op](**kwargs)
        except (SpecError, KeyError):
            return None
        specs = layer.param_specs()
        learned = {k for k, s in specs.items() if not s.buffer}
        if not learned <= set(given) or not set(given) <= set(specs) or any(
                tuple(specs[k].shape) != tuple(w.tensor.shape) for k, w in given.items()):
            return None
        out = self.add(layer, [x], path)
        self.owners[path] = (layer, self.nodes[-1].name)
        return out

    def add_unused_state(self) -> None:
        """Parameters and buffers of the module that its forward does not use (eval-mode auxiliary heads)
        become nodes of their own, so the model's state is the module's whole state_dict."""
        claimed = {state_name(n.name, local) for n in self.nodes if n.owner is None for local in n.layer.param_specs()}
        params = dict(self.module.named_parameters())
        for key, value in self.module.state_dict().items():
            if key not in claimed and key not in self.weight_nodes:
                self.tensor(Weight(key, params.get(key, value)))  # a Parameter, or a buffer's tensor

    def tensor(self, value: Any) -> Tensor:
        """``value`` as a tensor of the model: a Weight becomes a Parameter or Buffer node once."""
        if isinstance(value, Tensor):
            return value
        if isinstance(value, Weight):
            if value.name not in self.weight_nodes:
                self.weight_nodes[value.name] = self._weight_node(value)
            return self.weight_nodes[value.name]
        raise Unsupported(f"expected a tensor, got {type(value).__name__} {value!r}")

    def _weight_node(self, w: Weight) -> Tensor:
        import torch

        shape = list(w.tensor.shape)
        if isinstance(w.tensor, torch.nn.Parameter):
            return self.op("Parameter", [], w.name, shape=shape)
        if w.name not in self.state_names:
            from .constants import rebuild

            return rebuild(self, w.name, w.tensor)
        return self.op("Buffer", [], w.name, shape=shape, dtype=str(w.tensor.dtype).removeprefix("torch."))

    # --- shapes of what is built -------------------------------------------------------------------
    def shape(self, value: Any) -> tuple:
        """The symbolic shape of a tensor (or weight) built so far."""
        if isinstance(value, Weight):
            return tuple(value.tensor.shape)
        self._catch_up()
        shape = self.shapes.get(value.ref)
        if shape is None:
            raise Unsupported(f"the shape of {value.ref} is unknown (an earlier shape error)")
        return tuple(shape)

    def dtype(self, value: Any) -> str:
        if isinstance(value, Weight):
            return str(value.tensor.dtype).removeprefix("torch.")
        self._catch_up()
        return self.dtypes[value.ref]

    def _catch_up(self) -> None:
        """Run the shape rules of the nodes added since the last call (a pinned size: all over again)."""
        while self.done < len(self.nodes):
            node = self.nodes[self.done]
            in_shapes = [self.shapes[r] for r in node.inputs]
            try:
                if any(s is None for s in in_shapes):
                    outs = [None] * node.layer.n_outputs
                else:
                    ctx = RuleContext(self.solver, node.name, node.layer, list(node.inputs), in_shapes, None)
                    result = node.layer.infer(ctx, *in_shapes)
                    outs = list(result) if node.layer.n_outputs > 1 else [result]
                out_dtypes = node.layer.output_dtypes(*(self.dtypes[r] for r in node.inputs))
            except Restart:
                self._full_pass()
                return
            for i, s in enumerate(outs):
                self.shapes[ref_name(node.name, i)] = s
                self.dtypes[ref_name(node.name, i)] = out_dtypes[i]
            self.done += 1

    def _full_pass(self) -> None:
        partial = Model._from_parts(self.inputs, self.nodes, [self.nodes[-1].name])
        declared = {i.name: i.shape for i in self.inputs}
        graph, shapes = propagate(partial, declared, self.solver)
        self.shapes = dict(shapes)
        for name, data in graph.nodes.items():
            if data["kind"] == "layer":
                for i, dt in enumerate(data["output_dtypes"]):
                    self.dtypes[ref_name(name, i)] = dt
        self.done = len(self.nodes)

    # --- the walk ----------------------------------------------------------------------------------
    def run(self, graph: Any, placeholders: dict[str, Any], handle: Callable[[Converter, Any, tuple, dict], Any],
            ) -> Model:
        """Convert every node of the fx ``graph``. ``placeholders`` gives the value of each placeholder
        by its target (the argument name); ``handle(converter, node, args, kwargs)`` maps the others."""
        env: dict[Any, Any] = {}
        for node in graph.nodes:
            if node.op == "placeholder":
                env[node] = placeholders[node.target]
            elif node.op == "output":
                return self.finish(_map(node.args, env)[0])
            else:
                self.step(node, env, handle)
        raise SpecError("from_torch: the traced graph has no output")

    def step(self, node: Any, env: dict[Any, Any], handle: Callable[[Converter, Any, tuple, dict], Any]) -> None:
        """Convert one call node, its arguments already in ``env``; an unmapped node is recorded as a
        problem and yields ``UNKNOWN``."""
        args = _map(node.args, env)
        kwargs = _map(node.kwargs, env)
        if contains(args, Unknown) or contains(kwargs, Unknown):
            env[node] = UNKNOWN
            return
        try:
            if node.op == "call_method" and node.target in FILLS \
                    and getattr(node.args[0], "target", None) is operator.getitem:
                self._fill_view(node, env, args)
                return
            env[node] = handle(self, node, args, kwargs)
            if node.target is operator.setitem:
                env[_mutated(node)] = env[node]
        except Unsupported as exc:
            self.problems.append(f"{describe(node)}: {exc}")
            env[node] = UNKNOWN

    def _fill_view(self, node: Any, env: dict[Any, Any], args: tuple) -> None:
        """``x[a:b].zero_()`` (``.fill_(v)``) as ``x[a:b] = v``: ``x``'s node is bound to the filled tensor
        and the call's value is the view of it."""
        from .torch_ops import HANDLERS  # the op table imports this module

        view = node.args[0]
        base, key = _mutated(view), _map(view.args[1], env)
        value = 0 if node.target == "zero_" else args[1]
        env[base] = HANDLERS["operator.setitem"](self, "operator.setitem", (env[base], key, value), {})
        env[node] = env[view] = HANDLERS["operator.getitem"](self, "operator.getitem", (env[base], key), {})

    def finish(self, outputs: Any) -> Model:
        """The model returning ``outputs`` (the converted values of the graph's output), or one error
        listing every unmapped node."""
        if self.problems:
            raise SpecError(self.problems_message())
        names, refs = self._outputs(outputs)
        self.add_unused_state()
        return Model._from_parts(self.inputs, self.nodes, refs, self.model_name, names, self._ties())

    def _ties(self) -> dict[str, str]:
        """State names of a Parameter shared with an earlier name -> that name (GPT-2's ``lm_head.weight`` is
        ``transformer.wte.weight``): counted once and materialized as one array, as torch holds it."""
        first: dict[int, str] = {}
        ties = {}
        for key, p in self.module.named_parameters(remove_duplicate=False):
            target = first.setdefault(id(p), key)
            if target != key:
                ties[key] = target
        return ties

    def problems_message(self) -> str:
        return (f"from_torch: {len(self.problems)} node(s) of the traced graph have no symshape equivalent:\n  "
                + "\n  ".join(self.problems))

    def _outputs(self, outputs: Any) -> tuple[list[str], list[str]]:
        """Output names and references: a tensor ("output"), a tuple ("output_0", ...), a dict or a
        ModelOutput (its keys; entries that are not tensors, such as None, are left out)."""
        items: list[tuple[str, Any]]
        if isinstance(outputs, dict):
            items = list(outputs.items())
        elif isinstance(outputs, (tuple, list)):
            items = [(f"output_{i}", v) for i, v in enumerate(outputs)]
        else:
            items = [("output", outputs)]
        names, refs = [], []
        for key, value in _flatten(items):
            if isinstance(value, (Tensor, Weight)):
                names.append(key)
                refs.append(self.tensor(value).ref)
        if not refs:
            raise SpecError("from_torch: the module returns no tensor")
        return names, refs


def torch_outputs(layer: Layer, out: Any) -> Any:
    """A layer's outputs arranged as the torch module returns them: MultiheadAttention ``(out, weights or
    None)``, LSTM ``(output, (h_n, c_n))``."""
    if layer.op == "MultiheadAttention":
        return out if isinstance(out, tuple) else (out, None)
    if layer.op == "LSTM":
        return out[0], (out[1], out[2])
    return out


def _flatten(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    out = []
    for key, value in items:
        if isinstance(value, dict):
            out += _flatten([(f"{key}.{k}", v) for k, v in value.items()])
        elif isinstance(value, (tuple, list)):
            out += _flatten([(f"{key}.{i}", v) for i, v in enumerate(value)])
        else:
            out.append((key, value))
    return out


FILLS = ("zero_", "fill_")  # in-place methods that write a number into a tensor


def _mutated(node: Any) -> Any:
    """The node ``x`` of ``x[i] = v``, checked to have no use before the assignment but other assignments
    and reads of its size (a view of it taken before would see the new values in torch, not here)."""
    target = node.args[0]
    for user in target.users:
        if user is node:
            break
        if user.target is not operator.setitem and not _reads_metadata(user) and not _filled_view(user):
            raise Unsupported(f"item assignment into {target.name}, which {user.name} used before it")
    return target


def _filled_view(node: Any) -> bool:
    """Whether the node is a view ``x[a:b]`` used only to fill it (``x[a:b].zero_()``), an assignment."""
    return node.target is operator.getitem and bool(node.users) and all(
        u.op == "call_method" and u.target in FILLS for u in node.users)


def _reads_metadata(node: Any) -> bool:
    """Whether the node reads only its argument's size, rank or dtype (``x.numel()``, ``x.shape``)."""
    if node.op == "call_method":
        return node.target in ("size", "numel", "dim", "ndimension")
    return node.target is getattr and node.args[1:2] in (("shape",), ("dtype",), ("ndim",), ("device",))


def _map(value: Any, env: dict) -> Any:
    import torch.fx

    if isinstance(value, torch.fx.Node):
        return env[value]
    if isinstance(value, tuple):
        return tuple(_map(v, env) for v in value)
    if isinstance(value, list):
        return [_map(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _map(v, env) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(_map(value.start, env), _map(value.stop, env), _map(value.step, env))
    return value


LAZY_STACK_TRACE = "symshape_stack_trace"  # node.meta key: a function formatting the node's stack trace


def stack_trace(node: Any) -> str:
    """The node's stack trace: fx's or TorchDynamo's, or one formatted now from the tracer's capture."""
    trace = node.meta.get("stack_trace")
    if not trace and LAZY_STACK_TRACE in node.meta:
        trace = node.meta["stack_trace"] = node.meta.pop(LAZY_STACK_TRACE)()
    return trace or ""


def describe(node: Any) -> str:
    """``view_1 (call_method view) at torchvision/models/vision_transformer.py:289 in encoder.layers``."""
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__qualname__", str(node.target))
    where = ""
    trace = stack_trace(node)
    lines = [line.strip() for line in trace.strip().splitlines()
             if line.strip().startswith("File") and "/torch/" not in line]
    if lines:
        where = " at " + lines[-1].removeprefix("File ").replace('"', "")
    stack = node.meta.get("nn_module_stack")
    if stack:
        path = list(stack.values())[-1]
        path = path[0] if isinstance(path, tuple) else path
        if path:
            where += f" in module {path!r}"
    return f"{node.name} ({node.op} {target}){where}"

