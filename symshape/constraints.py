"""Constraint records and the conditions the input sizes must meet.

A ``Constraint`` is a frozen record of one condition (``lhs >= rhs``, ``lhs == rhs`` or
``lhs % k == 0``) with the node and the rule that imposed it, so that a violation later can be
reported with its origin. ``summarize`` turns the raw records into the simplest statements on
the input symbols (``H >= 12`` rather than ``floor(H/4 - 1/4) - 1 >= 1``) and finds the ones that
no size can satisfy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

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

    @property
    def text(self) -> str:
        """The condition as written, even when sympy already knows it is false."""
        return f"{self.lhs} % {self.rhs} == 0" if self.relation == "%" else f"{self.lhs} {self.relation} {self.rhs}"

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


MONOTONE_CHECK = 256  # below this, a one-symbol lower bound is verified value by value
PERIOD_LIMIT = 4096  # congruences with a longer period are left as they are


def _least_satisfying(c: Constraint, s: sympy.Symbol) -> int | None | bool:
    """The least size from which ``c`` (one symbol, ``>=``) holds for good.

    The search assumes the left side grows with the size, as conv and pool outputs do; the
    assumption is then checked around the answer. Returns None when no size up to SEARCH_LIMIT
    satisfies it, and False when the condition turned out not to be a plain lower bound.
    """
    holds = lambda v: c.holds({s: v})  # noqa: E731
    hi = 1
    while not holds(hi):
        hi *= 2
        if hi > SEARCH_LIMIT:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    below = range(1, hi) if hi <= MONOTONE_CHECK else range(hi - MONOTONE_CHECK, hi)
    if any(holds(v) for v in below) or not all(holds(v) for v in range(hi, hi + MONOTONE_CHECK)):
        return False
    return hi


def _period(c: Constraint) -> int:
    """A period of the constraint's truth in its symbol: the lcm of the denominators in floors and moduli."""
    period = 1
    for side in (c.lhs, c.rhs):
        if type(side) is int:
            continue
        for atom in side.atoms(sympy.floor, sympy.ceiling, sympy.Mod, sympy.Rational):
            if isinstance(atom, sympy.Rational):
                period = math.lcm(period, int(atom.q))
            elif isinstance(atom, sympy.Mod) and atom.args[1].is_Integer:
                period = math.lcm(period, int(atom.args[1]))
    if c.relation == "%" and type(c.rhs) is int:
        period = math.lcm(period, c.rhs)
    return period


def _gap(c: Constraint, s: sympy.Symbol, v: int) -> int:
    """What must vanish: lhs - rhs for an equality, lhs mod rhs for a divisibility."""
    lhs, rhs = dims.evaluate(c.lhs, {s: v}), dims.evaluate(c.rhs, {s: v})
    return lhs - rhs if c.relation == "==" else lhs % rhs


def _congruence(group: list[Constraint], s: sympy.Symbol, start: int) -> tuple[int, set[int]] | None:
    """(m, residues): from ``start`` on, the group holds exactly when ``s mod m`` is in residues.

    Only for conditions whose gaps are periodic in ``s`` (floors of linear expressions, moduli);
    None otherwise, and the conditions are then kept as they are.
    """
    if any(type(side) is not int and side.has(sympy.Min, sympy.Max) for c in group for side in (c.lhs, c.rhs)):
        return None  # clamped sizes (a slice's Min(512, T)) are not periodic: an interval holds them
    period = 1
    for c in group:
        period = math.lcm(period, _period(c))
    if period > PERIOD_LIMIT:
        return None
    for c in group:
        if any(_gap(c, s, v) != _gap(c, s, v + period) for v in range(start, start + 2 * period)):
            return None
    good = {v % period for v in range(start, start + period) if all(_gap(c, s, v) == 0 for c in group)}
    for m in sorted(d for d in range(1, period + 1) if period % d == 0):
        classes = {r % m for r in good}
        if {r for r in range(period) if r % m in classes} == good:
            return m, classes
    return period, good


def _first(h: Callable[[int], bool], start: int) -> int | None:
    """The least ``v >= start`` with ``h(v)``, for ``h`` false then true (doubling, then bisection)."""
    if h(start):
        return start
    step = 1
    while not h(start + step):
        step *= 2
        if start + step > SEARCH_LIMIT:
            return None
    lo, hi = start + step // 2, start + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if h(mid) else (mid, hi)
    return hi


def _interval(c: Constraint, s: sympy.Symbol, start: int) -> tuple[int, int | None] | None | bool:
    """For an equality whose gap is monotone in ``s`` from ``start``: the sizes (lo, hi) where it
    holds (hi None: unbounded); False when none does; None when the gap is not monotone."""
    sign = 1 if _gap(c, s, start) <= 0 else -1
    gap = lambda v: sign * _gap(c, s, v)  # noqa: E731
    lo = _first(lambda v: gap(v) >= 0, start)
    if lo is None:
        return False
    end = _first(lambda v: gap(v) > 0, lo)
    near = range(max(start, lo - MONOTONE_CHECK), lo)
    zone = range(lo, lo + MONOTONE_CHECK if end is None else min(end, lo + MONOTONE_CHECK))
    after = range(end, end + MONOTONE_CHECK) if end is not None else range(0)
    if any(gap(v) >= 0 for v in near) or any(gap(v) < 0 for v in zone) or any(gap(v) <= 0 for v in after):
        return None
    if gap(lo) != 0:
        return False
    return lo, None if end is None else end - 1


def _congruence_statement(s: sympy.Symbol, m: int, residues: set[int], origin: Constraint) -> Constraint | None:
    if m == 1 and residues:
        return None  # always true
    if len(residues) == 1:
        return Constraint(origin.node, origin.op, origin.what, s, "%", m) if residues == {0} else \
            Constraint(origin.node, origin.op, origin.what, s - (next(iter(residues))), "%", m)
    return None


@dataclass(frozen=True)
class Summary:
    """The simplified conditions, and the constraints that cannot be satisfied by any size."""

    statements: list[Constraint]
    impossible: list[Constraint]


def _unclamped(c: Constraint) -> list[Constraint]:
    """``Min(a, b) == a`` as ``a <= b`` (and ``Max(a, b) == a`` as ``a >= b``): a clamped size (a table
    sliced to ``Min(512, T)``) meeting the unclamped one; other constraints as they are."""
    if c.relation == "==":
        for clamp, other in ((c.lhs, c.rhs), (c.rhs, c.lhs)):
            if isinstance(clamp, (sympy.Min, sympy.Max)) and other in clamp.args:
                relation = "<=" if isinstance(clamp, sympy.Min) else ">="
                return [Constraint(c.node, c.op, c.what, other, relation, a) for a in clamp.args if a != other]
    return [c]


def summarize(raw: list[Constraint]) -> Summary:
    """The conditions in their simplest form on the input symbols.

    One-symbol lower bounds become ``H >= 12`` (the largest per symbol); one-symbol equalities and
    divisibilities with periodic truth (``2*floor(H/2) == H``, ``Mod(8*T, 16) == 0``) merge into one
    congruence per symbol (``H % 4 == 0``); the rest is kept as it is, deduplicated. Conditions no
    size can meet are returned as impossible.
    """
    lower: dict[sympy.Symbol, tuple[int, Constraint]] = {}
    statements: list[Constraint] = []
    periodic: dict[sympy.Symbol, list[Constraint]] = {}
    rest: list[Constraint] = []
    impossible: list[Constraint] = []
    seen: set[str] = set()
    for c in (u for c in raw for u in _unclamped(c)):
        relation = c.as_sympy()
        if relation is sympy.true or str(relation) in seen:
            continue
        seen.add(str(relation))
        if relation is sympy.false:
            impossible.append(c)
            continue
        syms = c.symbols
        if c.relation == ">=" and len(syms) == 1 and type(c.rhs) is int:
            (s,) = syms
            least = _least_satisfying(c, s)
            if least is None:
                impossible.append(c)
            elif least is False:
                rest.append(c)
            elif least > lower.get(s, (1, c))[0]:
                lower[s] = (least, c)
            continue
        if c.relation in ("==", "%") and len(syms) == 1:
            periodic.setdefault(next(iter(syms)), []).append(c)
            continue
        rest.append(c)
    upper: dict[sympy.Symbol, tuple[int, Constraint]] = {}
    for s, group in sorted(periodic.items(), key=lambda kv: kv[0].name):
        found = _congruence(group, s, lower.get(s, (1, None))[0])
        if found is None:
            for c in group:
                span = _interval(c, s, lower.get(s, (1, None))[0]) if c.relation == "==" else None
                if span is None:
                    rest.append(c)
                elif span is False:
                    impossible.append(c)
                else:
                    if span[0] > lower.get(s, (1, c))[0]:
                        lower[s] = (span[0], c)
                    if span[1] is not None and span[1] < upper.get(s, (SEARCH_LIMIT, c))[0]:
                        upper[s] = (span[1], c)
        elif not found[1]:
            impossible.extend(group)
        else:
            statement = _congruence_statement(s, *found, group[0])
            if statement is not None:
                statements.append(statement)
            elif found[0] != 1:
                rest.extend(group)
    bounds: list[Constraint] = []
    for s in sorted(set(lower) | set(upper), key=lambda sym_: sym_.name):
        least, most = lower.get(s, (1, None)), upper.get(s)
        if most is not None and most[0] < least[0]:
            impossible.append(most[1])
            continue
        if least[0] > 1:
            bounds.append(Constraint(least[1].node, least[1].op, least[1].what, s, ">=", least[0]))
        if most is not None:
            bounds.append(Constraint(most[1].node, most[1].op, most[1].what, s, "<=", most[0]))
    return Summary(bounds + statements + rest, impossible)


def describe_symbol(statements: list[Constraint], s: sympy.Symbol) -> str | None:
    """The admissible sizes of ``s`` as a phrase ("28 <= H <= 31", "H % 4 == 0 and H >= 4"),
    when every statement about it is a bound or a congruence; None otherwise."""
    lower, upper, parts = None, None, []
    for c in statements:
        if s not in c.symbols:
            continue
        if len(c.symbols) != 1:
            return None
        if c.lhs == s and c.relation == ">=":
            lower = c.rhs
        elif c.lhs == s and c.relation == "<=":
            upper = c.rhs
        elif c.relation == "%":
            parts.append(f"{c.lhs} % {c.rhs} == 0")
        else:
            return None
    if lower is not None and upper is not None:
        parts.insert(0, f"{lower} <= {s} <= {upper}" if lower != upper else f"{s} = {lower}")
    elif lower is not None:
        parts.append(f"{s} >= {lower}")
    elif upper is not None:
        parts.append(f"{s} <= {upper}")
    return " and ".join(parts) if parts else f"any {s}"
