"""The analysis record: a model analysed for given input shapes, frozen, with read-only views.

``propagate.analyse`` makes it; every later stage (init, forward, costs, explain, solve, weights,
stream, report, draw) is a function of it. Its nodes and edges are plain dicts (``node_data``,
``edge_data``); ``graph``, the frozen ``networkx.DiGraph`` of them, is built on first use, so an
analysis alone (``symshape check``) does not import networkx.

Node attributes (``a.node(name)``, ``a.graph.nodes[name]``):
  ``kind``           ``"input"`` or ``"layer"``
  ``shape``, ``dtype``   (inputs) the input's shape and dtype
  ``op``, ``layer``  (layers) the class name and the Layer object
  ``inputs``         the references the node reads (``"x"``, ``"conv1"``, ``"lstm:1"``)
  ``input_shapes``, ``output_shapes``   lists of shapes (None where an earlier error left it unknown)
  ``output_dtypes``  the outputs' dtype names (``symshape.dtypes``)
  ``args``           the layer's size arguments as resolved here (``in_features`` of a lazy layer)
  ``params``         ``{local name: ParamSpec}``, empty for a node sharing another's layer
  ``owner``          for a sharing node, the name of the node owning the parameters
Edge attributes (``a.edge_data[producer, consumer]``): ``shapes``, the shapes of the tensors passed along it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sympy

from . import arguments, dims
from .constraints import Constraint
from .dims import Dim, Shape
from .errors import Conflict, ShapeMismatchError, SpecError, UnresolvedShapeError
from .params import ParamSpec
from .wiring import Model, state_name

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, eq=False)
class Analysis:
    """Every node and edge shaped, the sizes known, the conditions on the free ones, all errors."""

    model: Model
    declared: dict[str, Shape]  # the input shapes asked for, before any size was substituted
    node_data: dict[str, dict[str, Any]]  # node attributes by name, inputs first, then the layers in order
    edge_data: dict[tuple[str, str], dict[str, Any]]  # edge attributes by (producer, consumer)
    shapes: dict[str, Shape | None]  # every tensor by reference
    values: dict[sympy.Symbol, Dim]  # sizes bound or pinned, by symbol
    origins: dict[sympy.Symbol, str]  # who fixed each: "bind" or the layer and rule
    constraints: list[Constraint]
    errors: list[Conflict]

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The frozen ``networkx.DiGraph`` of the nodes and edges, with their attributes."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.node_data.items())
        g.add_edges_from((u, v, data) for (u, v), data in self.edge_data.items())
        return nx.freeze(g)

    # --- tensors --------------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Shape]:
        return {s.name: self.node_data[s.name]["shape"] for s in self.model.inputs}

    @property
    def outputs(self) -> dict[str, Shape | None]:
        return {name: self.shapes[r] for name, r in zip(self.model.output_names, self.model.outputs)}

    @property
    def output_shapes(self) -> list[Shape | None]:
        return list(self.outputs.values())

    def node(self, name: str) -> dict[str, Any]:
        """The attributes of one node (schema above)."""
        try:
            return self.node_data[name]
        except (KeyError, TypeError):
            raise SpecError(f"node(): {name!r} is no layer or input of the model "
                            f"({arguments.some(self.node_data, 8)})") from None

    # --- parameters -----------------------------------------------------------------------------
    @cached_property
    def _every_spec(self) -> dict[str, ParamSpec]:
        every: dict[str, ParamSpec] = {}
        for node in self.model.nodes:
            for local, spec in self.node_data[node.name]["params"].items():
                every[state_name(node.name, local)] = spec
        for name, target in self.model.tied.items():  # a tied tensor is its target, under a second name
            if name in every and target in every:
                every[name] = replace(every[target], tied_to=target)
        return every

    def _specs(self, buffers: bool | None) -> dict[str, ParamSpec]:
        return {k: s for k, s in self._every_spec.items() if buffers is None or s.buffer == buffers}

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
        return dims.total(s.numel for s in self._specs(False).values() if s.tied_to is None)  # a tied one once

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        """The sizes still free (to bind), by name."""
        found = dims.shape_symbols(s for s in self.shapes.values() if s is not None)
        for spec in self.param_specs.values():
            found |= dims.shape_symbols([spec.shape])
        return sorted(s.name for s in found)

    @property
    def fixed_sizes(self) -> dict[str, Dim]:
        """Sizes known from a binding or pinned by the model (``{"D": 20}``)."""
        return {s.name: v for s, v in sorted(self.values.items(), key=lambda kv: kv[0].name)}

    @property
    def bindings(self) -> dict[sympy.Symbol, int]:
        """The sizes bound by the user (as opposed to those the model fixes)."""
        return {s: v for s, v in self.values.items() if self.origins.get(s) == "bind"}

    @property
    def is_concrete(self) -> bool:
        return not self.symbols

    def known_symbols(self) -> set[str]:
        """Every size name the model mentions: in its input shapes and its layers' size arguments."""
        found = dims.shape_symbols(self.declared.values())
        for node in self.model.nodes:
            for arg in node.layer.size_args:
                found |= dims.free_symbols(getattr(node.layer, arg))
        return {s.name for s in found}

    # --- checks ---------------------------------------------------------------------------------
    def pinned_note(self) -> str:
        """Where the model itself fixed input sizes, for error messages."""
        pinned = [f"{s} = {v} (by {self.origins[s]})" for s, v in self.values.items()
                  if self.origins.get(s, "bind") != "bind"]
        return f"Sizes the model fixes: {'; '.join(pinned)}." if pinned else ""

    def require_concrete(self, purpose: str, params_only: bool = False) -> None:
        """Raise unless the model is valid and every size (of the parameters, or of everything) is known."""
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

    def __repr__(self) -> str:
        ins = ", ".join(f"{k}: {dims.format_shape(v)}" for k, v in self.inputs.items())
        outs = ", ".join(f"{k}: {dims.format_shape(v or ())}" for k, v in self.outputs.items())
        return f"<{type(self).__name__} {len(self.model.nodes)} layers, inputs {ins} -> outputs {outs}, " \
               f"{self.num_params} parameters>"
