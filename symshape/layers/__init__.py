"""Every layer family. Importing this package imports each module in it, which fills the registry
``LAYERS`` (a ``Layer`` subclass registers itself by class name); the registry is the only list.

A new layer is one class in one module here: nothing else needs editing.
"""

import importlib
import pkgutil

from .base import LAYERS, Layer

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

globals().update({name: cls for name, cls in LAYERS.items() if not name.startswith("_")})

__all__ = ["LAYERS", "Layer", *(name for name in LAYERS if not name.startswith("_"))]
