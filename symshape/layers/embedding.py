"""Embedding: integer ids (*) -> vectors (*, embedding_dim); EmbeddingBag: bags of ids -> their sum, mean or max."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import ShapeError, SpecError
from ..params import ParamSpec
from .base import Layer
from .indexing import at_most

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
            raise SpecError(f"{self.op}: _weight is not supported; load weights with a weights file")
        if padding_idx is not None:
            if type(padding_idx) is not int:
                raise SpecError(f"{self.op}: padding_idx must be an int or None, got {padding_idx!r}")
            if type(self.num_embeddings) is int and not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise SpecError(f"{self.op}: padding_idx must be within num_embeddings ({self.num_embeddings}), "
                                f"got {padding_idx}")
            if padding_idx < 0 and type(self.num_embeddings) is not int:
                raise SpecError(f"{self.op}: a negative padding_idx needs a concrete num_embeddings")
            if padding_idx < 0:
                padding_idx += self.num_embeddings
        self.padding_idx = padding_idx
        if max_norm is not None and (isinstance(max_norm, bool) or not isinstance(max_norm, (int, float))
                                     or max_norm <= 0):
            raise SpecError(f"{self.op}: max_norm must be a positive number or None, got {max_norm!r}")
        self.max_norm = max_norm
        self.norm_type = float(norm_type)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        if ctx.ranges[0] is not None:  # ids the analysis knows (positions: arange(T)) must be rows of the table
            least, greatest = ctx.ranges[0]
            ids = lambda: f"the ids of {ctx.input_desc()} run from {ctx.show(least)} to {ctx.show(greatest)}"  # noqa: E731
            fix = "Keep the sequence within the table (a longer one needs a larger num_embeddings)."
            ctx.at_least(least, 0, what="the smallest id", actual_desc=ids, fix=fix)
            reach, offset = dims.split_constant(greatest + 1)  # T + 3 <= 16 reads T <= 13
            at_most(ctx, reach, ctx.args.num_embeddings - offset, what="the largest id + 1 (rows the ids reach)",
                    actual_desc=ids, fix=fix)
        return (*x, ctx.args.embedding_dim)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        init = "normal" if self.padding_idx is None else "normal_padded"
        args = {} if self.padding_idx is None else {"padding_idx": self.padding_idx}
        return {"weight": ParamSpec((a.num_embeddings, a.embedding_dim), init, args)}

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return ("float32",)

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.lookup(p["weight"], x)

    def lookup(self, weight: np.ndarray, x: np.ndarray) -> np.ndarray:
        """weight[x], the ids checked, rows renormalized to max_norm as torch does."""
        if x.dtype.kind not in "iu":
            raise ShapeError(f"{self.op} takes integer ids, got an array of {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= weight.shape[0]):
            bad = x.min() if x.min() < 0 else x.max()
            raise ShapeError(f"{self.op}: id {bad} is out of range for num_embeddings={weight.shape[0]}")
        rows = weight[x]
        if self.max_norm is not None:  # torch renormalizes the looked-up rows
            norms = np.linalg.norm(rows.astype(np.float64), ord=self.norm_type, axis=-1, keepdims=True)
            scale = np.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), 1.0)
            rows = (rows * scale).astype(weight.dtype)
        return rows


class EmbeddingBag(Embedding):
    """ids (B, N), or ids (L,) with offsets (B,) -> (B, embedding_dim): each bag's rows summed, averaged or maxed.

    With include_last_offset the last offset ends the last bag (B - 1 bags); ids equal to padding_idx are
    left out; an empty bag gives zeros."""

    n_inputs = (1, 2)
    example = ({"num_embeddings": "V", "embedding_dim": 64, "mode": "mean"}, ("B, N",))

    def __init__(self, num_embeddings: Any, embedding_dim: Any, max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight: Any = None,
                 include_last_offset: bool = False, padding_idx: int | None = None, device: Any = None,
                 dtype: Any = None):
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                         _weight)
        if mode not in ("sum", "mean", "max"):
            raise SpecError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.include_last_offset = self._flag("include_last_offset", include_last_offset)

    def infer(self, ctx: RuleContext, x: Shape, offsets: Shape | None = None) -> Shape | None:
        if offsets is None:
            if not ctx.rank(x, (2,), "(B, N): B bags of N ids; 1-d ids take offsets"):
                return None
            return (x[0], ctx.args.embedding_dim)
        if not ctx.rank(x, (1,), "(L,): the ids of every bag, one after another, with offsets"):
            return None
        if not ctx.rank(offsets, (1,), "(B,): where each bag starts", i=1):
            return None
        bags = offsets[0]
        if self.include_last_offset:
            bags = bags - 1
            ctx.at_least(bags, 1, what="the number of bags",
                         actual_desc=lambda: f"include_last_offset takes the last of {ctx.input_desc(1)} as an end",
                         fix="Give at least two offsets.")
        return (bags, ctx.args.embedding_dim)

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        weight = p["weight"]
        if offsets is None:
            starts = np.arange(0, x.size, max(x.shape[1], 1))[: x.shape[0]]
            ids = x.reshape(-1)
        else:
            if offsets.dtype.kind not in "iu":
                raise ShapeError(f"EmbeddingBag takes integer offsets, got an array of {offsets.dtype}")
            if offsets.size and (offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] > x.size):
                raise ShapeError("EmbeddingBag: offsets must start at 0, never decrease and stay within the "
                                 f"{x.size} ids, got {offsets.tolist()}")
            starts, ids = offsets[:-1] if self.include_last_offset else offsets, x
        ends = np.append(starts[1:], offsets[-1] if offsets is not None and self.include_last_offset else ids.size)
        rows = self.lookup(weight, ids)
        keep = np.ones(ids.shape, dtype=bool) if self.padding_idx is None else ids != self.padding_idx
        out = np.zeros((len(starts), weight.shape[1]), dtype=weight.dtype)
        for b, (start, end) in enumerate(zip(starts, ends)):
            bag = rows[start:end][keep[start:end]]
            if len(bag):
                out[b] = bag.max(axis=0) if self.mode == "max" else bag.sum(axis=0) / (
                    len(bag) if self.mode == "mean" else 1)
        return out
