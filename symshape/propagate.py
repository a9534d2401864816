"""The propagation engine: one pass over a model's nodes in order, each layer's shape rule run in a
``RuleContext``; a rule that pins a symbol (``D = 20``) restarts the pass with it substituted.

This module is the whole engine: the rule context layers state their conditions in, the solver
state (known sizes, conflicts, constraints), restarts, and the pass that builds the nodes and
edges the analysis record reads (their attribute schema is in ``analysis.py``).
"""

from __future__ import annotations

import contextlib
import gc
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence, Union

import sympy

from . import arguments, dims
from .analysis import Analysis
from .constraints import Constraint, describe_symbol, joined, never_one, summarize
from .dims import Dim, Shape
from .dtypes import DEFAULT as DEFAULT_DTYPE
from .errors import Conflict, ShapeError, ShapeMismatchError, SpecError
from .layers.base import Layer
from .smt import Undecided, satisfiable
from .wiring import Model, owning_node, ref_name, source_of, state_name

Text = Union[str, Callable[[], str]]  # message pieces are built only when a message is needed


@dataclass
class Shaped:
    """What a pass shaped: node attributes by name, edge attributes by (producer, consumer), as
    ``analysis.py`` documents them (plain dicts: an analysis alone does without networkx)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _text(piece: Text) -> str:
    return piece() if callable(piece) else piece


class Restart(Exception):
    """Raised inside a propagation pass when a size got pinned: the pass starts over with it."""


class RuleContext:
    """What a shape rule sees and says at one node: its arguments, its inputs, and its checks.

    ``args`` holds the layer's size arguments with known sizes substituted; ``match`` unifies one
    of them with a size found on an input; ``equal``, ``at_least`` and ``divisible`` state
    conditions. Concrete conditions are decided at once; symbolic ones become constraints, or pin
    a symbol (``D = 20``) and restart the pass.
    """

    def __init__(self, solver: Solver, node: str, layer: Layer, sources: Sequence[str], shapes: list[Shape],
                 fixed: dict[str, Dim] | None, ranges: list[tuple[Dim, Dim] | None] | None = None):
        self.solver = solver
        self.ranges = ranges or [None] * len(shapes)  # the inputs' least and greatest values, where known
        self.node = node
        self.layer = layer
        self.sources = sources
        self.shapes = shapes
        known = solver.values
        args = self.args = SimpleNamespace()
        values = vars(args)
        for n in layer.size_args:
            values[n] = dims.substitute(getattr(layer, n), known) if known else getattr(layer, n)
        if fixed:
            values.update(fixed)

    # --- descriptions used in messages ----------------------------------------------------------
    def input_desc(self, i: int = 0) -> str:
        ordinal = f"input {i} " if len(self.shapes) > 1 else "input "
        return f"its {ordinal}{dims.format_shape(self.shapes[i])} from {self.sources[i]}"

    def show(self, d: Dim) -> str:
        return self.solver.show(d)

    # --- conditions -----------------------------------------------------------------------------
    def match(self, arg: str, actual: Dim, *, what: str | None = None, fix: Text = "",
              input_index: int = 0) -> Dim:
        """The size argument ``arg`` must equal ``actual`` (found on an input); None takes it."""
        expected = getattr(self.args, arg)
        if expected is None:
            setattr(self.args, arg, actual)
            return actual
        self.equal(expected, actual, what=what or arg,
                   actual_desc=lambda: f"{self.input_desc(input_index)} has {self.show(actual)}", fix=fix)
        return expected

    def equal(self, expected: Dim, actual: Dim, *, what: str, actual_desc: Text, fix: Text = "",
              expected_desc: Text | None = None) -> None:
        if dims.definitely_equal(expected, actual):
            return
        if type(expected) is int and type(actual) is int:
            self.conflict(what, expected_desc or self.show(expected), actual_desc, fix)
            return
        self.solver.equate(self, expected, actual, what, actual_desc, fix)

    def at_least(self, d: Dim, minimum: int, *, what: str, actual_desc: Text, fix: Text = "") -> None:
        """``d >= minimum`` (an output size must be at least 1, for instance)."""
        if type(d) is int:
            if d < minimum:
                self.conflict(what, f"{d} (must be at least {minimum})", actual_desc, fix)
            return
        self.solver.require(self, d, ">=", minimum, what)

    def divisible(self, d: Dim, k: Dim, *, what: str, actual_desc: Text, fix: Text = "") -> None:
        if k == 1:
            return
        reduced, modulus = dims.reduce_common(d, k)
        if type(reduced) is int and type(modulus) is int:
            if reduced % modulus:
                self.conflict(what, f"{self.show(d)}, not a multiple of {self.show(k)}", actual_desc, fix)
            return
        self.solver.require(self, reduced, "%", modulus, what)

    def broadcast(self, a: Dim, b: Dim, *, what: str, expected_desc: Text, actual_desc: Text, fix: Text = "") -> Dim:
        """torch broadcasting of two sizes (neither literally 1): ``a == b or a == 1 or b == 1``, and the
        size is the larger (torch's wherever that holds). When only equality can hold, or it pins a size
        named only by layer arguments (a table's ``Arange("T")`` against the input it is added to: the
        size-1 alternative would be another, degenerate model), it is an equality as in ``equal``."""
        if dims.definitely_equal(a, b):
            return a
        a_one, b_one = not never_one(a), not never_one(b)  # whether each may be 1
        ones = [Constraint(self.node, self.layer.op, what, x, "==", 1) for x, may in ((a, a_one), (b, b_one)) if may]
        same = Constraint(self.node, self.layer.op, what, b, "==", a)
        options = ([same] if same.as_sympy() is not sympy.false else []) + ones
        pins = dims.solve_linear(b, a)
        if not ones or (pins is not None and pins[0] not in self.solver.input_symbols):
            self.equal(a, b, what=what, actual_desc=actual_desc, fix=fix, expected_desc=expected_desc)
            return a
        self.solver.constraints.append(joined("or", options, options[0]))
        return b if not b_one else a if not a_one else dims.maximum(a, b)  # a size never 1 is the result

    def conflict(self, what: str, expected: Text, actual: Text, fix: Text = "") -> None:
        self.solver.conflicts.append(Conflict(self.node, self.layer.op, what, _text(expected), _text(actual),
                                              _text(fix)))

    # --- shape helpers --------------------------------------------------------------------------
    def rank(self, shape: Shape, allowed: tuple[int, ...], meaning: Text, i: int = 0) -> bool:
        """Check the input's rank; report and return False when it is not one of ``allowed``."""
        if len(shape) in allowed:
            return True
        ranks = " or ".join(str(r) for r in allowed)
        if len(allowed) > 3 and allowed[-1] >= 63 and tuple(allowed) == tuple(range(allowed[0], allowed[-1] + 1)):
            ranks = f"at least {allowed[0]}"  # range(k, 64): any rank from k on
        self.conflict("input rank", f"{ranks} ({_text(meaning)})",
                      f"{self.input_desc(i)} has rank {len(shape)}")
        return False


class Solver:
    """The state of one propagation: known sizes, conflicts and the constraints collected.

    ``values`` maps symbols to what is known of them (a bound int, a size pinned by a layer, or
    another symbol's expression); ``origins`` says who fixed each. When a rule pins a symbol the
    pass restarts with it substituted, so a pass that completes has seen every size it could. Inside
    ``propagate`` the restart waits for the end of the pass (``fresh_pins``), so one pass may pin many
    sizes (2,000 inputs each pinned by its own layer take 2 passes, not 2,000).
    """

    def __init__(self, values: dict, origins: dict):
        self.values = dict(values)
        self.origins = dict(origins)
        self.conflicts: list = []
        self.constraints: list[Constraint] = []
        self.pinned: dict[sympy.Symbol, tuple[str, str, str]] = {}  # symbol -> (node, op, rule) that pinned it
        self.input_symbols: set[sympy.Symbol] = set()  # the sizes of the declared input shapes
        self.fresh_pins: set[sympy.Symbol] | None = None  # pinned in this pass, when the restart is deferred

    def pinned_constraints(self) -> list[Constraint]:
        """Each size a layer pinned, as the condition it states (``C == 4``)."""
        return [Constraint(node, op, what, s, "==", self.values[s]) for s, (node, op, what) in self.pinned.items()]

    def show(self, d: Dim) -> str:
        return str(d)

    def pin(self, s: sympy.Symbol, value: Dim, origin: str) -> None:
        self.values = {k: dims.substitute(v, {s: value}) for k, v in self.values.items()}
        self.values[s] = value
        self.origins[s] = origin

    def equate(self, ctx, expected: Dim, actual: Dim, what: str, actual_desc: str, fix: str) -> None:
        """``expected == actual`` with a symbol on a side: pin it, or keep the condition."""
        solution = dims.solve_linear(actual, expected)
        if solution is None:
            self.require(ctx, actual, "==", expected, what)
            return
        s, value = solution
        if self.fresh_pins is not None and s in self.fresh_pins:
            return  # these shapes predate the pin: the next pass compares them with its value
        if isinstance(value, sympy.Basic) and value.is_number:
            ctx.conflict(what, ctx.show(expected),
                         lambda: f"{_text(actual_desc)}, and no whole positive {s} gives that ({s} would be {value})",
                         fix)
            return
        if type(value) is int and value <= 0:
            ctx.conflict(what, ctx.show(expected),
                         lambda: f"{_text(actual_desc)}, and no positive {s} gives that ({s} would be {value})", fix)
            return
        self.pinned[s] = (ctx.node, ctx.layer.op, what)
        self.pin(s, dims.substitute(value, self.values), f"{ctx.node} ({ctx.layer.op}) {what}")
        if self.fresh_pins is None:
            raise Restart
        self.fresh_pins.add(s)

    def require(self, ctx, lhs: Dim, relation: str, rhs: Dim, what: str) -> None:
        self.constraints.append(Constraint(ctx.node, ctx.layer.op, what, lhs, relation, rhs))


# --- analysis, binding ---------------------------------------------------------------------------

def analyse(model: Model, declared: dict[str, Shape], values: dict | None = None,
            origins: dict | None = None) -> Analysis:
    """The model analysed for the declared input shapes, with ``values`` (symbol -> size) known."""
    solver = Solver(values or {}, origins or {})
    solver.input_symbols = dims.shape_symbols(declared.values())
    shaped, shapes = propagate(model, declared, solver)
    summary = summarize(solver.constraints)
    errors = list(solver.conflicts) + [
        Conflict(c.node, c.op, c.what, f"a size with {c}", "no size of the inputs satisfies that")
        for c in summary.impossible]
    constraints = solver.pinned_constraints() + summary.statements
    errors += _tie_conflicts(model, shaped.nodes)
    if not errors and _jointly_impossible(constraints):
        errors.append(Conflict(constraints[-1].node, constraints[-1].op, "the sizes",
                               "constrained by " + ", ".join(map(str, constraints)),
                               "no sizes satisfy all of these together"))
    return Analysis(model, dict(declared), shaped.nodes, shaped.edges, shapes, solver.values, solver.origins,
                    constraints, errors)


def _tie_conflicts(model: Model, nodes: dict[str, dict[str, Any]]) -> list[Conflict]:
    """Each tied parameter exists, its target exists, and the two have the same shape."""
    if not model.tied:
        return []
    specs = {state_name(n, local): (n, spec) for n, data in nodes.items() if data["kind"] == "layer"
             for local, spec in data["params"].items()}
    conflicts = []
    for name, target in model.tied.items():
        node = owning_node(name, nodes) or name
        op = nodes[node]["op"] if node in nodes and nodes[node]["kind"] == "layer" else "tie"
        if name not in specs or target not in specs:
            missing = name if name not in specs else target
            conflicts.append(Conflict(node, op, "the tied tensor", f"{name} = {target}",
                                      f"the model has no parameter {missing}",
                                      "Tie parameters by their state_dict names (see summary)."))
            continue
        shape, target_shape = specs[name][1].shape, specs[target][1].shape
        if len(shape) != len(target_shape) or not all(map(dims.definitely_equal, shape, target_shape)):
            conflicts.append(Conflict(node, op, f"the shape of {name}, tied to {target},",
                                      dims.format_shape(target_shape), f"{name} has {dims.format_shape(shape)}",
                                      "Tied tensors are one tensor: give the layers matching sizes."))
    return conflicts


WITNESS_TRIES = 512  # sizes tried before the solver is asked whether conditions linking sizes can hold


def _jointly_impossible(constraints: list[Constraint]) -> bool:
    """Whether conditions linking several sizes exclude every size. A few hundred sizes are tried
    first (most models accept one at once); z3 decides the rest (False when it cannot decide)."""
    if not any(len(c.symbols) > 1 for c in constraints):
        return False
    symbols = sorted(set().union(*(c.symbols for c in constraints)), key=lambda s: s.name)
    draw = random.Random(0)
    for i in range(WITNESS_TRIES):  # all sizes equal 1..64 (square images), then random sizes up to 256
        point = {s: i + 1 if i < 64 else draw.randint(1, 256) for s in symbols}
        if all(c.holds(point) for c in constraints):
            return False
    try:
        return not satisfiable(constraints)
    except (Undecided, ValueError):
        return False


def bind(analysis: Analysis, sizes: dict[str, Any], strict: bool = True) -> Analysis:
    """Fix sizes (``{"D": 20}``) and re-analyse; unbound symbols stay symbolic.

    The analysis is redone from the input shapes with the bound sizes substituted, so a bound
    analysis is exactly what a concrete analysis at those sizes gives (broadcasting included)."""
    known = analysis.known_symbols()
    bindings = dict(analysis.bindings)
    for name, value in sizes.items():
        if name not in known:
            raise SpecError(f"bind: the model has no size named {name!r}; its sizes are "
                            f"{', '.join(sorted(known)) or 'none (it is concrete)'}")
        try:
            v = dims.parse_dim(value)
        except dims.DimSyntaxError as exc:
            raise SpecError(f"bind: {name}={value!r}: {exc}") from None
        if type(v) is not int or v <= 0:
            raise SpecError(f"bind: {name} must be a positive integer, got {value!r}")
        bindings[dims.sym(name)] = v
    bound = analyse(analysis.model, analysis.declared, bindings, {s: "bind" for s in bindings})
    if strict and bound.errors:
        note = "\n".join(filter(None, [bound.pinned_note(), working_sizes(analysis, sizes)]))
        raise ShapeMismatchError(bound.errors, note)
    return bound


def bind_from_arrays(analysis: Analysis, arrays: dict[str, Any]) -> Analysis:
    """Bind the symbols of the input shapes from the arrays' shapes."""
    sizes: dict[str, int] = {}
    conflicts: list[Conflict] = []
    arguments.arrays_by_name("bind_from_arrays()", "arrays", arrays)
    for name, shape in analysis.inputs.items():
        if name not in arrays:
            raise SpecError(f"bind_from_arrays(): no array for input {name!r}; the inputs are "
                            f"{', '.join(analysis.inputs)}")
        array_shape = getattr(arrays[name], "shape", None)
        if not isinstance(array_shape, tuple):
            raise SpecError(f"bind_from_arrays(): input {name!r} must be a numpy array, got "
                            f"{type(arrays[name]).__name__}")
        if len(array_shape) != len(shape):
            conflicts.append(Conflict(name, "input", "rank", f"{len(shape)} {dims.format_shape(shape)}",
                                      f"the array has shape {tuple(array_shape)}"))
            continue
        for d, n in zip(shape, array_shape):
            if type(d) is int:
                continue
            solved = dims.solve_linear(d, int(n))
            if solved is None or isinstance(solved[1], sympy.Basic):
                continue
            sizes.setdefault(solved[0].name, solved[1])
    if conflicts:
        raise ShapeMismatchError(conflicts)
    return bind(analysis, sizes) if sizes else analysis


# --- hints for a binding that fails ----------------------------------------------------------------

def working_sizes(analysis: Analysis, sizes: dict[str, Any]) -> str:
    """For a binding that fails: the values of each bound size that would work, the others kept."""
    hints = []
    for name in sizes:
        others = {k: v for k, v in sizes.items() if k != name}
        try:
            partial = bind(analysis, others, strict=False) if others else analysis
        except ShapeError:
            continue
        if partial.errors or name not in partial.symbols:
            continue
        phrase = describe_symbol(partial.constraints, dims.sym(name))
        if phrase and not phrase.startswith("any "):
            kept = ", ".join(f"{k} = {v}" for k, v in others.items())
            hints.append(phrase + (f" (with {kept})" if kept else ""))
    if len(sizes) > 1 and len({str(v) for v in sizes.values()}) == 1:
        hints.append(_working_equal_sizes(analysis, sorted(sizes)))
    hints = [h for h in hints if h]
    return f"Sizes that would work: {'; '.join(hints)}." if hints else ""


def _working_equal_sizes(analysis: Analysis, names: list[str]) -> str:
    """The admissible values when the bound sizes are all equal (a square image: H = W)."""
    main = dims.sym(names[0])
    same = {dims.sym(n): main for n in names[1:]}
    declared = {k: dims.substitute_shape(v, same) for k, v in analysis.declared.items()}
    values = {k: dims.substitute(v, same) for k, v in analysis.values.items() if k not in same}
    try:
        square = analyse(analysis.model, declared, values, analysis.origins)
    except ShapeError:
        return ""
    phrase = describe_symbol(square.constraints, main) if not square.errors else None
    if not phrase or phrase.startswith("any "):
        return ""
    return phrase.replace(main.name, " = ".join(names), 1)


# --- the pass ------------------------------------------------------------------------------------

@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused meanwhile: building a large graph or importing a model makes
    many objects that live until the end, and collections beside torch's and sympy's half a million objects
    cost 20% of a graph's build and a third of an average import."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def propagate(model: Model, declared: dict[str, Shape], solver: Solver) -> tuple[Shaped, dict[str, Shape | None]]:
    """Run passes until one completes without pinning a size: the shaped nodes and edges and every tensor's
    shape, with the garbage collector paused."""
    deferred = solver.fresh_pins
    try:
        with paused_gc():
            while True:
                solver.fresh_pins = set()
                result = _one_pass(model, declared, solver)
                if not solver.fresh_pins:
                    return result
                solver.conflicts.clear()
                solver.constraints.clear()
    finally:
        solver.fresh_pins = deferred


def _one_pass(model: Model, declared: dict[str, Shape], solver: Solver) -> tuple[Shaped, dict[str, Shape | None]]:
    shaped = Shaped()
    nodes, edges = shaped.nodes, shaped.edges
    shapes: dict[str, Shape | None] = {}
    dtypes: dict[str, str] = {}
    ranges: dict[str, tuple[Dim, Dim]] = {}  # the known value ranges only
    for spec in model.inputs:
        shape = dims.substitute_shape(declared[spec.name], solver.values)
        nodes[spec.name] = {"kind": "input", "shape": shape, "dtype": spec.dtype}
        shapes[spec.name] = shape
        dtypes[spec.name] = spec.dtype or DEFAULT_DTYPE
    resolved: dict[int, dict[str, Dim]] = {}
    for node in model.nodes:
        layer, name, refs = node.layer, node.name, node.inputs
        in_shapes = [shapes[r] for r in refs]
        out_shapes: list[Shape | None]
        if None in in_shapes:
            out_shapes, args, params = [None] * layer.n_outputs, {}, {}
        else:
            in_ranges = [ranges.get(r) for r in refs] if ranges else [None] * len(refs)
            ctx = RuleContext(solver, name, layer, _Sources(nodes, refs), in_shapes, resolved.get(id(layer)),
                              in_ranges)
            result = layer.infer(ctx, *in_shapes)
            if ranges or type(layer).value_range is not Layer.value_range:  # else no range is known: none made
                for i, value_range in enumerate(layer.value_range(ctx.args, *in_ranges)):
                    if value_range is not None:
                        ranges[ref_name(name, i)] = value_range
            # a size below 1 was reported where it arose: later layers see an unknown shape, not a cascade
            out_shapes = [None if _below_one(s) else s for s in result] if layer.n_outputs > 1 else \
                [None if _below_one(result) else result]
            args = vars(ctx.args)
            if id(layer) not in resolved:
                resolved[id(layer)] = dict(args)
            # a lazy layer whose input was refused before its size was learnt declares no parameters
            unsized = result is None and any(args.get(a, 0) is None for a in layer.size_args)
            params = layer.params(ctx.args) if node.owner is None and not unsized else {}
        try:
            out_dtypes = layer.output_dtypes(*[dtypes[r] for r in refs])
        except SpecError as exc:  # dtypes torch refuses (a bool tensor in Sub): named after the node
            raise SpecError(f"{name} ({layer.op}): {exc}") from None
        for i, s in enumerate(out_shapes):
            ref = ref_name(name, i)
            shapes[ref] = s
            dtypes[ref] = out_dtypes[i]
        nodes[name] = {"kind": "layer", "op": layer.op, "layer": layer, "inputs": refs,
                       "input_shapes": in_shapes, "output_shapes": out_shapes,
                       "output_dtypes": list(out_dtypes), "args": args, "params": params, "owner": node.owner}
        for ref, s in zip(refs, in_shapes):
            key = (ref if ":" not in ref else source_of(ref), name)  # a reference without ":" is its source
            edge = edges.get(key)
            if edge is None:
                edges[key] = {"shapes": [s]}
            else:
                edge["shapes"].append(s)
    missing = [r for r in model.outputs if r not in shapes]
    if missing:
        raise SpecError(f"outputs {missing} name no node or input of the model")
    return shaped, shapes


def _below_one(shape: Shape | None) -> bool:
    """Whether a shape has a concrete size below 1."""
    if shape is not None:
        for d in shape:
            if type(d) is int and d < 1:
                return True
    return False


class _Sources(Sequence):
    """The descriptions of a node's inputs (``input x``, ``conv1 (Conv2d)``), made when a message reads one."""

    __slots__ = ("nodes", "refs")

    def __init__(self, nodes: dict[str, dict[str, Any]], refs: Sequence[str]):
        self.nodes, self.refs = nodes, refs

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return describe_source(self.nodes, self.refs[i])

    def __len__(self) -> int:
        return len(self.refs)


def describe_source(nodes: dict[str, dict[str, Any]], ref: str) -> str:
    """``input x`` or ``conv1 (Conv2d)``: where a tensor comes from, for messages."""
    data = nodes[source_of(ref)]
    return f"input {ref}" if data["kind"] == "input" else f"{ref} ({data['op']})"
