"""Capturing modules that torch.fx cannot trace (Hugging Face ``transformers``) with TorchDynamo.

``torch.compile(..., fullgraph=True)`` with a backend that keeps the graph and stops (the graph is
never run): the example inputs' symbolic dims are marked dynamic, so sizes in the graph are SymInt
placeholders (``s27``) that map back to the input sizes (``T``). A dim that the model's Python code
specializes (Hugging Face ViT checks ``height == config.image_size``) comes out as a number: the input
size is then fixed to it, which is what torch requires. Parameters arrive as placeholders named after
their source (``L_self_modules_inner_modules_h_modules_0_modules_ln_1_parameters_weight_``) and are
matched to state_dict names. Output names are the keys of the module's output (a ``ModelOutput``),
read by running the module under ``FakeTensorMode`` (no data).
"""

from __future__ import annotations

from typing import Any

import sympy

from .. import dims
from ..errors import SpecError
from ..wiring import InputSpec, Model
from .convert import Converter, Unsupported
from .values import Tensor, Weight, assert_pins


def _example_value(d: dims.Dim, symbol_values: dict[str, int]) -> int:
    if type(d) is int:
        return d
    return dims.evaluate(d, {s: symbol_values[s.name] for s in dims.free_symbols(d)})


def default_sizes(module: Any, specs: list[InputSpec]) -> dict[str, int]:
    """Example values for the symbols: image height and width from the config (else 224), 8 otherwise
    (dynamo specializes sizes 0 and 1)."""
    config = getattr(module, "config", None)
    image = getattr(config, "image_size", None)
    image = image[0] if isinstance(image, (tuple, list)) else image
    values: dict[str, int] = {}
    for spec in specs:
        for axis, d in enumerate(spec.shape):
            for s in dims.free_symbols(d):
                spatial = len(spec.shape) == 4 and axis >= 2 and spec.dtype.startswith("float")
                values.setdefault(s.name, (image if isinstance(image, int) else 224) if spatial else 8)
    return values


def _flatten(value: Any, key: str, out: list[tuple[str, Any]]) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        out.append((key, value))
    elif isinstance(value, dict):  # a ModelOutput is an OrderedDict of its non-None fields
        for k, v in value.items():
            _flatten(v, f"{key}.{k}" if key else k, out)
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _flatten(v, f"{key}.{i}" if key else f"output_{i}", out)


def convert_captured(module: Any, specs: list[InputSpec], name: str, sizes: dict[str, int]) -> Model:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    symbol_values = {**default_sizes(module, specs), **sizes}
    examples = {}
    for spec in specs:
        shape = [_example_value(d, symbol_values) for d in spec.shape]
        examples[spec.name] = torch.zeros(shape, dtype=getattr(torch, spec.dtype))
    keys: list[tuple[str, Any]] = []
    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            _flatten(module(**examples), "", keys)
    except Exception as exc:  # noqa: BLE001 - the module's own code on fake tensors fails in many types
        raise SpecError(f"from_torch: {type(module).__name__} does not run on fake tensors of the example sizes "
                        f"(for TorchDynamo): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                        ) from None
    output_names = [k if k else "output" for k, _ in keys]

    class Flat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, **inputs: Any) -> tuple:
            found: list[tuple[str, Any]] = []
            _flatten(self.inner(**inputs), "", found)
            return tuple(v for _, v in found)

    for spec in specs:
        for axis, d in enumerate(spec.shape):
            if type(d) is not int:
                torch._dynamo.maybe_mark_dynamic(examples[spec.name], axis)
    captured: list[Any] = []

    def backend(gm: Any, example_inputs: Any) -> Any:
        captured.append(gm)
        raise _Captured

    torch._dynamo.reset()
    try:
        torch.compile(Flat(), backend=backend, fullgraph=True)(**examples)
    except Exception as exc:  # noqa: BLE001 - dynamo reports its failures in many types
        if not captured:
            raise SpecError(f"from_torch: TorchDynamo cannot capture {type(module).__name__}: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        torch._dynamo.reset()
    return _convert(module, specs, name, captured[0], output_names)


class _Captured(Exception):
    """Stops torch.compile once the graph is captured."""


def _mangled(name: str, kind: str) -> str:
    """How dynamo names the placeholder of state entry ``a.b.weight``: ``modules_a_modules_b_parameters_weight_``
    after its root's prefix."""
    *path, leaf = name.split(".")
    return "".join(f"modules_{p}_" for p in path) + f"{kind}_{leaf}_"


def _convert(module: Any, specs: list[InputSpec], name: str, gm: Any, output_names: list[str]) -> Model:
    import torch

    prefix = "L_self_modules_inner_"
    state: dict[str, tuple[str, Any]] = {}
    for key, p in module.named_parameters(remove_duplicate=False):
        state[prefix + _mangled(key, "parameters")] = (key, p)
    for key, b in module.named_buffers(remove_duplicate=False):
        state[prefix + _mangled(key, "buffers")] = (key, b)
    inputs = {f"L_inputs_{s.name}_": s for s in specs}
    # the torch symbols of the example inputs' dims -> the declared dims (or a pin when specialized)
    symbols: dict[sympy.Symbol, Any] = {}
    pinned: dict[sympy.Symbol, int] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder" and node.target in inputs:
            spec = inputs[node.target]
            for d, fake in zip(spec.shape, node.meta["example_value"].shape):
                if isinstance(fake, torch.SymInt) and isinstance(fake.node.expr, sympy.Symbol):
                    symbols[fake.node.expr] = d
                elif isinstance(d, sympy.Symbol):
                    pinned[d] = int(fake)
    symbols = {k: dims.substitute(v, pinned) for k, v in symbols.items()}
    converter = Converter(module, specs, name)
    tensors = {s.name: Tensor(s.name) for s in specs}
    assert_pins(converter, tensors, specs, pinned, "TorchDynamo specializes it: the module's forward "
                "only runs at that size")
    placeholders: dict[str, Any] = {}
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            continue
        example = node.meta.get("example_value")
        if node.target in inputs:
            placeholders[node.target] = tensors[inputs[node.target].name]
        elif node.target in state:
            placeholders[node.target] = Weight(*state[node.target])
        elif isinstance(example, torch.SymInt):
            placeholders[node.target] = from_sympy(example.node.expr, symbols)
        else:
            raise SpecError(f"from_torch: the captured graph reads {node.target}, which is neither an input nor "
                            "a parameter or buffer of the module")
    model = converter.run(gm.graph, placeholders, lambda c, n, a, k: handle_captured(c, n, a, k, symbols))
    return Model._from_parts(model.inputs, model.nodes, model.outputs, name, output_names)


def from_sympy(expr: Any, symbols: dict[sympy.Symbol, Any]) -> dims.Dim:
    """A torch size expression (``s27``, ``FloorDiv(s27, 2)``) in terms of the declared sizes."""
    if isinstance(expr, sympy.Integer) or isinstance(expr, int):
        return int(expr)
    if isinstance(expr, sympy.Symbol):
        if expr not in symbols:
            raise Unsupported(f"the size {expr} is not a size of an input")
        return symbols[expr]
    kind = type(expr).__name__
    args = [from_sympy(a, symbols) for a in expr.args]
    if kind == "Add":
        return dims.total(args)
    if kind == "Mul":
        return dims.prod(args)
    if kind == "FloorDiv":
        return dims.floordiv(args[0], args[1])
    if kind in ("Mod", "PythonMod"):
        return dims.mod(args[0], args[1])
    raise Unsupported(f"the size expression {expr} ({kind})")


def handle_captured(c: Converter, node: Any, args: tuple, kwargs: dict, symbols: dict) -> Any:
    """A node of a dynamo graph: the torch-level ops go through the op table, plus dynamo's own forms."""
    import torch

    from .torch_import import call

    example = node.meta.get("example_value")
    if isinstance(example, torch.SymInt) and node.op == "call_function" and not _has_tensor(args):
        return from_sympy(example.node.expr, symbols)  # size arithmetic: torch already has the expression
    if node.op == "call_method" and node.target == "item" and not isinstance(args[0], (Tensor, Weight)):
        return args[0]
    if node.op == "call_function" and node.target is torch.Size:
        return tuple(args[0])
    if node.op == "call_function" and node.target is torch.tensor and args and args[0] == []:
        return EMPTY
    if node.op == "call_function" and node.target in (torch.addmm,):
        bias, a, w = args[:3]
        return c.op("Add", [c.op("MatMul", [a, w], "matmul"), bias], "addmm")
    if node.op == "call_function" and getattr(node.target, "__name__", "") == "sym_size":
        return c.shape(args[0])[args[1]]
    args = tuple([v for v in a if v is not EMPTY] if isinstance(a, list) else a for a in args)
    return call(c, node, args, kwargs)


EMPTY = object()  # torch.tensor([]): the empty start of a key/value cache, dropped by the torch.cat using it


def _has_tensor(args: tuple) -> bool:
    return any(isinstance(a, (Tensor, Weight)) or isinstance(a, (tuple, list)) and _has_tensor(tuple(a))
               for a in args)
