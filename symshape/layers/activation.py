"""Elementwise activations, Softmax, Softmin, GLU and Dropout (the identity in eval mode)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import dims
from ..dims import Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer, erf, normalize_dim_index, sigmoid

if TYPE_CHECKING:
    from ..propagate import RuleContext


class _Elementwise(Layer):
    """Shape-preserving layers: (*) -> (*)."""

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        return x


def _number(op: str, name: str, value: object, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{op}: {name} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return float(value)


def _cast(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y.astype(x.dtype, copy=False)


class ReLU(_Elementwise):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0).astype(x.dtype, copy=False)

    has_inplace_form = True

    def apply_inplace(self, y: np.ndarray) -> None:
        """The same, overwriting ``y`` (the interpreter uses it on a fresh convolution output)."""
        np.maximum(y, 0, out=y)


def sigmoid_inplace(y: np.ndarray) -> None:
    """y = 1 / (1 + exp(-y)) for a float array, as 0.5 + 0.5 tanh(y / 2) (several times faster than scipy's
    expit); where y < -7 the result is below 1e-3 and that form loses relative precision, so those
    entries (rare) take exp(y) / (1 + exp(y))."""
    low = y < -7.0
    tail = y[low] if low.any() else None
    y *= 0.5
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    if tail is not None:
        e = np.exp(tail)
        y[low] = e / (1 + e)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind != "f":
            return sigmoid(x)
        y = x.copy()
        sigmoid_inplace(y)
        return y

    has_inplace_form = True

    def apply_inplace(self, y: np.ndarray) -> None:
        """The same, overwriting ``y`` (the interpreter uses it on a fresh output it alone reads)."""
        sigmoid_inplace(y)


class Tanh(_Elementwise):
    """tanh(x)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0, 6).astype(x.dtype, copy=False)


class LeakyReLU(_Elementwise):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x > 0, x, x * self.negative_slope))


class ELU(_Elementwise):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        self.alpha = _number("ELU", "alpha", alpha)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))))


class SELU(_Elementwise):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with torch's alpha and scale."""

    ALPHA, SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, self.SCALE * np.where(x > 0, x, self.ALPHA * np.expm1(np.minimum(x, 0))))


class SiLU(_Elementwise):
    """x * sigmoid(x)."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, x * sigmoid(x))


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, x * np.tanh(np.logaddexp(0, x)))


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, x * np.clip(x + 3, 0, 6) / 6)


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = False):
        pass

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.clip(x + 3, 0, 6) / 6)


class Softplus(_Elementwise):
    """log(1 + exp(beta * x)) / beta, and x where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta = _number("Softplus", "beta", beta)
        self.threshold = _number("Softplus", "threshold", threshold)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        bx = x * self.beta
        return _cast(x, np.where(bx > self.threshold, x, np.logaddexp(0, bx) / self.beta))


class PReLU(Layer):
    """x if x >= 0 else weight * x, one weight per channel (dim 1) or one for all."""

    example = ({"num_parameters": 64}, ("N, C, H, W",))

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None):
        if type(num_parameters) is not int or num_parameters <= 0:
            raise SpecError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = _number("PReLU", "init", init)

    def infer(self, ctx: RuleContext, x: Shape) -> Shape:
        if self.num_parameters > 1:
            channels = x[1] if len(x) >= 2 else 1  # torch: the channel dim is dim 1, else there is one
            ctx.equal(self.num_parameters, channels, what="num_parameters",
                      actual_desc=lambda: f"{ctx.input_desc()} has {channels} channels",
                      fix=lambda: f"Use num_parameters={channels} or 1.")
        return x

    def params(self, a: Any) -> dict[str, ParamSpec]:
        return {"weight": ParamSpec((self.num_parameters,), "constant", {"val": self.init})}

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        w = p["weight"]
        if x.ndim >= 2 and w.size > 1:
            w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
        return _cast(x, np.where(x >= 0, x, w * x))


class GELU(_Elementwise):
    """x * Phi(x) (approximate='none'), or its tanh approximation (approximate='tanh')."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise SpecError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if self.approximate == "tanh":
            return gelu_tanh(x)
        return gelu_erf(x)

    has_inplace_form = True

    def apply_inplace(self, y: np.ndarray) -> None:
        """The same, overwriting ``y`` (the interpreter uses it on a fresh Linear output)."""
        if y.dtype == np.float32 and y.flags.c_contiguous:
            _by_blocks(y, *((_gelu_tanh_block, 1) if self.approximate == "tanh" else (_gelu_block, 3)), out=y)
        else:
            y[...] = self.forward({}, y)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), blockwise for float32 (see gelu_erf)."""
    if x.dtype != np.float32:
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return (0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype, copy=False)
    return _by_blocks(x, _gelu_tanh_block, scratch=1)


def _gelu_tanh_block(x: np.ndarray, out: np.ndarray, s: np.ndarray) -> None:
    """``out = gelu_tanh(x)`` for one block (``out`` may be ``x``), with a scratch array of its size (x^3 of
    a huge |x| is inf and tanh(inf) = 1, as torch)."""
    np.square(x, out=s)
    s *= np.float32(0.044715)
    s += np.float32(1)
    s *= x  # x + 0.044715 x^3
    s *= np.float32(math.sqrt(2.0 / math.pi))
    np.tanh(s, out=s)
    s += np.float32(1)
    s *= np.float32(0.5)
    np.multiply(s, x, out=out)


_ERFC = (0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def gelu_erf(x: np.ndarray) -> np.ndarray:
    """x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2. For float32, as max(x, 0) - |x| Phi(-|x|) with
    erfc(|x| / sqrt 2) = 2 Phi(-|x|) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7) in
    numpy's SIMD loops, about 5x faster than scipy's erf; other dtypes take scipy's erf."""
    if x.dtype != np.float32:
        return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)
    return _by_blocks(x, _gelu_block, scratch=3)


_BLOCK = 65536  # elements per block: the dozen passes over a block stay in the cache (4x faster than whole arrays)


def _by_blocks(x: np.ndarray, kernel: Callable[..., None], scratch: int, out: np.ndarray | None = None) -> np.ndarray:
    """``kernel(x_block, out_block, *scratch_blocks)`` over a float32 array in blocks of _BLOCK elements, into
    ``out`` (contiguous; may be ``x`` if the kernel allows) or a new array; overflow to inf and the NaN of
    inf * 0 are what torch gives too, so they are not warned of."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat) if out is None else out.reshape(-1)
    buffers = np.empty((scratch, min(_BLOCK, flat.size)), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, flat.size, _BLOCK):
            stop = min(start + _BLOCK, flat.size)
            kernel(flat[start:stop], out[start:stop], *buffers[:, :stop - start])
    return out.reshape(x.shape)


_P, *_HALF_A = (np.float32(c) for c in (1 / (_ERFC[0] / math.sqrt(2.0)), *(c / 2 for c in _ERFC[1:])))


def _gelu_block(x: np.ndarray, out: np.ndarray, a: np.ndarray, t: np.ndarray, q: np.ndarray) -> None:
    """``out = gelu(x)`` for one block (``out`` may be ``x``), with scratch arrays of its size, in 19 passes:
    t = 1 / (1 + p |x| / sqrt 2) as c / (c + |x|), the polynomial's coefficients halved (x^2 of a huge |x| is
    inf: exp(-inf) = 0; +-inf gives NaN, as torch)."""
    np.abs(x, out=a)
    np.add(a, _P, out=t)
    np.divide(_P, t, out=t)
    np.multiply(t, _HALF_A[4], out=q)
    for c in reversed(_HALF_A[:4]):
        q += c
        q *= t
    np.multiply(a, np.float32(-0.5), out=t)
    t *= a
    np.exp(t, out=t)
    q *= t  # Phi(-|x|)
    q *= a
    np.maximum(x, np.float32(0), out=out)
    out -= q


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along ``dim`` (torch's legacy choice when dim is None)."""

    example = ({"dim": -1}, ("B, T, D",))

    def __init__(self, dim: int | None = None):
        if dim is not None and type(dim) is not int:
            raise SpecError(f"{type(self).__name__}: dim must be an int or None, got {dim!r}")
        self.dim = dim

    def axis(self, rank: int) -> int | None:
        if self.dim is None:  # torch.nn.functional._get_softmax_dim
            return 0 if rank in (0, 1, 3) else 1
        return normalize_dim_index(self.dim, max(rank, 1))

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        if self.axis(len(x)) is None:
            ctx.conflict("dim", f"{self.dim}", f"{ctx.input_desc()} has rank {len(x)}",
                         f"Use a dim between {-len(x)} and {len(x) - 1}.")
            return None
        return x

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if x.ndim == 0:
            return np.ones_like(x)
        axis = self.axis(x.ndim)
        e = x - x.max(axis=axis, keepdims=True)  # one new array, then in place
        e = e.astype(np.result_type(e, np.float16), copy=False)  # integers: float64, as np.exp gives
        np.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        if x.ndim == 0:
            return np.zeros_like(x)
        axis = self.axis(x.ndim)
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Dropout(_Elementwise):
    """Random zeroing in training; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise SpecError(f"{type(self).__name__}: p must be a probability between 0 and 1, got {p!r}")
        self.p = float(p)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return x


class Dropout1d(Dropout):
    """Zeroes whole channels in training; the identity in eval mode. (N, C, L) or (C, L)."""

    example = ({}, ("N, C, L",))

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return x if ctx.rank(x, (2, 3), "(N, C, L) or (C, L)") else None


class Dropout2d(Dropout):
    """Zeroes whole channels in training; the identity in eval mode. (N, C, H, W) or (C, H, W)."""


class Dropout3d(Dropout):
    """Zeroes whole channels in training; the identity in eval mode. (N, C, D, H, W) or (C, D, H, W)."""

    example = ({}, ("N, C, D, H, W",))


class AlphaDropout(Dropout):
    """Dropout that keeps SELU's mean and variance in training; the identity in eval mode."""


class FeatureAlphaDropout(Dropout):
    """AlphaDropout of whole channels in training; the identity in eval mode."""


class Hardtanh(_Elementwise):
    """min(max(x, min_val), max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        op = type(self).__name__
        self.min_val = _number(op, "min_val", min_val if min_value is None else min_value)
        self.max_val = _number(op, "max_val", max_val if max_value is None else max_value)
        if self.max_val <= self.min_val:
            raise SpecError(f"{op}: max_val must be greater than min_val, got {self.min_val} and {self.max_val}")

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.clip(x, self.min_val, self.max_val))


class Softsign(_Elementwise):
    """x / (1 + |x|)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, x / (1 + np.abs(x)))


class LogSigmoid(_Elementwise):
    """log(sigmoid(x)), computed stably as -softplus(-x)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, -np.logaddexp(0, -x))


class Tanhshrink(_Elementwise):
    """x - tanh(x)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, x - np.tanh(x))


class Softshrink(_Elementwise):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""

    def __init__(self, lambd: float = 0.5):
        self.lambd = _number(type(self).__name__, "lambd", lambd, minimum=0)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x > self.lambd, x - self.lambd, np.where(x < -self.lambd, x + self.lambd, 0)))


class Hardshrink(_Elementwise):
    """x if |x| > lambd, else 0."""

    def __init__(self, lambd: float = 0.5):
        self.lambd = _number(type(self).__name__, "lambd", lambd)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(np.abs(x) > self.lambd, x, 0))


class Threshold(_Elementwise):
    """x if x > threshold, else value."""

    example = ({"threshold": 0.1, "value": 0.0}, ("N, C, H, W",))

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        self.threshold = _number("Threshold", "threshold", threshold)
        self.value = _number("Threshold", "value", value)

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x > self.threshold, x, self.value))


class CELU(_Elementwise):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        self.alpha = _number("CELU", "alpha", alpha)
        if self.alpha == 0:
            raise SpecError("CELU: alpha must not be 0")

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0) / self.alpha)))


class RReLU(_Elementwise):
    """x if x >= 0 else a * x; a is random in training, (lower + upper) / 2 in eval mode."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        self.lower = _number("RReLU", "lower", lower)
        self.upper = _number("RReLU", "upper", upper)
        if self.upper < self.lower:
            raise SpecError(f"RReLU: upper must be at least lower, got {self.lower} and {self.upper}")

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return _cast(x, np.where(x >= 0, x, x * ((self.lower + self.upper) / 2)))


class Softmin(Softmax):
    """softmax(-x) along ``dim`` (torch's legacy choice when dim is None)."""

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        return super().forward(p, -x)


class Softmax2d(Layer):
    """(N, C, H, W) or (C, H, W): softmax over the channels C at each position."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        return x if ctx.rank(x, (3, 4), "(N, C, H, W) or (C, H, W)") else None

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        shifted = x - x.max(axis=-3, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-3, keepdims=True)


class GLU(Layer):
    """a * sigmoid(b), a and b the two halves of x along ``dim``: that dim is halved (it must be even)."""

    example = ({"dim": -1}, ("B, T, 2*D",))

    def __init__(self, dim: int = -1):
        if type(dim) is not int:
            raise SpecError(f"GLU: dim must be an int, got {dim!r}")
        self.dim = dim

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        axis = normalize_dim_index(self.dim, len(x)) if x else None
        if axis is None:
            ctx.conflict("dim", f"{self.dim}", f"{ctx.input_desc()} has rank {len(x)}",
                         f"Use a dim between {-len(x)} and {len(x) - 1}." if x else "GLU needs a dim to halve.")
            return None
        ctx.divisible(x[axis], 2, what=f"the size of dim {axis}",
                      actual_desc=lambda: f"GLU splits {ctx.input_desc()} in two halves along it",
                      fix="Use an even size.")
        return (*x[:axis], dims.floordiv(x[axis], 2), *x[axis + 1:])

    def forward(self, p: dict, x: np.ndarray) -> np.ndarray:
        a, b = np.split(x, 2, axis=self.dim)
        return _cast(x, a * sigmoid(b))
