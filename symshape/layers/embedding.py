"""Embedding: integer ids (*) -> vectors (*, embedding_dim)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dims import Shape
from ..errors import ShapeError, SpecError
from ..params import ParamSpec
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext


class Embedding(Layer):
    """ids (*) -> weight[ids] (*, embedding_dim); ids must lie in [0, num_embeddings)."""

    size_args = ("num_embeddings", "embedding_dim")
    example = ({"num_embeddings": "V", "embedding_dim": 64}, ("B, T",))

    def __init__(self, num_embeddings: Any, embedding_dim: Any, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None):
        self.num_embeddings = self._size("num_embeddings", num_embeddings)
        self.embedding_dim = self._size("embedding_dim", embedding_dim)
        if _weight is not None:
            raise SpecError("Embedding: _weight is not supported; load weights with a weights file")
        if padding_idx is not None:
            if type(padding_idx) is not int:
                raise SpecError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if type(self.num_embeddings) is int and not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise SpecError(f"Embedding: padding_idx must be within num_embeddings ({self.num_embeddings}), "
                                f"got {padding_idx}")
            if padding_idx < 0 and type(self.num_embeddings) is not int:
                raise SpecError("Embedding: a negative padding_idx needs a concrete num_embeddings")
            if padding_idx < 0:
                padding_idx += self.num_embeddings
        self.padding_idx = padding_idx
        if max_norm is not None and (isinstance(max_norm, bool) or not isinstance(max_norm, (int, float))
                                     or max_norm <= 0):
            raise SpecError(f"Embedding: max_norm must be a positive number or None, got {max_norm!r}")
        self.max_norm = max_norm
        self.norm_type = float(norm_type)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return (*x, ctx.args.embedding_dim)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        init = "normal" if self.padding_idx is None else "normal_padded"
        args = {} if self.padding_idx is None else {"padding_idx": self.padding_idx}
        return {"weight": ParamSpec((a.num_embeddings, a.embedding_dim), init, args)}

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return ("float32",)

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        if x.dtype.kind not in "iu":
            raise ShapeError(f"Embedding takes integer ids, got an array of {x.dtype}")
        weight = p["weight"]
        if x.size and (x.min() < 0 or x.max() >= weight.shape[0]):
            bad = x.min() if x.min() < 0 else x.max()
            raise ShapeError(f"Embedding: id {bad} is out of range for num_embeddings={weight.shape[0]}")
        rows = weight[x]
        if self.max_norm is not None:  # torch renormalizes the looked-up rows
            norms = np.linalg.norm(rows.astype(np.float64), ord=self.norm_type, axis=-1, keepdims=True)
            scale = np.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), 1.0)
            rows = (rows * scale).astype(weight.dtype)
        return rows
