"""Constraint records and the conditions the input sizes must meet.

A ``Constraint`` is a frozen record of one condition (``lhs >= rhs``, ``lhs == rhs`` or
``lhs % k == 0``) with the node and the rule that imposed it, so that a violation later can be
reported with its origin. ``summarize`` turns the raw records into the simplest statements on
the input symbols (``H >= 12`` rather than ``floor(H/4 - 1/4) - 1 >= 1``) and finds the ones that
no size can satisfy.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from . import dims
from .dims import Dim

SEARCH_LIMIT = 2**40  # sizes beyond this are not considered by the one-symbol searches


@dataclass(frozen=True)
class Constraint:
    """One condition: ``lhs >= rhs``, ``lhs <= rhs``, ``lhs == rhs``, ``lhs % rhs == 0``, ``lhs in rhs``
    (a tuple of ints), or the ``parts`` joined by ``or`` / ``and`` (``lhs``, ``rhs`` then unused)."""

    node: str
    op: str
    what: str
    lhs: Dim
    relation: str  # ">=", "==", "<=", "%" (lhs % rhs == 0), "in", "or" or "and"
    rhs: Dim | tuple
    parts: tuple = ()  # of Constraint, for "or" and "and"

    def as_sympy(self) -> sympy.Basic:
        if self.relation in ("or", "and"):
            join = sympy.Or if self.relation == "or" else sympy.And
            return join(*(p.as_sympy() for p in self.parts))
        lhs = sympy.sympify(self.lhs)
        if self.relation == "in":
            return sympy.Or(*(sympy.Eq(lhs, v) for v in self.rhs))
        rhs = sympy.sympify(self.rhs)
        if self.relation == ">=":
            return sympy.Ge(lhs, rhs)
        if self.relation == "<=":
            return sympy.Le(lhs, rhs)
        if self.relation == "%":
            return sympy.Eq(sympy.Mod(lhs, rhs), 0)
        return sympy.Eq(lhs, rhs)

    def __str__(self) -> str:
        """The condition in Python syntax (``H % 4 == 0``, ``ceil(H / 32) >= 2``, ``T in (1, 3)``):
        ``eval`` with math's ``floor``/``ceil`` gives its truth."""
        if self.relation in ("or", "and"):
            inner = "and" if self.relation == "or" else "or"
            return f" {self.relation} ".join(f"({p})" if p.relation == inner else str(p) for p in self.parts)
        if self.relation == "%":
            return f"{dims.python_term(self.lhs)} % {dims.python_term(self.rhs)} == 0"
        if self.relation == "in":
            return f"{dims.python_term(self.lhs)} in ({', '.join(map(str, self.rhs))})"
        return f"{dims.python(self.lhs)} {self.relation} {dims.python(self.rhs)}"

    @property
    def text(self) -> str:
        """The condition as written, even when sympy already knows it is false."""
        if self.relation in ("or", "and", "in"):
            return str(self)
        return f"{self.lhs} % {self.rhs} == 0" if self.relation == "%" else f"{self.lhs} {self.relation} {self.rhs}"

    def holds(self, values: dict) -> bool:
        if self.relation == "or":
            return any(p.holds(values) for p in self.parts)
        if self.relation == "and":
            return all(p.holds(values) for p in self.parts)
        lhs = dims.evaluate(self.lhs, values)
        if self.relation == "in":
            return lhs in self.rhs
        rhs = dims.evaluate(self.rhs, values)
        if self.relation == ">=":
            return lhs >= rhs
        if self.relation == "<=":
            return lhs <= rhs
        if self.relation == "%":
            return lhs % rhs == 0
        return lhs == rhs

    @property
    def sides(self) -> list[Dim]:
        """Every size expression the condition compares."""
        if self.relation in ("or", "and"):
            return [d for p in self.parts for d in p.sides]
        return [self.lhs] if self.relation == "in" else [self.lhs, self.rhs]

    @property
    def symbols(self) -> set:
        return set().union(*(dims.free_symbols(d) for d in self.sides))


def joined(relation: str, parts: list[Constraint], origin: Constraint) -> Constraint:
    """``parts`` joined by ``relation`` ("or" / "and"), carrying the origin's node and rule; one part is itself."""
    if len(parts) == 1:
        return parts[0]
    return Constraint(origin.node, origin.op, origin.what, 0, relation, 0, tuple(parts))


def render(statements: list[Constraint]) -> list[str]:
    """The conditions as printed in reports: a symbol's two bounds read ``16 <= H <= 64``."""
    lower = {c.lhs: c.rhs for c in statements if c.relation == ">=" and isinstance(c.lhs, sympy.Symbol)}
    upper = {c.lhs: c.rhs for c in statements if c.relation == "<=" and isinstance(c.lhs, sympy.Symbol)}
    lines = []
    for c in statements:
        if c.relation == "<=" and c.lhs not in lower and c.rhs == 1:
            lines.append(f"{c.lhs} == 1")
            continue
        if c.relation in (">=", "<=") and c.lhs in lower and c.lhs in upper:
            if c.relation == ">=":
                lo, hi = lower[c.lhs], upper[c.lhs]
                lines.append(f"{c.lhs} == {lo}" if lo == hi else f"{dims.python(lo)} <= {c.lhs} <= {dims.python(hi)}")
            continue
        lines.append(str(c))
    return lines


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
    for side in c.sides:
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
    """What must vanish: lhs - rhs for an equality, lhs mod rhs for a divisibility, else 0 when it holds."""
    if c.relation not in ("==", "%"):
        return 0 if c.holds({s: v}) else 1
    lhs, rhs = dims.evaluate(c.lhs, {s: v}), dims.evaluate(c.rhs, {s: v})
    return lhs - rhs if c.relation == "==" else lhs % rhs


def _congruence(group: list[Constraint], s: sympy.Symbol, start: int) -> tuple[int, set[int]] | None:
    """(m, residues): from ``start`` on, the group holds exactly when ``s mod m`` is in residues.

    Only for conditions whose gaps are periodic in ``s`` (floors of linear expressions, moduli);
    None otherwise, and the conditions are then kept as they are.
    """
    if any(type(side) is not int and side.has(sympy.Min, sympy.Max) for c in group for side in c.sides):
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
    """``s % m`` in ``residues`` as one statement (``H % 4 == 0``, ``(H - 1) % 4 == 0``, ``H % 4 in (1, 3)``)."""
    if m == 1 and residues:
        return None  # always true
    if len(residues) == 1:
        r = next(iter(residues))
        return Constraint(origin.node, origin.op, origin.what, s - r if r else s, "%", m)
    return Constraint(origin.node, origin.op, origin.what, dims.mod(s, m), "in", tuple(sorted(residues)))


def _largest_constant(group: list[Constraint]) -> int:
    """The largest integer the conditions mention: past a few times it, their truth is periodic."""
    found = 1
    for c in group:
        for side in c.sides:
            atoms = [side] if type(side) is int else [int(abs(a)) for a in side.atoms(sympy.Integer)]
            found = max([found, *(abs(a) for a in atoms)])
        if c.relation == "in":
            found = max(found, *c.rhs)
    return found


HORIZON_LIMIT = 2**22  # sizes a one-symbol truth pattern is computed over, at most


def _truth(c: Constraint, grid: dict[sympy.Symbol, np.ndarray]) -> np.ndarray:
    """``c.holds`` at every point of a grid at once (``dims.evaluate_grid``)."""
    if c.relation in ("or", "and"):
        join = np.logical_or if c.relation == "or" else np.logical_and
        return join.reduce([_truth(p, grid) for p in c.parts])
    lhs = dims.evaluate_grid(c.lhs, grid)
    if c.relation == "in":
        return np.isin(lhs, c.rhs)
    rhs = dims.evaluate_grid(c.rhs, grid)
    if c.relation == "%":
        return lhs % rhs == 0
    return {">=": np.greater_equal, "<=": np.less_equal, "==": np.equal}[c.relation](lhs, rhs)


def _pattern(group: list[Constraint], s: sympy.Symbol, start: int) -> list[Constraint] | None:
    """The sizes ``>= start`` meeting every condition of ``group`` (one symbol ``s``), as statements:
    ``s`` in a congruence class from some size on, plus the sizes below it that also work
    (``H % 2 == 0 or H in (1, 3)``). Their truth is computed over a stretch long enough for floors
    and clamps of the sizes mentioned to settle into their period; None when it does not settle."""
    period = 1
    for c in group:
        period = math.lcm(period, _period(c))
    if period > PERIOD_LIMIT:
        return None
    horizon = 4 * period + 4 * _largest_constant(group) + MONOTONE_CHECK
    if horizon > HORIZON_LIMIT:
        return None
    sizes = np.arange(start, start + horizon + period, dtype=np.int64)
    try:
        truth = np.logical_and.reduce([_truth(c, {s: sizes}) for c in group]).tolist()
    except (ValueError, OverflowError):
        truth = [all(c.holds({s: v}) for c in group) for v in sizes.tolist()]
    unsettled = [i for i in range(horizon) if truth[i] != truth[i + period]]
    settled = unsettled[-1] + 1 if unsettled else 0
    if settled > horizon - 2 * period - MONOTONE_CHECK:
        return None
    good = {(start + i) % period for i in range(settled, settled + period) if truth[i]}
    m = next(m for m in range(1, period + 1) if period % m == 0
             and {r for r in range(period) if r % m in {g % m for g in good}} == good)
    classes = {g % m for g in good}
    in_class = lambda v: v % m in classes  # noqa: E731
    while settled > 0 and truth[settled - 1] == in_class(start + settled - 1):
        settled -= 1
    first = start + settled
    below = range(start, first)
    if all(truth[v - start] for v in below if in_class(v)):  # the class holds throughout: list what else does
        first, below = start, [v for v in below if not in_class(v)]
    extra = tuple(v for v in below if truth[v - start])
    origin = group[0]
    make = lambda lhs, rel, rhs: Constraint(origin.node, origin.op, origin.what, lhs, rel, rhs)  # noqa: E731
    contiguous = len(extra) > 1 and extra == tuple(range(extra[0], extra[-1] + 1))
    listed = [make(s, ">=", extra[0]), make(s, "<=", extra[-1])] if contiguous else \
        [make(s, "==", extra[0])] if len(extra) == 1 else [make(s, "in", extra)] if extra else []
    if not classes:
        return listed or [make(s, "in", ())]
    congruence = _congruence_statement(s, m, classes, origin)
    main = [c for c in (congruence, make(s, ">=", first) if first > start else None) if c is not None]
    if not extra:
        return main
    return [joined("or", [joined("and", main, origin), joined("and", listed, origin)], origin)]


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


def _size_first(c: Constraint) -> Constraint:
    """``7 >= e`` as ``e <= 7``: a bound with the number on the right."""
    flipped = {">=": "<=", "<=": ">="}
    if c.relation in flipped and type(c.lhs) is int and type(c.rhs) is not int:
        return Constraint(c.node, c.op, c.what, c.rhs, flipped[c.relation], c.lhs)
    return c


def _cancelled(c: Constraint) -> Constraint:
    """An equality of products without their common factors: ``64*B*X == 3136*B*Y`` as ``X == 49*Y``. Only
    integer factors and size symbols (positive) are cancelled, never a term that may be 0."""
    if c.relation != "==" or not any(isinstance(side, sympy.Mul) for side in (c.lhs, c.rhs)):
        return c
    (a, fa), (b, fb) = (sympy.sympify(side).as_coeff_Mul() for side in (c.lhs, c.rhs))
    if not (a.is_Integer and b.is_Integer):
        return c
    powers = [sympy.Mul.make_args(f) for f in (fa, fb)]
    common = sympy.Mul(*(f for f in powers[0] if f.is_Symbol and f in powers[1]))
    divisor = math.gcd(int(a), int(b)) * common
    if divisor == 1:
        return c
    lhs, rhs = (dims.normalize(side / divisor) for side in (c.lhs, c.rhs))
    return Constraint(c.node, c.op, c.what, lhs, "==", rhs)


def summarize(raw: list[Constraint]) -> Summary:
    """The conditions in their simplest form on the input symbols.

    One-symbol lower bounds become ``H >= 12`` (the largest per symbol), upper bounds of a size that grows
    with the symbol ``H <= 227`` (the least); one-symbol equalities and
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
    ceilings: list[tuple[sympy.Symbol, Constraint]] = []
    for c in (_cancelled(_size_first(u)) for r in raw for u in _unclamped(r)):
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
        if c.relation == "<=" and len(syms) == 1 and type(c.rhs) is int and _nondecreasing(c.lhs):
            ceilings.append((next(iter(syms)), c))
            continue
        if c.relation in ("==", "%", "or") and len(syms) == 1:
            periodic.setdefault(next(iter(syms)), []).append(c)
            continue
        rest.append(c)
    upper: dict[sympy.Symbol, tuple[int, Constraint]] = {}
    for s, group in sorted(periodic.items(), key=lambda kv: kv[0].name):
        start = lower.get(s, (1, None))[0]
        found = None if any(c.relation not in ("==", "%") for c in group) else _congruence(group, s, start)
        pattern = _pattern(group, s, start) if found is None else None
        if pattern is not None:
            if pattern and pattern[0].relation == "in" and not pattern[0].rhs:  # [] : holds for all
                impossible.extend(group)
            for c in pattern:
                if c.relation == ">=" and c.lhs == s:
                    if c.rhs > lower.get(s, (1, c))[0]:
                        lower[s] = (c.rhs, c)
                elif c.relation == "<=" and c.lhs == s:
                    if c.rhs < upper.get(s, (SEARCH_LIMIT, c))[0]:
                        upper[s] = (c.rhs, c)
                elif c.rhs != ():
                    statements.append(c)
        elif found is None:
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
    for s, c in ceilings:
        top = _first(lambda v: not c.holds({s: v}), lower.get(s, (1, None))[0])  # noqa: B023
        if top is None:
            rest.append(c)
        elif top - 1 < upper.get(s, (SEARCH_LIMIT, c))[0]:
            upper[s] = (top - 1, c)
    bounds: list[Constraint] = []
    for s in sorted(set(lower) | set(upper), key=lambda sym_: sym_.name):
        least, most = lower.get(s, (1, None)), upper.get(s)
        if most is not None and most[0] < least[0]:
            impossible.append(most[1])
            continue
        listed = any(c.relation == "in" and c.lhs == s for c in statements)  # a finite set says it all
        if least[0] > 1 and not listed:
            bounds.append(Constraint(least[1].node, least[1].op, least[1].what, s, ">=", least[0]))
        if most is not None:
            bounds.append(Constraint(most[1].node, most[1].op, most[1].what, s, "<=", most[0]))
    lows = {s: least for s, (least, _) in lower.items()}
    kept = bounds + statements + [_without_unreachable(c, lows) for c in rest]
    unique: dict[str, Constraint] = {}
    for c in kept:
        unique.setdefault(str(c), c)
    return Summary(list(unique.values()), impossible)


def _nondecreasing(e: Dim) -> bool:
    """Whether ``e`` grows with every size: sums and products with positive coefficients, floors, clamps."""
    if type(e) is int or e.is_number or e.is_Symbol:
        return True
    if e.is_Add or e.is_Mul:
        return all(_nondecreasing(a) and (not a.is_number or a > 0 or e.is_Add) for a in e.args)
    if isinstance(e, (sympy.floor, sympy.ceiling, sympy.Min, sympy.Max)):
        return all(_nondecreasing(a) for a in e.args)
    return e.is_Pow and e.exp.is_Integer and e.exp > 0 and _nondecreasing(e.base)


_LEAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # owner -> (constraints seen, least values)


def least_values(owner: object, constraints: list[Constraint]) -> dict[sympy.Symbol, int]:
    """The least value of each size implied by the one-size lower bounds among ``constraints``
    (``floor(H/4 - 1) + 1 >= 1`` gives ``H >= 4``), kept per ``owner`` (a solver) and updated with the
    constraints added since the last call. Sizes whose lower bound is not so plain are left out."""
    seen, lows = _LEAST.get(owner, (0, {}))
    for c in constraints[seen:]:
        if c.relation == ">=" and type(c.rhs) is int and len(c.symbols) == 1 and _nondecreasing(c.lhs):
            (s,) = c.symbols
            least = _least_satisfying(c, s)
            if type(least) is int and least > lows.get(s, 1):
                lows = {**lows, s: least}
    _LEAST[owner] = (len(constraints), lows)
    return lows


def never_one(e: Dim) -> bool:
    """Whether a size is provably never 1: a multiple of some k > 1 (``2*floor(L/2)``), or growing with
    the sizes from more than 1 (``L + 1``)."""
    if type(e) is int:
        return e != 1
    content, _ = e.as_content_primitive()
    if content.is_Integer and content > 1:
        return True
    return _nondecreasing(e) and dims.evaluate(e, {s: 1 for s in e.free_symbols}) > 1


def _without_unreachable(c: Constraint, lows: dict[sympy.Symbol, int]) -> Constraint:
    """A broadcast's ``x == 1`` alternatives dropped where ``x`` exceeds 1 already at the sizes' lower bounds."""
    if c.relation != "or":
        return c
    kept = [p for p in c.parts if not (p.relation == "==" and p.rhs == 1 and _nondecreasing(p.lhs)
                                       and dims.evaluate(p.lhs, {s: lows.get(s, 1) for s in p.symbols}) > 1)]
    return joined("or", kept, c) if kept else c


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
        elif c.lhs == s and c.relation == "==" and type(c.rhs) is int:
            lower = upper = c.rhs
        elif c.relation in ("%", "in", "or"):
            parts.append(str(c))
        else:
            return None
    if lower is not None and upper is not None:
        parts.insert(0, f"{lower} <= {s} <= {upper}" if lower != upper else f"{s} = {lower}")
    elif lower is not None:
        parts.append(f"{s} >= {lower}")
    elif upper is not None:
        parts.append(f"{s} <= {upper}")
    return " and ".join(parts) if parts else f"any {s}"
