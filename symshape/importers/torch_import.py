"""``from_torch``: a ``torch.nn.Module`` -> a symshape ``Model``, traced without running it on data.

Tracing: ``torch.fx.symbolic_trace`` with a tracer whose leaf modules are the ``torch.nn`` modules
symshape has a layer for (their constructor arguments read back from the module's attributes), so every
leaf becomes one symshape layer named by its module path and the parameter names are the module's
``state_dict()`` names. fx keeps sizes symbolic by construction (``x.size(0)`` is a graph node, not a
number), which is what lets Reshape/Expand/Arange arguments become expressions of the input sizes, and
it needs no example input at all. torch.export was not chosen for these: it lowers every module to ATen
ops (the module structure and torch's layer boundaries are gone) and specializes sizes by guards.

Hugging Face ``transformers`` models are not plain-fx-traceable (transformers 5 removed
``transformers.utils.fx``; mask creation is Python control flow on sizes), but the eager tracer
follows that control flow: they are traced through a wrapper that takes the inputs positionally
(``_keyword_call``). Modules that fx still cannot trace (data-dependent control flow), or whose fx
graph has nodes without an equivalent, are captured by TorchDynamo as a second attempt
(``torch.compile`` with a capturing backend, ``fullgraph=True`` and the input dims marked dynamic) on
example inputs: a torch-level fx graph whose sizes are SymInts of the input dims. Dynamo inlines every
module, so its functional calls (``F.linear(x, W, b)``, ``F.layer_norm``, ``F.embedding``) on the
parameters of one leaf module are folded back into that module's layer; other parameters become
``Parameter`` nodes under their state_dict names.
Both paths share one converter (``convert.py``) and one op table (``torch_ops.py``).
"""

from __future__ import annotations

import importlib
import inspect
import keyword
from typing import Any

from .. import dims
from ..dtypes import INPUT_DTYPES
from ..errors import SpecError
from ..propagate import paused_gc
from ..wiring import InputSpec, Model
from .convert import Converter, Unsupported
from .torch_modules import layer_from_module
from .values import Pin, Tensor, Weight, assert_pins


def require_torch() -> Any:
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise SpecError("from_torch needs PyTorch: pip install 'symshape[torch]'") from None
    return torch


def parse_inputs(inputs: dict[str, Any]) -> list[InputSpec]:
    """``{"x": "B, 3, H, W", "input_ids": {"shape": "B, T", "dtype": "int64"}}`` -> input specs."""
    if not isinstance(inputs, dict) or not inputs:
        raise SpecError('from_torch: inputs must be a dict of input name -> shape, e.g. {"x": "B, 3, H, W"}')
    specs = []
    for name, value in inputs.items():
        shape, dtype = (value.get("shape"), value.get("dtype", "float32")) if isinstance(value, dict) else (value, None)
        if dtype is None:
            dtype = "int64" if name.endswith("_ids") or name in ("input_ids", "ids", "tokens") else "float32"
        if dtype not in INPUT_DTYPES:
            raise SpecError(f"from_torch: input {name!r}: dtype must be one of {', '.join(INPUT_DTYPES)}, "
                            f"got {dtype!r}")
        try:
            specs.append(InputSpec(name, dims.parse_shape(shape), dtype))
        except (dims.DimSyntaxError, TypeError) as exc:
            raise SpecError(f"from_torch: input {name!r}: {exc}") from None
    return specs


def from_torch(module: Any, inputs: dict[str, Any], *, name: str | None = None,
               sizes: dict[str, int] | None = None) -> Model:
    """The symshape Model of ``module`` (nothing is run on data). ``inputs`` maps the names of
    ``forward``'s tensor arguments to shapes (``"B, 3, H, W"``) or ``{shape, dtype}``; ``input_ids``
    and other ``*_ids`` names default to int64. Other arguments of forward keep their defaults.
    Parameter names are ``module.state_dict()``'s. ``sizes`` gives example values of the symbols for
    the models that must be captured on example sizes (Hugging Face ones; default: 8, and 224 for
    image height and width)."""
    torch = require_torch()
    if not isinstance(module, torch.nn.Module):
        raise SpecError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    specs = parse_inputs(inputs)
    _check_forward_arguments(module, specs)
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        from .dynamo import convert_captured

        name = name or type(module).__name__
        traced = _keyword_call(module, specs) if _is_hugging_face(module) else module
        with paused_gc():  # the tracers' many short-lived cycles would otherwise reach the oldest generation
            try:
                model = _convert_fx(traced, specs, name, sizes or {})
            except SpecError as fx_error:
                try:
                    model = convert_captured(module, specs, name, sizes or {})
                except SpecError as dynamo_error:
                    _refuse_bare_layer(module)
                    raise SpecError(f"{fx_error}\nCaptured with TorchDynamo instead: {dynamo_error}") from None
    finally:
        for m, training in modes.items():
            m.training = training
    model.block_kinds = {path: type(m).__name__ for path, m in module.named_modules() if path}
    return model


def _refuse_bare_layer(module: Any) -> None:
    """A layer module with weights imported by itself (nn.Conv2d, nn.LSTM) is one symshape layer, and a
    layer's state is named ``<node>.<name>``: its bare names (``weight``, ``bias``) have no node to belong to."""
    state = list(module.state_dict())
    layer = layer_from_module(module)
    if not state or (layer is None and list(module.children())):
        return
    use = f"use its symshape layer, ss.{layer!r}, or " if layer is not None else ""
    raise SpecError(f"from_torch: a bare {type(module).__name__} with parameters ({', '.join(state[:4])}) cannot "
                    f"be a model by itself, since symshape names a layer's parameters after its node "
                    f"(conv.weight); {use}import a module that holds it as a submodule (for a layer of one "
                    f"input, nn.Sequential(module), whose parameters are named 0.{state[0]}, ...)")


def _is_hugging_face(module: Any) -> bool:
    return any(c.__module__.startswith("transformers.") for c in type(module).__mro__)


def _keyword_call(module: Any, specs: list[InputSpec]) -> Any:
    """A module with ``module``'s children, parameters and buffers (so fx names them as in its state_dict)
    whose forward takes the inputs positionally and calls ``module`` with them as keywords and
    ``use_cache=False``. fx traces positional parameters only, and a Hugging Face forward is a decorated
    ``(*args, **kwargs)`` wrapper; the cache is a Python object that from_torch does not return anyway."""
    import torch

    names = [s.name for s in specs]
    if not all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        raise SpecError(f"from_torch: input names must be Python identifiers, got {', '.join(map(repr, names))}")
    options = ", use_cache=False" if "use_cache" in inspect.signature(module.forward).parameters else ""
    source = (f"def forward(self, {', '.join(names)}):\n"
              f"    return self.__dict__['target'].forward({', '.join(f'{n}={n}' for n in names)}{options})\n")
    scope: dict[str, Any] = {}
    exec(compile(source, f"<{type(module).__name__} called with keywords>", "exec"), scope)  # noqa: S102

    wrapper = type(type(module).__name__, (torch.nn.Module,), {"forward": scope["forward"]})()
    for key, child in module.named_children():
        wrapper.add_module(key, child)
    for key, p in module.named_parameters(recurse=False):
        wrapper.register_parameter(key, p)
    for key, b in module.named_buffers(recurse=False):
        wrapper.register_buffer(key, b, persistent=key not in module._non_persistent_buffers_set)
    wrapper.__dict__["target"] = module  # not a child: its path would prefix every state name
    wrapper.eval()
    wrapper.__dict__["config"] = getattr(module, "config", None)  # example image sizes come from it
    return wrapper


def _check_forward_arguments(module: Any, specs: list[InputSpec]) -> None:
    parameters = inspect.signature(module.forward).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    unknown = [s.name for s in specs if s.name not in parameters and not takes_any]
    if unknown:
        raise SpecError(f"from_torch: {type(module).__name__}.forward has no argument {unknown[0]!r}; "
                        f"its arguments are {', '.join(parameters)}")


def _convert_fx(module: Any, specs: list[InputSpec], name: str, sizes: dict[str, int]) -> Model:
    from .dynamo import default_sizes
    from .eager_trace import EagerTracer, tracing_into_wrapped_functions

    # decided before tracing: while fx traces, a module's parameters read as proxies
    leaves = {id(m) for m in module.modules() if layer_from_module(m) is not None}
    given = {s.name for s in specs}
    parameters = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    concrete = {p.name: p.default for p in parameters if p.name not in given}
    examples = {dims.sym(k): v for k, v in {**default_sizes(module, specs), **sizes}.items()}
    pins: dict[Any, int] = {}
    while True:
        converter = Converter(module, specs, name)
        tensors = {s.name: Tensor(s.name) for s in specs}
        assert_pins(converter, tensors, specs, pins, f"{type(module).__name__}.forward asserts it")
        arguments = [tensors[p.name] if p.name in given else p.default for p in parameters]
        tracer = EagerTracer(leaves, converter, arguments, examples)
        try:
            with tracing_into_wrapped_functions():
                tracer.trace(module, concrete_args=concrete or None)
        except Pin as pin:
            if pin.symbol in pins:
                raise SpecError(f"from_torch: {type(module).__name__}.forward asserts {pin} after fixing "
                                f"{pin.symbol} = {pins[pin.symbol]}") from None
            pins[pin.symbol] = pin.value
            continue
        except Exception as exc:  # noqa: BLE001 - any tracing failure is the user's model not being traceable
            if tracer.failure is not None:
                raise tracer.failure from None  # a converter bug, not the model's
            if converter.problems:
                raise SpecError(converter.problems_message()) from None
            raise SpecError(f"from_torch: torch.fx cannot trace {type(module).__name__}: "
                            f"{type(exc).__name__}: {exc}") from None
        return converter.finish(tracer.outputs)


def handle_fx(c: Converter, node: Any, args: tuple, kwargs: dict) -> Any:
    """One fx node: a leaf module, an attribute of the module, or a function/method of the op table."""
    import torch

    if node.op == "call_module":
        if any(not isinstance(a, (Tensor, Weight)) for a in args):
            raise Unsupported("a module called on something other than tensors")
        if any(isinstance(v, (Tensor, Weight)) for v in kwargs.values()):
            raise Unsupported(f"tensor keyword arguments to {node.target!r} ({', '.join(kwargs)})")
        return c.module_call(node.target, [c.tensor(a) for a in args], kwargs, node.target)
    if node.op == "get_attr":
        value = c.module
        for part in node.target.split("."):
            value = getattr(value, part)
        return Weight(node.target, value) if isinstance(value, torch.Tensor) else value
    return call(c, node, args, kwargs)


_NAMES: dict[int, str] = {}


def call(c: Converter, node: Any, args: tuple, kwargs: dict) -> Any:
    """A call_function / call_method node through the op table."""
    from .torch_ops import HANDLERS, canonical_names

    if node.op == "call_method":
        key = f"torch.{node.target}"
    else:
        if not _NAMES:
            _NAMES.update(canonical_names())
        key = _NAMES.get(id(node.target)) or (f"{getattr(node.target, '__module__', '')}."
                                               f"{getattr(node.target, '__qualname__', node.target)}")
    handler = HANDLERS.get(key)
    if handler is None:
        raise Unsupported(f"no symshape mapping for {key}")
    return handler(c, key, args, kwargs)


def import_factory(target: str, inputs: dict[str, Any], **options: Any) -> Model:
    """``"torchvision.models:resnet50"`` -> the factory called with no arguments, imported with
    ``from_torch``. torchvision's model code is importable even when its compiled ops are not."""
    require_torch()
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise SpecError(f"import: expected package.module:factory (e.g. torchvision.models:resnet50), got {target!r}")
    if module_name.split(".")[0] in ("torchvision", "transformers"):
        from ._torchvision import ensure_torchvision

        ensure_torchvision()
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"import: cannot import {target!r}: {exc}") from None
    try:
        module = factory()
    except Exception as exc:  # noqa: BLE001 - the factory is user code
        raise SpecError(f"import: {target}() failed: {type(exc).__name__}: {exc}") from None
    return from_torch(module, inputs, name=attr, **options)
