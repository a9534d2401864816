"""Importers: existing models in. ``from_torch`` and ``import_factory`` import torch only when called."""

from __future__ import annotations

from typing import Any


def from_torch(module: Any, inputs: dict[str, Any], **options: Any) -> Any:
    """A ``torch.nn.Module`` -> a symshape Model (see ``symshape.importers.torch_import``)."""
    from .torch_import import from_torch as convert

    return convert(module, inputs, **options)


def import_factory(target: str, inputs: dict[str, Any], **options: Any) -> Any:
    """``"package.module:factory"`` called with no arguments, imported with ``from_torch``."""
    from .torch_import import import_factory as load

    return load(target, inputs, **options)


__all__ = ["from_torch", "import_factory"]
