"""symshape: symbolic shape propagation, lazy initialization without data, a numpy reference forward.

The public names are imported on first use (PEP 562), so ``import symshape`` and the command line
start fast: sympy, networkx and the layer registry load only when something needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module defining it (layer classes come from the registry, ``symshape.layers``)
_WHERE = {
    "Input": "wiring", "Model": "wiring", "Sequential": "wiring", "SymbolicTensor": "wiring",
    "ShapeGraph": "graph",
    "ShapeError": "errors", "ShapeMismatchError": "errors", "SpecError": "errors", "UnresolvedShapeError": "errors",
    "ParamSpec": "params", "UninitializedParameter": "params", "INITIALIZERS": "init",
    "parse_dim": "dims", "parse_shape": "dims", "sym": "dims", "load_spec": "spec", "save_spec": "spec",
    "load_weights": "weights", "save_weights": "weights", "write_weights": "stream",
    "from_torch": "importers", "import_factory": "importers", "from_onnx": "importers.onnx",
    "to_onnx": "exporters.onnx",
}


def _layer_names() -> list[str]:
    from .layers import __all__ as names

    return list(names)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    elif name == "__all__":
        value = [*_WHERE, *_layer_names()]
    elif name[:1].isupper() and name in _layer_names():  # lower-case names may be submodules being imported
        value = getattr(importlib.import_module(".layers", __name__), name)
    else:
        raise AttributeError(f"module 'symshape' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})
