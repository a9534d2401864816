"""Linear layers: Linear, LazyLinear, Identity."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dims import Shape
from ..params import ParamSpec
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext


class Linear(Layer):
    """y = x @ weight.T + bias.   x: (*, in_features) -> y: (*, out_features)."""

    size_args = ("in_features", "out_features")
    example = ({"in_features": None, "out_features": 64}, ("B, T, D",))

    def __init__(self, in_features: Any, out_features: Any, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        self.in_features = self._size("in_features", in_features, optional=True)
        self.out_features = self._size("out_features", out_features)
        self.has_bias = self._flag("bias", bias)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, tuple(range(1, 64)), "(*, in_features)"):
            return None
        out = ctx.args.out_features
        ctx.match("in_features", x[-1], what="in_features",
                  fix=lambda: f"Use in_features={x[-1]} or LazyLinear({out}).")
        return (*x[:-1], out)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        p = {"weight": ParamSpec((a.out_features, a.in_features), "uniform_fan_in", {"fan_in": a.in_features})}
        if self.has_bias:
            p["bias"] = ParamSpec((a.out_features,), "uniform_fan_in", {"fan_in": a.in_features})
        return p

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        y = x @ p["weight"].T
        return y + p["bias"] if "bias" in p else y


class LazyLinear(Linear):
    """Linear with in_features inferred from the input."""

    def __init__(self, out_features: Any, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(None, out_features, bias)


class Identity(Layer):
    """y = x; any constructor arguments are ignored, as in torch."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return x

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return x
