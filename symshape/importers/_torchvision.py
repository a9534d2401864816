"""Importing torchvision's pure-Python model code when its compiled ops cannot load.

The installed torchvision wheel may be built for another torch (a CUDA one beside a CPU torch): its
``_C`` extension then fails to load, which torchvision tolerates, but ``torchvision/_meta_registrations``
still registers fake kernels for ``torchvision::nms``/``qnms`` with ``torch.library.register_fake``, and
that raises ``operator torchvision::nms does not exist`` at ``import torchvision`` (so ``transformers``,
which imports ``torchvision.transforms``, fails too). ``ensure_torchvision()`` imports torchvision once
with those two registrations skipped; every model constructor works, only the detection ops (nms, ...)
stay unavailable, as they already are without the extension.
"""

from __future__ import annotations

import sys
from typing import Any, Callable


def ensure_torchvision() -> None:
    """``import torchvision`` with fake-kernel registrations for missing ``torchvision::`` ops skipped."""
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return
    import torch.library

    original = torch.library.register_fake

    def register_fake(op: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(op, str) and op.startswith("torchvision::") and not _op_exists(op):
            return args[0] if args and callable(args[0]) else _identity
        return original(op, *args, **kwargs)

    torch.library.register_fake = register_fake
    try:
        sys.modules.pop("torchvision", None)
        import torchvision  # noqa: F401
    finally:
        torch.library.register_fake = original


def _identity(fn: Callable) -> Callable:
    return fn


def _op_exists(qualname: str) -> bool:
    import torch

    namespace, _, name = qualname.partition("::")
    try:
        getattr(getattr(torch.ops, namespace), name)
    except (AttributeError, RuntimeError):
        return False
    return True
