"""Linear layers: Linear, LazyLinear, Bilinear, Identity."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Dim, Shape
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

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """One multiply-accumulate per weight element and output row: every leading dim counts."""
        (out,) = outputs
        return dims.prod([*out, params["weight"].shape[1]])

    fresh_output = True  # forward() returns a new array: a following activation may run in place on it

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        y = x @ p["weight"].T
        if "bias" not in p:
            return y
        if y.dtype == np.result_type(y, p["bias"]):
            y += p["bias"]
            return y
        return y + p["bias"]


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


class Bilinear(Layer):
    """y = x1 @ weight @ x2 + bias.   x1: (*, in1_features), x2: (*, in2_features) -> y: (*, out_features)."""

    size_args = ("in1_features", "in2_features", "out_features")
    n_inputs = 2
    example = ({"in1_features": None, "in2_features": None, "out_features": 16}, ("B, D1", "B, D2"))

    def __init__(self, in1_features: Any, in2_features: Any, out_features: Any, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        self.in1_features = self._size("in1_features", in1_features, optional=True)
        self.in2_features = self._size("in2_features", in2_features, optional=True)
        self.out_features = self._size("out_features", out_features)
        self.has_bias = self._flag("bias", bias)

    def infer(self, ctx: RuleContext, x1: Shape, x2: Shape) -> Shape | None:
        if not ctx.rank(x1, tuple(range(1, 64)), "(*, in1_features)"):
            return None
        if not ctx.rank(x2, (len(x1),), "(*, in2_features), with the batch dims of input 0", i=1):
            return None
        for axis, (a, b) in enumerate(zip(x1[:-1], x2[:-1])):
            ctx.equal(a, b, what=f"batch dim {axis} of input 1",
                      expected_desc=lambda: f"{a}, as on {ctx.input_desc(0)}",
                      actual_desc=lambda: f"{ctx.input_desc(1)} has {b}",
                      fix="Bilinear does not broadcast: give both inputs the same batch dims.")
        ctx.match("in1_features", x1[-1], what="in1_features", fix=lambda: f"Use in1_features={x1[-1]}.")
        ctx.match("in2_features", x2[-1], what="in2_features", input_index=1,
                  fix=lambda: f"Use in2_features={x2[-1]}.")
        return (*x1[:-1], ctx.args.out_features)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        init = {"fan_in": a.in1_features}  # torch: U(-1/sqrt(in1_features), 1/sqrt(in1_features)) for both
        p = {"weight": ParamSpec((a.out_features, a.in1_features, a.in2_features), "uniform_fan_in", init)}
        if self.has_bias:
            p["bias"] = ParamSpec((a.out_features,), "uniform_fan_in", init)
        return p

    def forward(self, p: dict[str, np.ndarray], x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        y = np.einsum("...i,oij,...j->...o", x1, p["weight"], x2, optimize=True)
        return (y + p["bias"] if "bias" in p else y).astype(x1.dtype, copy=False)
