"""torch.nn modules -> symshape layers, from the module's attributes.

A module maps when its class is a ``torch.nn`` class whose name is in the registry and every
constructor argument of that layer can be read back from the module (``Conv2d.in_channels``,
``Linear.bias`` -> ``bias=True``, ``MultiheadAttention.bias_k`` -> ``add_bias_kv``, ...); an argument
torch does not keep (``Transformer``'s ``layer_norm_eps``) is never assumed at its default, only
forward-time options and deprecated ones are. The layer's parameters must then have exactly the
module's own state_dict names and shapes; a module that does not pass these checks is not a leaf (the
tracer goes inside it).
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import SpecError
from ..layers.base import LAYERS, Layer

_SKIPPED = {"device", "dtype", "_weight", "_freeze", "min_value", "max_value", "init"}  # not attributes, or
# deprecated aliases (Hardtanh), or an initial value that the module's own weights replace (PReLU)

_MISSING = object()
_DEPRECATED = {"size_average", "reduce"}  # losses fold these into .reduction when constructed
_UNMAPPABLE = object()  # an argument stored with a value symshape has no equivalent for
_RENAMED = {  # constructor arguments torch stores under another name, or in a submodule
    ("PairwiseDistance", "p"): "norm",
    ("LinearCrossEntropyLoss", "in_features"): "linear.in_features", ("LinearCrossEntropyLoss", "bias"): "linear.bias",
}


def _attribute(module: Any, name: str) -> Any:
    """The value of constructor argument ``name`` as the module stores it, or _MISSING."""
    import torch

    if name == "bias" and type(module).__name__ == "MultiheadAttention":
        return module.in_proj_bias is not None
    if name == "add_bias_kv":
        return getattr(module, "bias_k", None) is not None
    if name == "elementwise_affine" and hasattr(module, "elementwise_affine"):
        return bool(module.elementwise_affine)
    value = module
    for part in _RENAMED.get((type(module).__name__, name), name).split("."):
        value = getattr(value, part, _MISSING)
    if name == "distance_function":  # TripletMarginWithDistanceLoss keeps its default as a PairwiseDistance()
        default = isinstance(value, torch.nn.PairwiseDistance) and (value.norm, value.eps, value.keepdim) == (
            2.0, 1e-6, False)
        return None if value is None or default else _UNMAPPABLE
    if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    if isinstance(value, torch.Tensor):
        return _MISSING
    if isinstance(value, torch.Size):
        return tuple(value)
    return value


def layer_from_module(module: Any, call_kwargs: dict[str, Any] | None = None) -> Layer | None:
    """The symshape layer equal to ``module`` (None when there is none); ``call_kwargs`` are forward
    keyword arguments that symshape takes as constructor arguments (MultiheadAttention's need_weights)."""
    cls = LAYERS.get(type(module).__name__)
    if cls is None or not type(module).__module__.startswith("torch.nn"):
        return None
    kwargs: dict[str, Any] = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in _SKIPPED:
            continue
        if call_kwargs and p.name in call_kwargs:
            kwargs[p.name] = call_kwargs[p.name]
            continue
        value = _attribute(module, p.name)
        if value is _UNMAPPABLE:
            return None
        if value is _MISSING:  # not stored: only a forward-time option or a deprecated one may take its default
            if p.default is p.empty or (p.kind != p.KEYWORD_ONLY and p.name not in _DEPRECATED):
                return None
            continue
        kwargs[p.name] = value
    try:
        layer = cls(**kwargs)
    except SpecError:
        return None
    return layer if _same_state(layer, module) else None


def _same_state(layer: Layer, module: Any) -> bool:
    """The layer declares exactly the module's own parameters and buffers, with the same shapes."""
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    specs = layer.param_specs()
    if set(specs) != set(own):
        return False
    return all(tuple(spec.shape) == own[name] for name, spec in specs.items()
               if all(type(d) is int for d in spec.shape))
