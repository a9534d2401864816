"""Questions about sizes, answered exactly with the z3 SMT solver (``smt.py``): is a binding valid,
and which sizes make a quantity (a feature-map size, the parameter count) meet a wish."""

from __future__ import annotations

from typing import Any

from . import dims
from .analysis import Analysis
from .constraints import Constraint
from .dims import Dim
from .errors import ShapeError, SpecError
from .propagate import bind
from .smt import check, problem_of, satisfiable, z3_module


def valid(graph: Analysis, **sizes: Any) -> bool:
    """Whether the model accepts these sizes (others free: whether some values of them work)."""
    try:
        bound = bind(graph, sizes, strict=False)
    except ShapeError:
        return False
    return not bound.errors and satisfiable(bound.constraints)


def _size(what: str, value: Any) -> Dim:
    try:
        return dims.parse_dim(value)
    except (dims.DimSyntaxError, TypeError) as exc:
        raise SpecError(f"solve: {what} {value!r} is not a size expression: {exc}") from None


def solve(graph: Analysis, target: Dim | str, *, equals: Any = None, at_most: Any = None, at_least: Any = None,
          minimize: str | None = None, maximize: str | None = None, limit: int = 10) -> list[dict[str, int]]:
    """Sizes that make ``target`` (a size expression, or ``"num_params"``) meet the wish, within
    the model's own conditions. Returns up to ``limit`` solutions, smallest first (or the one that
    minimizes / maximizes a named size)."""
    if isinstance(target, str):
        if target != "num_params":
            target = _size("target", target)
        else:
            target = graph.num_params
    wishes = [(">=", "at_least", at_least), ("<=", "at_most", at_most), ("==", "equals", equals)]
    if all(v is None for _, _, v in wishes):
        raise SpecError("solve: say what the target must be: equals=, at_most= or at_least=")
    constraints = list(graph.constraints) + [Constraint("solve", "solve", "target", target, rel, _size(f"{k}=", v))
                                             for rel, k, v in wishes if v is not None]
    problem, variables = problem_of(constraints, [target])
    z3 = z3_module()
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
    while len(solutions) < limit and check(problem):
        model = problem.model()
        found = {s.name: model.eval(v, model_completion=True).as_long() for s, v in variables.items()}
        solutions.append(found)
        if not variables:
            break
        problem.add(z3.Or([v != found[s.name] for s, v in variables.items()]))
    return solutions
