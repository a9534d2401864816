"""Constraint records and the conditions the input sizes must meet.

A ``Constraint`` is a frozen record of one condition (``lhs >= rhs``, ``lhs == rhs`` or
``lhs % k == 0``) with the node and the rule that imposed it, so that a violation later can be
reported with its origin. ``summarize`` turns the raw records into the simplest statements on
the input symbols (``H >= 12`` rather than ``floor(H/4 - 1/4) - 1 >= 1``) and finds the ones that
no size can satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from . import dims
from .dims import Dim

SEARCH_LIMIT = 2**40  # sizes beyond this are not considered by the one-symbol searches


@dataclass(frozen=True)
class Constraint:
    node: str
    op: str
    what: str
    lhs: Dim
    relation: str  # ">=", "==", "<=" or "%" (lhs % rhs == 0)
    rhs: Dim

    def as_sympy(self) -> sympy.Basic:
        lhs, rhs = sympy.sympify(self.lhs), sympy.sympify(self.rhs)
        if self.relation == ">=":
            return sympy.Ge(lhs, rhs)
        if self.relation == "<=":
            return sympy.Le(lhs, rhs)
        if self.relation == "%":
            return sympy.Eq(sympy.Mod(lhs, rhs), 0)
        return sympy.Eq(lhs, rhs)

    def __str__(self) -> str:
        return str(self.as_sympy())

    def holds(self, values: dict) -> bool:
        lhs, rhs = dims.evaluate(self.lhs, values), dims.evaluate(self.rhs, values)
        if self.relation == ">=":
            return lhs >= rhs
        if self.relation == "<=":
            return lhs <= rhs
        if self.relation == "%":
            return lhs % rhs == 0
        return lhs == rhs

    @property
    def symbols(self) -> set:
        return dims.free_symbols(self.lhs) | dims.free_symbols(self.rhs)


def _smallest_at_least(expr: Dim, s: sympy.Symbol, bound: int, start: int = 1) -> int | None:
    """The least ``v >= start`` with ``expr(v) >= bound``, for ``expr`` nondecreasing in ``s``."""
    f = lambda v: dims.evaluate(expr, {s: v})  # noqa: E731
    if f(start) >= bound:
        return start
    hi = start
    while f(hi) < bound:
        hi *= 2
        if hi > SEARCH_LIMIT:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid) >= bound:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class Summary:
    """The simplified conditions, and the constraints that cannot be satisfied by any size."""

    statements: list[Constraint]
    impossible: list[Constraint]


def summarize(raw: list[Constraint]) -> Summary:
    """Simplify one-symbol lower bounds (``floor((H - 1)/4) >= 2`` -> ``H >= 9``), merge them per
    symbol, and keep the rest as they are, deduplicated."""
    lower: dict[sympy.Symbol, tuple[int, Constraint]] = {}
    rest: list[Constraint] = []
    impossible: list[Constraint] = []
    seen: set[str] = set()
    for c in raw:
        syms = c.symbols
        if c.relation == ">=" and len(syms) == 1 and type(c.rhs) is int:
            (s,) = syms
            least = _smallest_at_least(c.lhs, s, c.rhs)
            if least is None:
                impossible.append(c)
            elif least > 1 and least > lower.get(s, (1, c))[0]:
                lower[s] = (least, c)
            continue
        relation = c.as_sympy()
        if relation is sympy.true:
            continue
        if relation is sympy.false:
            impossible.append(c)
            continue
        key = str(relation)
        if key not in seen:
            seen.add(key)
            rest.append(c)
    bounds = [Constraint(c.node, c.op, c.what, s, ">=", least)
              for s, (least, c) in sorted(lower.items(), key=lambda kv: kv[0].name)]
    return Summary(bounds + rest, impossible)


class Solver:
    """The state of one propagation: known sizes, conflicts and the constraints collected.

    ``values`` maps symbols to what is known of them (a bound int, a size pinned by a layer, or
    another symbol's expression); ``origins`` says who fixed each. When a rule pins a symbol the
    pass restarts with it substituted, so a pass that completes has seen every size it could.
    """

    def __init__(self, values: dict, origins: dict):
        self.values = dict(values)
        self.origins = dict(origins)
        self.conflicts: list = []
        self.constraints: list[Constraint] = []

    def show(self, d: Dim) -> str:
        return str(d)

    def pin(self, s: sympy.Symbol, value: Dim, origin: str) -> None:
        self.values = {k: dims.substitute(v, {s: value}) for k, v in self.values.items()}
        self.values[s] = value
        self.origins[s] = origin

    def equate(self, ctx, expected: Dim, actual: Dim, what: str, actual_desc: str, fix: str) -> None:
        """``expected == actual`` with a symbol on a side: pin it, or keep the condition."""
        from .layers.base import Restart

        solution = dims.solve_linear(actual, expected)
        if solution is None:
            self.require(ctx, actual, "==", expected, what)
            return
        s, value = solution
        if isinstance(value, sympy.Basic) and value.is_number:
            ctx.conflict(what, ctx.show(expected),
                         f"{actual_desc}, and no whole positive {s} gives that ({s} would be {value})",
                         fix)
            return
        if type(value) is int and value <= 0:
            ctx.conflict(what, ctx.show(expected),
                         f"{actual_desc}, and no positive {s} gives that ({s} would be {value})", fix)
            return
        self.pin(s, value, f"{ctx.node} ({ctx.layer.op}) {what}")
        raise Restart

    def require(self, ctx, lhs: Dim, relation: str, rhs: Dim, what: str) -> None:
        self.constraints.append(Constraint(ctx.node, ctx.layer.op, what, lhs, relation, rhs))
