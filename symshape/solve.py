"""Questions about sizes, answered exactly with the z3 SMT solver: is a binding valid, and which
sizes make a quantity (a feature-map size, the parameter count) meet a wish.

Floors of ``p/q`` become z3's integer division, ``Mod`` its remainder; every size is a positive
integer. Answers are exact: z3 proves them over the integers, no sampling involved.
"""

from __future__ import annotations

from typing import Any

import sympy
import z3

from . import dims
from .constraints import Constraint
from .dims import Dim
from .errors import ShapeError, SpecError

MAX_SIZE = 2**31  # sizes the solver considers


def to_z3(e: Dim, variables: dict[sympy.Symbol, z3.ArithRef]) -> z3.ArithRef:
    """A z3 integer term equal to ``e`` for every positive integer value of its symbols."""
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
    lhs, rhs = to_z3(c.lhs, variables), to_z3(c.rhs, variables)
    return {">=": lhs >= rhs, "<=": lhs <= rhs, "==": lhs == rhs, "%": lhs % rhs == 0}[c.relation]


def _problem(constraints: list[Constraint], extra: list[Dim]) -> tuple[z3.Optimize, dict]:
    symbols: set[sympy.Symbol] = set()
    for c in constraints:
        symbols |= c.symbols
    for e in extra:
        symbols |= dims.free_symbols(e)
    variables = {s: z3.Int(s.name) for s in sorted(symbols, key=lambda s: s.name)}
    problem = z3.Optimize()
    for v in variables.values():
        problem.add(v >= 1, v <= MAX_SIZE)
    for c in constraints:
        problem.add(_relation(c, variables))
    return problem, variables


def satisfiable(constraints: list[Constraint]) -> bool:
    """Whether some positive sizes meet every constraint."""
    problem, _ = _problem(constraints, [])
    return problem.check() == z3.sat


def valid(graph: Any, **sizes: Any) -> bool:
    """Whether the model accepts these sizes (others free: whether some values of them work)."""
    try:
        bound = graph.bind(strict=False, **sizes)
    except ShapeError:
        return False
    return not bound.errors and satisfiable(bound.constraints)


def solve(graph: Any, target: Dim | str, *, equals: Any = None, at_most: Any = None, at_least: Any = None,
          minimize: str | None = None, maximize: str | None = None, limit: int = 10) -> list[dict[str, int]]:
    """Sizes that make ``target`` (a size expression, or ``"num_params"``) meet the wish, within
    the model's own conditions. Returns up to ``limit`` solutions, smallest first (or the one that
    minimizes / maximizes a named size)."""
    if isinstance(target, str):
        if target != "num_params":
            target = dims.parse_dim(target)
        else:
            target = graph.num_params
    wishes = [(">=", at_least), ("<=", at_most), ("==", equals)]
    if all(v is None for _, v in wishes):
        raise SpecError("solve: say what the target must be: equals=, at_most= or at_least=")
    constraints = list(graph.constraints) + [Constraint("solve", "solve", "target", target, rel, dims.parse_dim(v))
                                             for rel, v in wishes if v is not None]
    problem, variables = _problem(constraints, [target])
    chosen = minimize or maximize
    if chosen is not None:
        if dims.sym(chosen) not in variables:
            raise SpecError(f"solve: {chosen!r} is not a size the target or the conditions involve "
                            f"({', '.join(s.name for s in variables) or 'none'})")
        var = variables[dims.sym(chosen)]
        problem.minimize(var) if minimize else problem.maximize(var)
        limit = 1
    else:
        problem.minimize(z3.Sum(list(variables.values())) if variables else z3.IntVal(0))
    solutions: list[dict[str, int]] = []
    while len(solutions) < limit and problem.check() == z3.sat:
        model = problem.model()
        found = {s.name: model.eval(v, model_completion=True).as_long() for s, v in variables.items()}
        solutions.append(found)
        if not variables:
            break
        problem.add(z3.Or([v != found[s.name] for s, v in variables.items()]))
    return solutions
