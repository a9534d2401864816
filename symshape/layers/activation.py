"""Elementwise activations, Softmax and Dropout (the identity in eval mode)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..dims import Shape
from ..errors import SpecError
from .base import Layer, RuleContext, normalize_dim_index


class _Elementwise(Layer):
    """Shape-preserving layers: (*) -> (*)."""

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return x


class ReLU(_Elementwise):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0).astype(x.dtype, copy=False)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return special.expit(x)


class Tanh(_Elementwise):
    """tanh(x)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)


class GELU(_Elementwise):
    """x * Phi(x) (approximate='none'), or its tanh approximation (approximate='tanh')."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise SpecError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if self.approximate == "tanh":
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
            return (0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype, copy=False)
        return (0.5 * x * (1.0 + special.erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along ``dim`` (torch's legacy choice when dim is None)."""

    def __init__(self, dim: int | None = None):
        if dim is not None and type(dim) is not int:
            raise SpecError(f"Softmax: dim must be an int or None, got {dim!r}")
        self.dim = dim

    def axis(self, rank: int) -> int | None:
        if self.dim is None:  # torch.nn.functional._get_softmax_dim
            return 0 if rank in (0, 1, 3) else 1
        return normalize_dim_index(self.dim, max(rank, 1))

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if self.axis(len(x)) is None:
            ctx.conflict("dim", f"{self.dim}", f"{ctx.input_desc()} has rank {len(x)}",
                         f"Use a dim between {-len(x)} and {len(x) - 1}.")
            return None
        return x

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        axis = self.axis(x.ndim)
        if x.ndim == 0:
            return np.ones_like(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=axis, keepdims=True)


class Dropout(_Elementwise):
    """Random zeroing in training; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise SpecError(f"Dropout: p must be a probability between 0 and 1, got {p!r}")
        self.p = float(p)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return x
