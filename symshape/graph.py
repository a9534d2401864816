"""ShapeGraph: the public face of an analysis. Its views are the record's (``analysis.py``); each of
its methods is one call down to the stage that does the work (``propagate``, ``stream``,
``forward``, ``costs``, ``explain``, ``solve``, ``report``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from . import costs as costs_stage
from . import explain as explain_stage
from . import forward as forward_stage
from . import propagate, report, solve, stream
from .analysis import Analysis
from .dims import Shape
from .errors import ShapeMismatchError
from .wiring import Model


class ShapeGraph(Analysis):
    """The result of ``model.infer(...)``: every node and edge shaped, constraints, errors."""

    @classmethod
    def of(cls, analysis: Analysis) -> ShapeGraph:
        return analysis if isinstance(analysis, cls) else cls(**{f.name: getattr(analysis, f.name)
                                                                  for f in fields(Analysis)})

    @classmethod
    def analyse(cls, model: Model, declared: dict[str, Shape], strict: bool = True) -> ShapeGraph:
        """``model.infer``: the analysis, raising every error at once when ``strict``."""
        graph = cls.of(propagate.analyse(model, declared))
        if strict and graph.errors:
            raise ShapeMismatchError(graph.errors, graph.pinned_note())
        return graph

    def bind(self, strict: bool = True, **sizes: Any) -> ShapeGraph:
        """Fix sizes (``bind(D=20)``) and re-check; unbound symbols stay symbolic. The analysis is redone
        with the sizes substituted, so it is exactly what a concrete analysis at those sizes gives."""
        return ShapeGraph.of(propagate.bind(self, sizes, strict))

    def bind_from_arrays(self, arrays: dict[str, np.ndarray]) -> ShapeGraph:
        """Bind the symbols of the input shapes from the arrays' shapes."""
        return ShapeGraph.of(propagate.bind_from_arrays(self, arrays))

    def valid(self, **sizes: Any) -> bool:
        """Whether the model accepts these sizes; sizes left out may take any value that works."""
        return solve.valid(self, **sizes)

    def solve(self, target: Any, **wish: Any) -> list[dict[str, int]]:
        """Sizes meeting a wish: ``solve(h, equals=7)``, ``solve("num_params", at_most=10**6, maximize="D")``.
        See ``symshape.solve.solve``."""
        return solve.solve(self, target, **wish)

    def costs(self, dtype: str = "float32") -> costs_stage.Costs:
        """Parameters, multiply-accumulates, activations and peak activation memory, per layer and in
        total, as formulas of the sizes still free (see ``symshape.costs``)."""
        return costs_stage.costs(self, dtype)

    def explain(self, name: str) -> str:
        """How the shape of a parameter, layer output or input was derived, back to the input dims."""
        return explain_stage.explain(self, name)

    def materialize(self, seed: int | None = 0, init: Any = None, dtype: Any = "float32",
                    only: list[str] | None = None, on_tensor: Any = None) -> dict[str, np.ndarray]:
        """Allocate and initialize every parameter and buffer: ``{state_dict name: ndarray}``.

        ``only`` restricts to some names (same values as in a full run); ``on_tensor(name, array)``
        is called after each tensor."""
        return stream.materialize(self, seed=seed, init=init, dtype=dtype, only=only, on_tensor=on_tensor)

    def forward(self, params: dict[str, np.ndarray], *arrays: np.ndarray, **named: np.ndarray) -> Any:
        """The numpy reference forward pass in eval mode; symbolic sizes are bound from the arrays."""
        return forward_stage.run(self, params, arrays, named)

    def _forward_own(self, params: dict[str, np.ndarray], arrays: tuple[np.ndarray, ...]) -> Any:
        """forward() on parameters this graph materialized itself (Model's eager call): not checked again."""
        return forward_stage.run(self, params, arrays, {}, own_params=True)

    def _repr_html_(self) -> str:
        return report.render_html(self)
