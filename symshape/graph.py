"""ShapeGraph: a model analysed for given input shapes, over a plain ``networkx.DiGraph``.

Node attributes (``g.graph.nodes[name]``):
  ``kind``           ``"input"`` or ``"layer"``
  ``shape``, ``dtype``   (inputs) the input's shape and dtype
  ``op``, ``layer``  (layers) the class name and the Layer object
  ``inputs``         the references the node reads (``"x"``, ``"conv1"``, ``"lstm:1"``)
  ``input_shapes``, ``output_shapes``   lists of shapes (None where an earlier error left it unknown)
  ``args``           the layer's size arguments as resolved here (``in_features`` of a lazy layer)
  ``params``         ``{local name: ParamSpec}``, empty for a node sharing another's layer
  ``owner``          for a sharing node, the name of the node owning the parameters
Edge attributes (producer -> consumer): ``shapes``, the shapes of the tensors passed along it.

Propagation visits the nodes in order; a rule that pins a symbol (``D = 20``) restarts the pass
with that size substituted, so the completed pass has every size it can know.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from . import dims
from .constraints import Constraint, summarize
from .dims import Dim, Shape
from .errors import Conflict, ShapeError, ShapeMismatchError, SpecError, UnresolvedShapeError
from .params import ParamSpec
from .propagate import Solver, propagate
from .wiring import Model, state_name


class ShapeGraph:
    """The result of ``model.infer(...)``: every node and edge shaped, constraints, errors."""

    def __init__(self, model: Model, declared: dict[str, Shape], *, values: dict | None = None,
                 origins: dict | None = None, strict: bool = True):
        self.model = model
        self.declared = dict(declared)
        self.solver = Solver(values or {}, origins or {})
        self.graph, self._shapes = propagate(model, self.declared, self.solver)
        summary = summarize(self.solver.constraints)
        self.constraints: list[Constraint] = summary.statements
        self.errors: list[Conflict] = list(self.solver.conflicts) + [
            Conflict(c.node, c.op, c.what, f"a size with {c.text}", "no size of the inputs satisfies that")
            for c in summary.impossible]
        if not self.errors and any(len(c.symbols) > 1 for c in self.constraints):
            from .solve import satisfiable  # conditions linking several sizes: ask the solver

            if not satisfiable(self.constraints):
                self.errors.append(Conflict(self.constraints[-1].node, self.constraints[-1].op, "the sizes",
                                            "constrained by " + ", ".join(map(str, self.constraints)),
                                            "no sizes satisfy all of these together"))
        if strict and self.errors:
            raise ShapeMismatchError(self.errors, self.pinned_note())

    def pinned_note(self) -> str:
        """Where the model itself fixed input sizes, for error messages."""
        pinned = [f"{s} = {v} (by {self.solver.origins[s]})" for s, v in self.solver.values.items()
                  if self.solver.origins.get(s, "bind") != "bind"]
        return f"Sizes the model fixes: {'; '.join(pinned)}." if pinned else ""

    # --- views ----------------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Shape]:
        return {s.name: self.graph.nodes[s.name]["shape"] for s in self.model.inputs}

    @property
    def outputs(self) -> dict[str, Shape | None]:
        return {name: self._shapes[r] for name, r in zip(self.model.output_names, self.model.outputs)}

    @property
    def output_shapes(self) -> list[Shape | None]:
        return list(self.outputs.values())

    def _specs(self, buffers: bool | None) -> dict[str, ParamSpec]:
        out: dict[str, ParamSpec] = {}
        for node in self.model.nodes:
            for local, spec in self.graph.nodes[node.name]["params"].items():
                if buffers is None or spec.buffer == buffers:
                    out[state_name(node.name, local)] = spec
        return out

    @property
    def param_specs(self) -> dict[str, ParamSpec]:
        """Parameters and buffers by state_dict name, in torch's order (per module)."""
        return self._specs(None)

    @property
    def param_shapes(self) -> dict[str, Shape]:
        return {k: s.shape for k, s in self._specs(False).items()}

    @property
    def buffer_shapes(self) -> dict[str, Shape]:
        return {k: s.shape for k, s in self._specs(True).items()}

    @property
    def state_shapes(self) -> dict[str, Shape]:
        return {k: s.shape for k, s in self._specs(None).items()}

    @property
    def num_params(self) -> Dim:
        return dims.total(s.numel for s in self._specs(False).values())

    @property
    def symbols(self) -> list[str]:
        """The sizes still free (to bind), by name."""
        found = dims.shape_symbols(s for s in self._shapes.values() if s is not None)
        for spec in self.param_specs.values():
            found |= dims.shape_symbols([spec.shape])
        return sorted(s.name for s in found)

    @property
    def fixed_sizes(self) -> dict[str, Dim]:
        """Sizes known from a binding or pinned by the model (``{"D": 20}``)."""
        return {s.name: v for s, v in sorted(self.solver.values.items(), key=lambda kv: kv[0].name)}

    @property
    def is_concrete(self) -> bool:
        return not self.symbols

    def node(self, name: str) -> dict[str, Any]:
        return self.graph.nodes[name]

    def __repr__(self) -> str:
        ins = ", ".join(f"{k}: {dims.format_shape(v)}" for k, v in self.inputs.items())
        outs = ", ".join(f"{k}: {dims.format_shape(v or ())}" for k, v in self.outputs.items())
        return f"<ShapeGraph {len(self.model.nodes)} layers, inputs {ins} -> outputs {outs}, " \
               f"{self.num_params} parameters>"

    def _repr_html_(self) -> str:
        from .report import render_html

        return render_html(self)

    # --- the next stages ------------------------------------------------------------------------
    def bind(self, strict: bool = True, **sizes: Any) -> ShapeGraph:
        """Fix sizes (``bind(D=20)``) and re-check; unbound symbols stay symbolic.

        The analysis is redone from the input shapes with the bound sizes substituted, so a bound
        graph is exactly what a concrete analysis at those sizes gives (broadcasting included)."""
        known = self._known_symbols()
        bindings = dict(self.bindings)
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
        bound = ShapeGraph(self.model, self.declared, values=bindings, origins={s: "bind" for s in bindings},
                           strict=False)
        if strict and bound.errors:
            note = "\n".join(filter(None, [bound.pinned_note(), self._working_sizes(sizes)]))
            raise ShapeMismatchError(bound.errors, note)
        return bound

    @property
    def bindings(self) -> dict[sympy.Symbol, int]:
        """The sizes bound by the user (as opposed to those the model fixes)."""
        return {s: v for s, v in self.solver.values.items() if self.solver.origins.get(s) == "bind"}

    def _working_sizes(self, sizes: dict[str, Any]) -> str:
        """For a binding that fails: the values of each bound size that would work, the others kept."""
        from .constraints import describe_symbol

        hints = []
        for name in sizes:
            others = {k: v for k, v in sizes.items() if k != name}
            try:
                partial = self.bind(strict=False, **others) if others else self
            except ShapeError:
                continue
            if partial.errors or name not in partial.symbols:
                continue
            phrase = describe_symbol(partial.constraints, dims.sym(name))
            if phrase and not phrase.startswith("any "):
                kept = ", ".join(f"{k} = {v}" for k, v in others.items())
                hints.append(phrase + (f" (with {kept})" if kept else ""))
        if len(sizes) > 1 and len({str(v) for v in sizes.values()}) == 1:
            hints.append(self._working_equal_sizes(sorted(sizes)))
        hints = [h for h in hints if h]
        return f"Sizes that would work: {'; '.join(hints)}." if hints else ""

    def _working_equal_sizes(self, names: list[str]) -> str:
        """The admissible values when the bound sizes are all equal (a square image: H = W)."""
        from .constraints import describe_symbol

        main = dims.sym(names[0])
        same = {dims.sym(n): main for n in names[1:]}
        declared = {k: dims.substitute_shape(v, same) for k, v in self.declared.items()}
        values = {k: dims.substitute(v, same) for k, v in self.solver.values.items() if k not in same}
        try:
            square = ShapeGraph(self.model, declared, values=values, origins=self.solver.origins, strict=False)
        except ShapeError:
            return ""
        phrase = describe_symbol(square.constraints, main) if not square.errors else None
        if not phrase or phrase.startswith("any "):
            return ""
        return phrase.replace(main.name, " = ".join(names), 1)

    def _known_symbols(self) -> set[str]:
        found = dims.shape_symbols(self.declared.values())
        for node in self.model.nodes:
            for arg in node.layer.size_args:
                found |= dims.free_symbols(getattr(node.layer, arg))
        return {s.name for s in found}

    def valid(self, **sizes: Any) -> bool:
        """Whether the model accepts these sizes; sizes left out may take any value that works."""
        from .solve import valid

        return valid(self, **sizes)

    def solve(self, target: Any, **wish: Any) -> list[dict[str, int]]:
        """Sizes meeting a wish: ``solve(h, equals=7)``, ``solve("num_params", at_most=10**6, maximize="D")``.
        See ``symshape.solve.solve``."""
        from .solve import solve

        return solve(self, target, **wish)

    def costs(self, dtype: str = "float32") -> Any:
        """Parameters, multiply-accumulates, activations and peak activation memory, per layer and in
        total, as formulas of the sizes still free (see ``symshape.costs``)."""
        from .costs import costs

        return costs(self, dtype)

    def explain(self, name: str) -> str:
        """How the shape of a parameter, layer output or input was derived, back to the input dims."""
        from .explain import explain

        return explain(self, name)

    def require_concrete(self, purpose: str, params_only: bool = False) -> None:
        if self.errors:
            raise ShapeMismatchError(self.errors, self.pinned_note())
        if params_only:
            free = sorted({s.name for s in dims.shape_symbols(self.state_shapes.values())})
        else:
            free = self.symbols
        if free:
            raise UnresolvedShapeError(
                f"{purpose} needs every size, but {', '.join(free)} "
                f"{'is' if len(free) == 1 else 'are'} still symbolic: bind "
                f"{'it' if len(free) == 1 else 'them'} first, e.g. "
                f"graph.bind({', '.join(f'{s}=...' for s in free)})", free)

    def materialize(self, seed: int | None = 0, init: Any = None, dtype: Any = "float32",
                    only: list[str] | None = None, on_tensor: Any = None) -> dict[str, np.ndarray]:
        """Allocate and initialize every parameter and buffer: ``{state_dict name: ndarray}``.

        ``only`` restricts to some names (same values as in a full run); ``on_tensor(name, array)``
        is called after each tensor."""
        from .init import materialize
        from .stream import check_memory

        self.require_concrete("materialize()", params_only=True)
        specs = self.param_specs
        if only is not None:
            specs = {k: specs[k] for k in only}
        check_memory(specs, str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype)
        return materialize(specs, seed=seed, init=init, dtype=dtype, on_tensor=on_tensor)

    def forward(self, params: dict[str, np.ndarray], *arrays: np.ndarray, **named: np.ndarray) -> Any:
        """The numpy reference forward pass in eval mode; symbolic sizes are bound from the arrays."""
        from .forward import run

        return run(self, params, arrays, named)

    def bind_from_arrays(self, arrays: dict[str, np.ndarray]) -> ShapeGraph:
        """Bind the symbols of the input shapes from the arrays' shapes."""
        sizes: dict[str, int] = {}
        conflicts: list[Conflict] = []
        for name, shape in self.inputs.items():
            array_shape = arrays[name].shape
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
        return self.bind(**sizes) if sizes else self
