"""The layer catalogue (docs/layers.md), generated from the registry so that it cannot drift.

Every layer is listed with its torch signature, its rule, and a worked example that symshape
actually analyses: the example's symbolic output shapes, parameter shapes and the conditions
it puts on the sizes. Run ``python -m symshape.catalogue > docs/layers.md``; a test keeps it current.
"""

from __future__ import annotations

import inspect
import sys

from . import dims
from .layers import LAYERS, Layer
from .wiring import Input, Model


def _signature(cls: type) -> str:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    factory = {"device", "dtype"} if any(p.name == "device" for p in params) else set()  # torch.nn's, ignored
    shown = [p.replace(annotation=inspect.Parameter.empty) for p in params if p.name not in factory]
    return f"{cls.__name__}({', '.join(str(p) for p in shown)})"


def _example(cls: type[Layer]) -> list[str]:
    """Analyse the class's example symbolically and describe the result."""
    kwargs, shapes = cls.example
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    layer = cls(**kwargs)
    typed = [s if isinstance(s, tuple) else (s, "float32") for s in shapes]  # ("B, T", "bool"): a dtype
    inputs = [Input(s, name=f"x{i}" if len(shapes) > 1 else "x", dtype=d) for i, (s, d) in enumerate(typed)]
    out = layer(*inputs, name="layer")
    outs = list(out) if isinstance(out, tuple) else [out]
    graph = Model(inputs, outs).infer()
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    given = ", ".join(f"`{dims.format_shape(s)}`" for s in graph.inputs.values())
    results = ", ".join(f"`{dims.format_shape(s)}`" for s in graph.output_shapes)
    lines = [f"- example: `{cls.__name__}({args})` " + (f"on {given} " if given else "") + f"gives {results}"]
    params = graph.graph.nodes["layer"]["params"]
    if params:
        lines.append("- parameters: " + ", ".join(
            f"`{name or 'layer'}` `{dims.format_shape(spec.shape)}`" + (" (buffer)" if spec.buffer else "")
            for name, spec in params.items()))
    if graph.fixed_sizes:
        lines.append("- fixes: " + ", ".join(f"`{k} = {v}`" for k, v in graph.fixed_sizes.items()))
    if graph.constraints:
        lines.append("- conditions: " + ", ".join(f"`{c}`" for c in graph.constraints))
    return lines


def render() -> str:
    families: dict[str, list[type]] = {}
    for cls in LAYERS.values():
        if not cls.__name__.startswith("_"):
            families.setdefault(cls.__module__, []).append(cls)
    lines = ["# Layer catalogue", "",
             "Generated from the code by `python -m symshape.catalogue`: each example below is analysed by symshape",
             "as this page is written. Every layer has torch.nn's name, arguments, defaults, parameter names and",
             "layouts; `device`/`dtype` arguments are accepted and ignored. Size arguments may be symbol",
             "expressions (`\"2*C\"`); input-side ones may be `None` (inferred from the input).", ""]
    for module, classes in families.items():
        doc = inspect.getdoc(sys.modules[module]) or ""
        lines += [f"## {module.rsplit('.', 1)[-1]}", "", doc, ""]
        for cls in classes:
            rule = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())  # the first paragraph
            lines += [f"### {cls.__name__}", "", f"`{_signature(cls)}`", "", rule, "", *_example(cls), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
