"""Padding layers: Zero/Constant/Reflection/Replication/CircularPad1d/2d/3d.

``padding`` is an int or ``(left, right[, top, bottom[, front, back]])``, last dim first; each padded
dim grows by its two paddings (negative paddings crop). Reflection needs each padding below the
input size, circular at most the input size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..dims import Shape
from ..errors import SpecError
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext

_LAYOUTS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}


class _PadNd(Layer):
    n: ClassVar[int] = 0
    mode: ClassVar[str] = ""  # numpy's np.pad mode

    def _padding(self, padding: Any) -> None:
        op, n = type(self).__name__, self.n
        items = tuple(padding) if isinstance(padding, (list, tuple)) else (padding,) * (2 * n)
        if len(items) != 2 * n or not all(type(v) is int for v in items):
            raise SpecError(f"{op}: padding must be an int or {2 * n} ints (left, right, ...; last dim first), "
                            f"got {padding!r}")
        self.padding = items

    def _padding_pairs(self, padding: Any) -> None:
        """Reflect, replicate and circular: torch keeps a tuple as given and F.pad takes 2, 4 or 6 ints
        whatever the class (ReflectionPad3d((1, 2)) pads the last dim of a 2-d or 3-d input)."""
        if isinstance(padding, (list, tuple)) and len(padding) in (2, 4, 6) and all(type(v) is int for v in padding):
            self.padding, self.n = tuple(padding), len(padding) // 2
        else:
            self._padding(padding)

    def pairs(self, rank: int) -> list[tuple[int, int]]:
        """(before, after) per dim of a rank-``rank`` input, first dim first."""
        padded = [(self.padding[2 * i], self.padding[2 * i + 1]) for i in range(self.n)][::-1]
        return [(0, 0)] * (rank - self.n) + padded

    def ranks(self) -> tuple[tuple[int, ...], str]:
        """The input ranks taken, and their layout for messages."""
        return (self.n + 1, self.n + 2), _LAYOUTS[self.n]

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if not ctx.rank(x, *self.ranks()):
            return None
        out = list(x)
        for axis, (before, after) in enumerate(self.pairs(len(x))):
            if (before, after) == (0, 0):
                continue
            self.check_size(ctx, x[axis], axis, before, after)
            out[axis] = x[axis] + before + after
            ctx.at_least(out[axis], 1, what=f"the output size on dim {axis}",
                         actual_desc=lambda: f"{ctx.input_desc()} has {x[axis]} on that dim and the padding "
                                     f"is ({before}, {after})",
                         fix="Use a smaller negative padding.")
        return tuple(out)

    def check_size(self, ctx: RuleContext, length: Any, axis: int, before: int, after: int) -> None:
        """Mode-specific limits of the padding against the input size."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        pairs = self.pairs(x.ndim)
        y = self.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs])
        crop = tuple(slice(max(-b, 0), y.shape[i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))
        return np.ascontiguousarray(y[crop])

    def pad(self, x: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
        return np.pad(x, pairs, mode=self.mode)


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding: Any, value: float | None):
        if isinstance(padding, (list, tuple)) and len(padding) % 2 == 0 and all(type(v) is int for v in padding):
            self.padding = tuple(padding)  # torch passes any even number of ints to F.pad: pairs from the last dim
            self.n = len(padding) // 2
        elif type(padding) is int:
            self._padding(padding)
        else:
            raise SpecError(f"{type(self).__name__}: padding must be an int or an even number of ints (left, right, "
                            f"...; last dim first), got {padding!r}")
        if value is None:  # F.pad fills with 0
            value = 0.0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{type(self).__name__}: value must be a number, got {value!r}")
        self.value = float(value)

    def ranks(self) -> tuple[tuple[int, ...], str]:
        """F.pad with a constant takes any rank with enough dims for its padding pairs."""
        n = type(self).n
        return tuple(range(self.n, 64)), "(*, " + ", ".join(("L",) if n == 1 else "DHW"[3 - n:]) + ")"

    def pad(self, x: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
        return np.pad(x, pairs, mode="constant", constant_values=np.asarray(self.value, dtype=x.dtype))


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)


class _ReflectionPadNd(_PadNd):
    mode = "reflect"

    def __init__(self, padding: Any):
        self._padding_pairs(padding)

    def check_size(self, ctx: RuleContext, length: Any, axis: int, before: int, after: int) -> None:
        widest = max(before, after)
        if widest > 0:
            ctx.at_least(length, widest + 1, what=f"the input size on dim {axis}",
                         actual_desc=lambda: f"reflection padding {widest} needs an input size above it",
                         fix="Use a smaller padding or ReplicationPad.")


class _ReplicationPadNd(_PadNd):
    mode = "edge"

    def __init__(self, padding: Any):
        self._padding_pairs(padding)


class _CircularPadNd(_PadNd):
    mode = "wrap"

    def __init__(self, padding: Any):
        self._padding_pairs(padding)
        if not self.ranks()[0]:
            raise SpecError(f"{type(self).__name__}: {len(self.padding)} padding ints fit no input rank it takes "
                            f"({_LAYOUTS[type(self).n]}): F.pad pads len(padding) // 2 last dims of an input of "
                            f"that many dims plus 1 or 2")

    def ranks(self) -> tuple[tuple[int, ...], str]:
        """The class's ranks that F.pad also takes for this many padding ints (CircularPad2d((1, 2)): 3-d)."""
        n = type(self).n
        return tuple(r for r in (n + 1, n + 2) if r in (self.n + 1, self.n + 2)), _LAYOUTS[n]

    def check_size(self, ctx: RuleContext, length: Any, axis: int, before: int, after: int) -> None:
        widest, kept = max(before, after), length + min(before, 0) + min(after, 0)
        if widest > 0:
            ctx.at_least(kept, widest, what=f"the input size on dim {axis} after cropping",
                         actual_desc=lambda: f"circular padding {widest} wraps around at most once",
                         fix="Use a padding of at most the input size.")

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        """torch crops first (negative paddings), then wraps the cropped input around."""
        pairs = self.pairs(x.ndim)
        x = x[tuple(slice(max(-b, 0), x.shape[i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))]
        return np.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], mode="wrap")


class ZeroPad1d(_ZeroPadNd):
    """(*, L) -> (*, L + left + right); zero-filled."""

    n = 1
    example = ({"padding": 1}, ("N, C, L",))


class ZeroPad2d(_ZeroPadNd):
    """(*, H, W) -> (*, H + top + bottom, W + left + right); zero-filled."""

    n = 2
    example = ({"padding": 1}, ("N, C, H, W",))


class ZeroPad3d(_ZeroPadNd):
    """(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right); zero-filled."""

    n = 3
    example = ({"padding": 1}, ("N, C, D, H, W",))


class ConstantPad1d(_ConstantPadNd):
    """(*, L) -> (*, L + left + right); filled with value."""

    n = 1
    example = ({"padding": 1, "value": 0.5}, ("N, C, L",))


class ConstantPad2d(_ConstantPadNd):
    """(*, H, W) -> (*, H + top + bottom, W + left + right); filled with value."""

    n = 2
    example = ({"padding": 1, "value": 0.5}, ("N, C, H, W",))


class ConstantPad3d(_ConstantPadNd):
    """(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right); filled with value."""

    n = 3
    example = ({"padding": 1, "value": 0.5}, ("N, C, D, H, W",))


class ReflectionPad1d(_ReflectionPadNd):
    """(*, L) -> (*, L + left + right); reflected."""

    n = 1
    example = ({"padding": 2}, ("N, C, L",))


class ReflectionPad2d(_ReflectionPadNd):
    """(*, H, W) -> (*, H + top + bottom, W + left + right); reflected."""

    n = 2
    example = ({"padding": 2}, ("N, C, H, W",))


class ReflectionPad3d(_ReflectionPadNd):
    """(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right); reflected."""

    n = 3
    example = ({"padding": 2}, ("N, C, D, H, W",))


class ReplicationPad1d(_ReplicationPadNd):
    """(*, L) -> (*, L + left + right); edge repeated."""

    n = 1
    example = ({"padding": 2}, ("N, C, L",))


class ReplicationPad2d(_ReplicationPadNd):
    """(*, H, W) -> (*, H + top + bottom, W + left + right); edge repeated."""

    n = 2
    example = ({"padding": 2}, ("N, C, H, W",))


class ReplicationPad3d(_ReplicationPadNd):
    """(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right); edge repeated."""

    n = 3
    example = ({"padding": 2}, ("N, C, D, H, W",))


class CircularPad1d(_CircularPadNd):
    """(*, L) -> (*, L + left + right); wrapped around."""

    n = 1
    example = ({"padding": 2}, ("N, C, L",))


class CircularPad2d(_CircularPadNd):
    """(*, H, W) -> (*, H + top + bottom, W + left + right); wrapped around."""

    n = 2
    example = ({"padding": 2}, ("N, C, H, W",))


class CircularPad3d(_CircularPadNd):
    """(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right); wrapped around."""

    n = 3
    example = ({"padding": 2}, ("N, C, D, H, W",))
