"""Einsum: torch.einsum(equation, *operands), computed with numpy's einsum."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..dtypes import promote
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext

ELLIPSIS = "..."


def _term(op: str, term: str) -> tuple[str, ...]:
    """One operand's subscripts: letters and at most one ``...``."""
    labels: list[str] = []
    i = 0
    while i < len(term):
        if term.startswith(ELLIPSIS, i):
            labels.append(ELLIPSIS)
            i += 3
        elif term[i] in string.ascii_letters:
            labels.append(term[i])
            i += 1
        else:
            raise SpecError(f"{op}: {term[i]!r} in {term!r} is not a subscript (letters a-z, A-Z and one '...')")
    if labels.count(ELLIPSIS) > 1:
        raise SpecError(f"{op}: {term!r} has more than one '...'")
    return tuple(labels)


class Einsum(Layer):
    """torch.einsum(equation, *inputs): one input per comma-separated term of ``equation``.

    Implicit output (no ``->``): the letters appearing once, in alphabetical order, after the ``...``
    dims; explicit output: as written (letters not in it are summed, so are ``...`` dims it omits).
    ``...`` dims broadcast right-aligned. A letter has one size: within an operand (a diagonal such as
    ``ii->i``) its sizes must be equal; across operands equal or 1 (broadcast).

    MACs: the product of the sizes of all distinct letters and ``...`` dims (``einsum_macs``), e.g.
    ``bij,bjk->bik`` costs b*i*j*k."""

    n_inputs = 2
    example = ({"equation": "bhqd,bhkd->bhqk"}, ("B, H, T, D", "B, H, S, D"))

    def __init__(self, equation: str):
        if not isinstance(equation, str):
            raise SpecError(f"Einsum: equation must be a string such as 'ij,jk->ik', got {equation!r}")
        text = equation.replace(" ", "")
        lhs, arrow, rhs = text.partition("->")
        if "->" in rhs:
            raise SpecError(f"Einsum: {equation!r} has more than one '->'")
        self.equation = equation
        self.terms = tuple(_term("Einsum", t) for t in lhs.split(","))
        self.n_inputs = len(self.terms)
        if arrow:
            self.output = _term("Einsum", rhs)
            seen = {label for t in self.terms for label in t}
            for label in self.output:
                if label != ELLIPSIS and label not in seen:
                    raise SpecError(f"Einsum: output subscript {label!r} of {equation!r} appears in no input")
                if self.output.count(label) > 1:
                    raise SpecError(f"Einsum: output subscript {label!r} of {equation!r} appears more than once")
        else:
            counts: dict[str, int] = {}
            for label in (label for t in self.terms for label in t if label != ELLIPSIS):
                counts[label] = counts.get(label, 0) + 1
            ellipsis = (ELLIPSIS,) if any(ELLIPSIS in t for t in self.terms) else ()
            self.output = ellipsis + tuple(sorted(k for k, n in counts.items() if n == 1))

    def keys(self, shapes: list[Shape]) -> list[tuple[str, ...]] | int:
        """Each operand's dims as labels (``...`` dims as ``.1``, ``.2``, ... counted from the right), or
        the index of the first operand whose rank does not fit its term."""
        out = []
        for i, (term, shape) in enumerate(zip(self.terms, shapes)):
            letters = len(term) - (ELLIPSIS in term)
            if len(shape) < letters or (ELLIPSIS not in term and len(shape) != letters):
                return i
            keys: list[str] = []
            for label in term:
                if label == ELLIPSIS:
                    n = len(shape) - letters
                    keys.extend(f".{n - j}" for j in range(n))
                else:
                    keys.append(label)
            out.append(tuple(keys))
        return out

    def output_keys(self, keys: list[tuple[str, ...]]) -> tuple[str, ...]:
        width = max((int(k[1:]) for ks in keys for k in ks if k.startswith(".")), default=0)
        out: list[str] = []
        for label in self.output:
            out.extend([f".{j}" for j in range(width, 0, -1)] if label == ELLIPSIS else [label])
        return tuple(out)

    def infer(self, ctx: RuleContext, *shapes: Shape) -> Shape | None:
        keys = self.keys(list(shapes))
        if isinstance(keys, int):
            term = "".join(self.terms[keys])
            ctx.conflict(f"the rank of operand {keys}", f"{len(self.terms[keys]) - (ELLIPSIS in term)} "
                         f"(subscripts {term!r})", f"{ctx.input_desc(keys)} has rank {len(shapes[keys])}",
                         "Give one subscript per dim ('...' stands for any number of dims).")
            return None
        sizes: dict[str, tuple[Dim, int]] = {}
        for k, (ks, shape) in enumerate(zip(keys, shapes)):
            for label, d in zip(ks, shape):
                name = "'...' dim" if label.startswith(".") else f"subscript {label}"
                if label not in sizes or sizes[label][0] == 1 and sizes[label][1] != k:
                    sizes[label] = (d, k)
                    continue
                size, first = sizes[label]
                if d == 1 and first != k:
                    continue
                ctx.equal(size, d, what=name,
                          expected_desc=lambda: f"{ctx.show(size)} on input {first} "
                                                f"{dims.format_shape(shapes[first])} from {ctx.sources[first]}",
                          actual_desc=lambda: f"{ctx.input_desc(k)} has {ctx.show(d)} for it",
                          fix="Operands sharing a subscript need equal sizes (or 1, which broadcasts)."
                          if first != k else "A subscript repeated in one operand (a diagonal) needs equal sizes.")
        return tuple(sizes[label][0] for label in self.output_keys(keys))

    def output_dtypes(self, *dtypes: str) -> tuple[str, ...]:
        return (promote(*dtypes),)

    def einsum_macs(self, shapes: list[Shape]) -> Dim:
        """Multiply-accumulates: the product of the sizes of every distinct letter and ``...`` dim."""
        keys = self.keys(list(shapes))
        if isinstance(keys, int):
            return 0
        sizes: dict[str, Dim] = {}
        for ks, shape in zip(keys, shapes):
            for label, d in zip(ks, shape):
                if sizes.get(label, 1) == 1:
                    sizes[label] = d
        return dims.prod(sizes.values())

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """``einsum_macs`` of the input shapes (0 when they are not given)."""
        return self.einsum_macs(list(inputs)) if inputs else 0

    def forward(self, p: dict, *xs: np.ndarray) -> np.ndarray:
        keys = self.keys([x.shape for x in xs])
        sizes: dict[str, int] = {}
        for ks, x in zip(keys, xs):
            for label, d in zip(ks, x.shape):
                if sizes.get(label, 1) == 1:
                    sizes[label] = d
        free = iter(c for c in string.ascii_letters if c not in sizes)
        letter = {k: k if not k.startswith(".") else next(free) for k in sizes}
        operands = [np.broadcast_to(x, tuple(sizes[k] for k in ks)) for ks, x in zip(keys, xs)]
        equation = ",".join("".join(letter[k] for k in ks) for ks in keys)
        equation += "->" + "".join(letter[k] for k in self.output_keys(keys))
        dtype = promote(*(x.dtype.name for x in xs))
        return np.asarray(np.einsum(equation, *operands, optimize=True), dtype=dtype)

