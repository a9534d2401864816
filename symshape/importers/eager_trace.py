"""torch.fx tracing that converts each node as it is recorded, so Python code may branch on sizes.

Plain ``torch.fx`` cannot trace ``if window_size >= pad_H:`` (a proxy has no truth value). Here every node
is converted to symshape the moment fx records it, so the tracer knows each proxy's value: a size
expression of the input sizes (``floor(H/4) + Mod(-floor(H/4), 7)``), a tuple of them, or a tensor.
A comparison of sizes that the sizes decide is taken the way the example sizes take it (224 for an
image's height and width, 8 otherwise, or the ``sizes`` given to ``from_torch``), and the branch is
written into the model as a ``Guard`` node: the imported graph states the sizes it holds for. Functions
that a library keeps opaque to fx with ``torch.fx.wrap`` because they branch on sizes (torchvision's
``shifted_window_attention``) are traced into, unless the op table maps them whole.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import traceback
from pathlib import Path
from typing import Any, Iterator

import sympy
import torch.fx
from torch.fx import _symbolic_trace
from torch.utils._traceback import CapturedTraceback

from .. import dims
from .convert import LAZY_STACK_TRACE, Converter, describe, stack_trace
from .torch_import import handle_fx
from .torch_ops import HANDLERS
from .values import Condition, Pin, Tensor, Weight

_PACKAGE = str(Path(__file__).parents[1])  # symshape's own frames are left out of nodes' stack traces
RELATIONS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "==", "ne": "!="}
_PLAIN = frozenset({int, float, bool, str, type(None)})
NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}


class EagerTracer(torch.fx.Tracer):
    """An fx tracer whose leaf modules are ``leaves`` (ids) and which converts nodes into ``converter`` as
    it records them; ``arguments`` are the values of forward's parameters, ``examples`` the sizes that
    decide branches. After ``trace``, ``outputs`` holds the converted output value."""

    def __init__(self, leaves: set[int], converter: Converter, arguments: list[Any], examples: dict) -> None:
        super().__init__()
        self.converting = False  # while the converter runs, modules answer with their real attributes and calls
        self.proxy_buffer_attributes = True  # a buffer read in forward is a node (MaxViT views its index table)
        self.leaves = leaves
        self.converter = converter
        self.arguments = list(arguments)
        self.examples = examples
        self.env: dict[torch.fx.Node, Any] = {}
        self.outputs: Any = None
        self.failure: BaseException | None = None  # an error of the converter itself, re-raised after tracing
        self.state_names: dict[int, str] | None = None  # id of a parameter or buffer of the root -> its name

    def is_leaf_module(self, m: Any, qualname: str) -> bool:
        return id(m) in self.leaves

    def _filter_traceback_frames(self, summary: traceback.StackSummary) -> traceback.StackSummary:
        """The model's frames, without symshape's own (this tracer converting the node)."""
        frames = super()._filter_traceback_frames(summary)
        return traceback.StackSummary.from_list([f for f in frames if not f.filename.startswith(_PACKAGE)])

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        """A parameter or buffer of the root as a ``get_attr`` node (one per name), as fx makes it, found
        by identity in a table rather than by fx's scan of every parameter on every access."""
        if self.converting or not isinstance(attr_val, torch.Tensor):
            return attr_val
        if self.state_names is None:
            self.state_names = {}
            for name, tensor in (*self.root.named_buffers(), *self.root.named_parameters()):
                self.state_names[id(tensor)] = name  # parameters last: their names win, as in fx
        name = self.state_names.get(id(attr_val))
        if name is None:
            return attr_val
        if name not in parameter_proxy_cache:
            parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
        return parameter_proxy_cache[name]

    def create_arg(self, a: Any) -> Any:
        """fx's ``create_arg`` with a fast path for what node arguments mostly are (proxies, numbers, strings,
        None and tuples or lists of them), which fx's own checks every parameter, buffer and module type for."""
        kind = type(a)
        if kind is AssignableProxy:
            return a.node
        if kind in _PLAIN:
            return a
        if kind is tuple:
            return tuple([self.create_arg(item) for item in a])
        if kind is list:
            return [self.create_arg(item) for item in a]
        return super().create_arg(a)

    def call_module(self, m: torch.nn.Module, forward: Any, args: tuple, kwargs: dict) -> Any:
        return forward(*args, **kwargs) if self.converting else super().call_module(m, forward, args, kwargs)

    def proxy(self, node: torch.fx.Node) -> torch.fx.Proxy:
        return AssignableProxy(node, self)

    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None) -> torch.fx.Node:
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        captured = CapturedTraceback.extract()  # formatted only if a message needs it (formatting is slow)
        node.meta[LAZY_STACK_TRACE] = lambda: "".join(
            self._filter_traceback_frames(captured.summary()).format()).strip()
        if kind == "placeholder":
            self.env[node] = self.arguments.pop(0)
        elif kind == "output":
            self.outputs = torch.fx.node.map_arg(node.args[0], self.env.__getitem__)
        else:
            self.converting = True
            try:
                self.converter.step(node, self.env, handle_fx)
            except Pin:
                raise
            except Exception as exc:
                self.failure = exc
                raise
            finally:
                self.converting = False
        return node

    def to_bool(self, obj: torch.fx.Proxy) -> bool:
        value = self.env.get(obj.node)
        if isinstance(value, bool):
            return value
        if isinstance(value, Condition) and value.op.rstrip("_") in RELATIONS:
            return self._branch(value, obj.node)
        raise torch.fx.proxy.TraceError(f"{describe(obj.node)}: a branch on {_what(value)}, which the sizes "
                                        "do not decide")

    def iter(self, obj: torch.fx.Proxy) -> Iterator:
        """A tuple of values item by item, a tensor along its first dim when that size is a number."""
        value = self.env.get(obj.node)
        if isinstance(value, (tuple, list)):
            return iter([obj[i] for i in range(len(value))])
        if isinstance(value, (Tensor, Weight)):
            shape = self.converter.shape(value)
            if shape and type(shape[0]) is int:
                return iter([obj[i] for i in range(shape[0])])
        return super().iter(obj)

    def _branch(self, condition: Condition, node: torch.fx.Node) -> bool:
        """Take the branch the example sizes take, and state it in the model as a Guard."""
        relation = RELATIONS[condition.op.rstrip("_")]
        a, b = (dims.evaluate(dims.substitute(v, self.examples), {}) for v in (condition.a, condition.b))
        taken = bool(getattr(operator, condition.op.rstrip("_"))(a, b))
        relation = relation if taken else NEGATED[relation]
        if _holds_from_two(condition.a, relation, condition.b):
            return taken
        c = self.converter
        c.op("Guard", [Tensor(c.inputs[0].name)], "guard", lhs=condition.a, relation=relation, rhs=condition.b,
             reason=_source(node))
        return taken


@functools.lru_cache(maxsize=1024)  # a model asks the same few questions per layer (GPT-2: 13 asks, 2 questions)
def _holds_from_two(a: Any, relation: str, b: Any) -> bool:
    """Whether ``a relation b`` holds whenever every size in it is at least 2. Such a branch is taken without
    a guard, as TorchDynamo and torch.export take it: they trace dynamic sizes as >= 2 (their "0/1
    specialization") and hold the graph valid at size 1 too. Size-1 branches are shortcuts of the same
    result (Hugging Face's ``if batch_size != position_ids.shape[0]: expand``, SDPA's ``is_causal`` for one
    query), and without this rule an imported GPT-2 would refuse batch 1 where torch runs it."""
    symbols = dims.free_symbols(a) | dims.free_symbols(b)
    if not symbols:
        return False
    shifted = {s: sympy.Symbol(f"{s.name}_less_2", integer=True, nonnegative=True) + 2 for s in symbols}
    lhs, rhs = (sympy.sympify(v).subs(shifted, simultaneous=True) for v in (a, b))
    truth = {">=": sympy.Ge, ">": sympy.Gt, "<=": sympy.Le, "<": sympy.Lt, "==": sympy.Eq, "!=": sympy.Ne}[relation](
        lhs, rhs)
    return truth is sympy.true


class AssignableProxy(torch.fx.Proxy):
    """A proxy that records item assignment (``mask[a:b, c:d] = k``) as ``operator.setitem``, knows the
    length of a tuple of sizes (``len(x.size())``) and a tensor's dtype (a constant: ``torch.finfo(x.dtype)``
    in T5 works on it)."""

    def __getattr__(self, k: str) -> Any:
        if k == "dtype":
            value = self.tracer.env.get(self.node)
            if isinstance(value, (Tensor, Weight)):
                return getattr(torch, self.tracer.converter.dtype(value))
        return super().__getattr__(k)

    def __iter__(self) -> Iterator:
        """The tracer knows what is iterated (fx's own ``__iter__`` disassembles the caller's code each time:
        48 calls were 0.1 s of a GPT-2 import)."""
        return self.tracer.iter(self)

    def __len__(self) -> int:
        value = self.tracer.env.get(self.node)
        if isinstance(value, (tuple, list)):
            return len(value)
        return super().__len__()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.tracer.create_proxy("call_function", operator.setitem, (self, key, value), {})


def _what(value: Any) -> str:
    if isinstance(value, Tensor):
        return "the values of a tensor"
    return f"{type(value).__name__} {value!r}"


def _source(node: torch.fx.Node) -> str:
    """``swin_transformer.py:151``: where the branch is, for the Guard's reason."""
    trace = [line.strip() for line in stack_trace(node).splitlines()
             if line.strip().startswith("File") and "/torch/" not in line]
    if not trace:
        return "a branch on the sizes"
    file, _, rest = trace[-1].removeprefix("File ").partition(", line ")
    return f"the branch at {file.strip(chr(34)).rsplit('/', 1)[-1]}:{rest.split(',')[0]}"


@contextlib.contextmanager
def tracing_into_wrapped_functions() -> Iterator[None]:
    """While tracing, functions registered with ``torch.fx.wrap`` that the op table does not map are
    traced into rather than recorded as one call."""
    table = _symbolic_trace._wrapped_fns_to_patch
    saved = dict(table)
    for key, frame in saved.items():
        fn = frame.get(key[1])
        if f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}" not in HANDLERS:
            del table[key]
    try:
        yield
    finally:
        table.clear()
        table.update(saved)
