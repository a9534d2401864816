"""Constraints as z3 problems: exact answers over the positive integers, within a time budget.

Floors of ``p/q`` become z3's integer division, ``Mod`` its remainder; every size is a positive
integer. z3 is imported when a question first needs it: the symbolic analysis does not.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import sympy

from . import dims
from .constraints import Constraint
from .dims import Dim
from .errors import ShapeError

if TYPE_CHECKING:
    import z3

BUDGET_MS = 10_000  # one solver call's time limit


class Undecided(ShapeError):
    """z3 could not decide within its budget (or the question has no exact z3 form)."""


def z3_module() -> ModuleType:
    import z3

    return z3


def check(problem: z3.Optimize | z3.Solver) -> bool:
    """True for sat, False for unsat; Undecided when z3 gives up within ``BUDGET_MS``."""
    z3 = z3_module()
    result = problem.check()
    if result == z3.unknown:
        raise Undecided(f"the solver could not decide within {BUDGET_MS / 1000:g} s ({problem.reason_unknown()})")
    return result == z3.sat


MAX_SIZE = 2**31  # sizes the solver considers


def to_z3(e: Dim, variables: dict[sympy.Symbol, z3.ArithRef]) -> z3.ArithRef:
    """A z3 integer term equal to ``e`` for every positive integer value of its symbols."""
    z3 = z3_module()
    if type(e) is int:
        return z3.IntVal(e)
    if e.is_Integer:
        return z3.IntVal(int(e))
    if e.is_Symbol:
        return variables[e]
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        p, q = dims._integer_fraction(e.args[0])
        if p is None:
            raise ValueError(f"cannot express {e} for the solver")
        numerator = to_z3(p, variables)
        return numerator / q if isinstance(e, sympy.floor) else (numerator + q - 1) / q
    if isinstance(e, sympy.Mod):
        return to_z3(e.args[0], variables) % to_z3(e.args[1], variables)
    if isinstance(e, (sympy.Max, sympy.Min)):
        terms = [to_z3(a, variables) for a in e.args]
        result = terms[0]
        for t in terms[1:]:
            result = z3.If(t > result, t, result) if isinstance(e, sympy.Max) else z3.If(t < result, t, result)
        return result
    if e.is_Add:
        return z3.Sum([to_z3(a, variables) for a in e.args])
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Rational and not coeff.is_Integer:
            raise ValueError(f"cannot express {e} for the solver (a fraction outside a floor)")
        terms = [to_z3(a, variables) for a in sympy.Mul.make_args(rest)]
        result = z3.IntVal(int(coeff))
        for t in terms:
            result = result * t
        return result
    if e.is_Pow and e.exp.is_Integer and int(e.exp) > 0:
        base = to_z3(e.base, variables)
        result = base
        for _ in range(int(e.exp) - 1):
            result = result * base
        return result
    raise ValueError(f"cannot express {e} for the solver")


def _relation(c: Constraint, variables: dict) -> z3.BoolRef:
    z3 = z3_module()
    if c.relation in ("or", "and"):
        parts = [_relation(p, variables) for p in c.parts]
        return z3.Or(parts) if c.relation == "or" else z3.And(parts)
    if c.relation == "in":
        lhs = to_z3(c.lhs, variables)
        return z3.Or([lhs == v for v in c.rhs]) if c.rhs else z3.BoolVal(False)
    lhs, rhs = to_z3(c.lhs, variables), to_z3(c.rhs, variables)
    return {">=": lhs >= rhs, "<=": lhs <= rhs, "==": lhs == rhs, "%": lhs % rhs == 0}[c.relation]


def problem_of(constraints: list[Constraint], extra: list[Dim]) -> tuple[z3.Optimize, dict]:
    symbols: set[sympy.Symbol] = set()
    for c in constraints:
        symbols |= c.symbols
    for e in extra:
        symbols |= dims.free_symbols(e)
    z3 = z3_module()
    variables = {s: z3.Int(s.name) for s in sorted(symbols, key=lambda s: s.name)}
    problem = z3.Optimize()
    problem.set(timeout=BUDGET_MS)
    for v in variables.values():
        problem.add(v >= 1, v <= MAX_SIZE)
    for c in constraints:
        problem.add(_relation(c, variables))
    return problem, variables


def satisfiable(constraints: list[Constraint]) -> bool:
    """Whether some positive sizes meet every constraint."""
    problem, _ = problem_of(constraints, [])
    return check(problem)
