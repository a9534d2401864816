"""The layer catalogue (docs/layers.md), generated from the registry so that it cannot drift.

Run ``python -m symshape.catalogue > docs/layers.md``; a test checks that the file is current.
"""

from __future__ import annotations

import inspect
import sys

from .layers import LAYERS


def _signature(cls: type) -> str:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    shown = [p.replace(annotation=inspect.Parameter.empty) for p in params if p.name not in ("device", "dtype")]
    return f"{cls.__name__}({', '.join(str(p) for p in shown)})"


def render() -> str:
    families: dict[str, list[type]] = {}
    for cls in LAYERS.values():
        if not cls.__name__.startswith("_"):
            families.setdefault(cls.__module__, []).append(cls)
    lines = ["# Layer catalogue", "",
             "Generated from the code by `python -m symshape.catalogue`. Every layer has torch.nn's name, arguments,",
             "defaults, parameter names and layouts; `device`/`dtype` arguments are accepted and ignored.",
             "Size arguments may be symbol expressions (`\"2*C\"`); input-side ones may be `None` (inferred).", ""]
    for module, classes in families.items():
        doc = inspect.getdoc(sys.modules[module]) or ""
        lines += [f"## {module.rsplit('.', 1)[-1]}", "", doc, "",
                  "| layer | shape rule | size arguments |", "|---|---|---|"]
        for cls in classes:
            rule = (inspect.getdoc(cls) or "").split("\n")[0].replace("|", "\\|")
            lazy = ", ".join(cls.size_args) or "-"
            lines.append(f"| `{_signature(cls)}` | {rule} | {lazy} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
