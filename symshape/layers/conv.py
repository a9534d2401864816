"""Convolutions: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their Lazy variants.

Output length per spatial dim: ``floor((L + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``;
``padding="same"`` keeps ``L`` (stride 1 only), ``"valid"`` is padding 0. Transposed:
``(L - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``, with
``output_padding < max(stride, dilation)``.
"""

from __future__ import annotations

import math
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec
from .base import Layer, nonnegative_tuple, positive_tuple

if TYPE_CHECKING:
    from ..propagate import RuleContext

_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _ConvNd(Layer):
    n: int = 0
    fresh_output = True
    size_args = ("in_channels", "out_channels")
    example = ({"in_channels": None, "out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 1},
               ("N, C, H, W",))

    def __init__(self, in_channels: Any, out_channels: Any, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        op, n = type(self).__name__, self.n
        self.in_channels = self._size("in_channels", in_channels, optional=True)
        self.out_channels = self._size("out_channels", out_channels)
        self.kernel_size = positive_tuple(kernel_size, n, "kernel_size", op)
        self.stride = positive_tuple(stride, n, "stride", op)
        self.dilation = positive_tuple(dilation, n, "dilation", op)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise SpecError(f"{op}: padding must be 'same', 'valid', an int or {n} ints, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise SpecError(f"{op}: padding='same' is not supported for strided convolutions "
                                f"(stride={stride!r}); use an explicit padding")
            self.padding: str | tuple[int, ...] = padding
        else:
            self.padding = nonnegative_tuple(padding, n, "padding", op)
        if type(groups) is not int or groups <= 0:
            raise SpecError(f"{op}: groups must be a positive int, got {groups!r}")
        if padding_mode not in _PAD_MODES:
            raise SpecError(f"{op}: padding_mode must be one of {', '.join(_PAD_MODES)}, got {padding_mode!r}")
        for name in ("in_channels", "out_channels"):  # torch's constructor checks both
            if type(getattr(self, name)) is int and getattr(self, name) % groups:
                raise SpecError(f"{op}: {name} ({getattr(self, name)}) must be divisible by groups ({groups})")
        self.groups = groups
        self.has_bias = self._flag("bias", bias)
        self.padding_mode = padding_mode

    def pad_pairs(self) -> list[tuple[int, int]]:
        """(before, after) padding per spatial dim, torch's split for 'same'."""
        if self.padding == "valid":
            return [(0, 0)] * self.n
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return [(t // 2, t - t // 2) for t in totals]
        return [(p, p) for p in self.padding]

    @cached_property
    def _sweeps(self) -> tuple[tuple[int, int, int], ...]:
        """Per spatial dim: (total padding less the kernel's reach, stride, least input size its padding mode
        allows), so that a concrete size L gives (L + shift) // stride + 1 outputs, valid when L + shift >= 0."""
        least = {"reflect": 1, "circular": 0}.get(self.padding_mode)
        sweeps = zip(self.pad_pairs(), self.kernel_size, self.stride, self.dilation)
        return tuple((before + after - d * (k - 1) - 1, s, max(before, after) + least if least is not None else 0)
                     for (before, after), k, s, d in sweeps)

    def _concrete_sizes(self, lengths: Shape) -> list[int] | None:
        """The output's spatial sizes when the input's are concrete and valid (no condition to state), else None."""
        out = []
        for length, (shift, s, least) in zip(lengths, self._sweeps):
            if type(length) is not int or length + shift < 0 or length < least:
                return None
            out.append((length + shift) // s + 1)
        return out

    def fuses_affine(self, out_shape: Shape) -> bool:
        """A following BatchNorm (and ReLU) folds into the convolution when its output is batched: the
        norm's channel axis 1 is then the convolution's output channels (not for transposed ones)."""
        return not isinstance(self, _ConvTransposeNd) and len(out_shape) == self.n + 2

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), self.layout):
            return None
        a = ctx.args
        c = x[-n - 1]
        ctx.match("in_channels", c, what="in_channels", fix=lambda: f"Use in_channels={c} or "
                  f"Lazy{self.op.removeprefix('Lazy')}({a.out_channels}, {self.kernel_size[0]}).")
        if self.groups != 1:
            for arg in ("in_channels", "out_channels"):
                ctx.divisible(getattr(a, arg), self.groups, what=arg, actual_desc=lambda: f"groups is {self.groups}",
                              fix=f"{arg} must be divisible by groups.")
        concrete = self._concrete_sizes(x[len(x) - n:])
        if concrete is not None:
            return (*x[: len(x) - n - 1], a.out_channels, *concrete)
        spatial = []
        for i, ((before, after), k, s, d) in enumerate(zip(self.pad_pairs(), self.kernel_size, self.stride,
                                                            self.dilation)):
            axis = len(x) - n + i
            length = x[axis]
            widest = max(before, after)
            if self.padding_mode in ("reflect", "circular") and widest:
                # torch: reflection needs padding < size; circular padding may wrap around at most once
                least = widest + 1 if self.padding_mode == "reflect" else widest
                ctx.at_least(length, least, what=f"the input size on dim {axis}",
                             actual_desc=lambda: f"padding_mode={self.padding_mode!r} pads {widest} there",
                             fix=f"Use inputs of at least {least} there, less padding or padding_mode='zeros'.")
            out = dims.conv_out(length, k, s, before + after, d)
            reach = d * (k - 1) + 1
            ctx.at_least(out, 1, what=f"the output size on dim {axis}",
                         actual_desc=lambda: f"the kernel spans {reach} and {ctx.input_desc()} has "
                                     f"{length} + padding {before + after} on that dim",
                         fix="Use a larger input, more padding or a smaller kernel/dilation.")
            spatial.append(out)
        return (*x[: len(x) - n - 1], a.out_channels, *spatial)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        per_group = dims.floordiv(a.in_channels, self.groups)
        fan_in = per_group * math.prod(self.kernel_size)
        p = {"weight": ParamSpec((a.out_channels, per_group, *self.kernel_size), "uniform_fan_in",
                                 {"fan_in": fan_in})}
        if self.has_bias:
            p["bias"] = ParamSpec((a.out_channels,), "uniform_fan_in", {"fan_in": fan_in})
        return p

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """Each output element takes in_channels/groups * kernel multiply-accumulates (bias adds not counted)."""
        (out,) = outputs
        return dims.prod([*out, *params["weight"].shape[1:]])

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray, affine: tuple | None = None,
                activation: Any = None) -> np.ndarray:
        """The convolution; ``affine`` (scale, shift) per output channel and an in-place ``activation``
        are folded in when the interpreter fuses a following BatchNorm and ReLU."""
        unbatched = x.ndim == self.n + 1
        if unbatched:
            x = x[None]
        bias, weight = p.get("bias"), p["weight"]
        channel = (-1,) + (1,) * self.n
        scale_output = False
        if affine is not None:  # (conv + bias) * scale + shift: the scale on the weights or on the output,
            scale, shift = affine  # whichever has fewer elements
            bias = shift if bias is None else bias * scale + shift
            outputs = x.shape[0] * weight.shape[0] * math.prod(x.shape[2:]) // math.prod(self.stride)  # about
            scale_output = weight.size > outputs
            if not scale_output:
                weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1)).astype(weight.dtype, copy=False)
        reshaped_scale = scale.reshape(channel) if scale_output else None
        scaled_bias = bias.reshape(channel) if bias is not None and scale_output else None

        def epilogue(y: np.ndarray) -> None:
            if reshaped_scale is not None:
                y *= reshaped_scale
            if scaled_bias is not None:
                y += scaled_bias
            if activation is not None:
                activation(y)

        y = convolve(x, weight, self.stride, self.pad_pairs(), self.dilation, self.groups,
                     _PAD_MODES[self.padding_mode], None if scale_output else bias, epilogue)
        return y[0] if unbatched else y

    def layout(self) -> str:
        return "(N, C, " + ", ".join("LHW"[-self.n:] if self.n < 3 else "DHW") + ") or without N"


def pad_constant(x: np.ndarray, pads: list[tuple[int, int]], value: float = 0.0) -> np.ndarray:
    """``x`` padded on its last ``len(pads)`` dims with ``value`` (np.pad's constant mode, faster)."""
    lead = x.ndim - len(pads)
    out = np.full(x.shape[:lead] + tuple(n + b + e for n, (b, e) in zip(x.shape[lead:], pads)), value, dtype=x.dtype)
    out[(slice(None),) * lead + tuple(slice(b, b + n) for n, (b, _) in zip(x.shape[lead:], pads))] = x
    return out


def convolve(x: np.ndarray, w: np.ndarray, stride: tuple[int, ...], pads: list[tuple[int, int]],
             dilation: tuple[int, ...], groups: int, pad_mode: str = "constant", bias: np.ndarray | None = None,
             epilogue: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """N-d cross-correlation as torch computes it: (N, C, *L) * (O, C/groups, *k) + bias (O,) -> (N, O, *L'),
    a contiguous array; ``epilogue`` (per-channel scale, activation) runs on it in place first.

    im2col into (N, groups, C/groups * prod(k), positions), then one batched matmul whose result is
    already in (N, O, *L') order; 1x1 kernels skip the im2col copy, stride 1 takes ``_flat_convolve``.
    """
    n = w.ndim - 2
    if all(s == 1 for s in stride) and any(k > 1 for k in w.shape[2:]) and _flat_pays(x, w, pads, dilation, groups):
        return _flat_convolve(x, w, pads, dilation, groups, pad_mode, bias, epilogue)
    if any(b or e for b, e in pads):
        x = pad_constant(x, pads) if pad_mode == "constant" else np.pad(x, [(0, 0), (0, 0), *pads], mode=pad_mode)
    batch, channels = x.shape[:2]
    kernel = w.shape[2:]
    out_channels = w.shape[0]
    g = groups
    if all(k == 1 for k in kernel):
        sampled = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
        out_spatial = sampled.shape[2:]
        patches = sampled.reshape(batch, g, channels // g, *out_spatial)
        copied = any(s > 1 for s in stride)  # a stride-1 input is its own im2col matrix
    else:
        reach = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        windows = sliding_window_view(x, reach, axis=tuple(range(2, 2 + n)))
        index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) \
            + tuple(slice(None, None, d) for d in dilation)
        windows = windows[index]  # (N, C, *out, *k)
        out_spatial = windows.shape[2:2 + n]
        order = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))  # (N, C, *k, *out)
        patches = windows.transpose(order).reshape(batch, g, channels // g, *kernel, *out_spatial)
        copied = True
    y = _im2col_matmul(w, patches, n, bias, copied)  # (N, g, O/g, positions)
    y = y.reshape(batch, out_channels, *out_spatial)
    if epilogue is not None:
        epilogue(y)
    return y


def _im2col_matmul(w: np.ndarray, patches: np.ndarray, n: int, bias: np.ndarray | None, copied: bool) -> np.ndarray:
    """(O, C/g, *k) weights times ``patches`` (N, g, C/g, *k, *P), its last ``n`` dims the positions, plus
    ``bias``: (N, g, O/g, prod(P)), the patches copied into an im2col matrix unless they are one already
    (``copied`` False). The bias rides in the matmul (a row of ones in the matrix, a column of biases in
    the weights) instead of a pass over its result when the weights are no larger than the output and
    the matrix is copied anyway, or the patches are under half the output."""
    batch, g = patches.shape[:2]
    rows, positions = math.prod(patches.shape[2:-n]), math.prod(patches.shape[-n:])
    out_channels = w.shape[0]
    outputs = batch * out_channels * positions
    if bias is None or w.size > outputs or not (copied or 2 * patches.size < outputs):
        cols = patches.reshape(batch, g, rows, positions)
        y = np.matmul(w.reshape(g, out_channels // g, rows), cols)
        if bias is not None:
            y += bias.reshape(g, out_channels // g, 1)
        return y
    cols = np.empty((batch, g, rows + 1, positions), dtype=patches.dtype)
    cols[:, :, :rows].reshape(patches.shape)[...] = patches  # splitting axes: a view of cols
    cols[:, :, rows] = 1
    weights = np.empty((g, out_channels // g, rows + 1), dtype=w.dtype)
    weights[..., :rows] = w.reshape(g, out_channels // g, rows)
    weights[..., rows] = bias.reshape(g, out_channels // g)
    return np.matmul(weights, cols)


def _flat_pays(x: np.ndarray, w: np.ndarray, pads: list[tuple[int, int]], dilation: tuple[int, ...],
               groups: int) -> bool:
    """Whether ``_flat_convolve`` beats the window im2col: its cheaper copy against the extra matmul columns
    (the padded inner extents over the output's), which cost in proportion to the output channels per group.
    Measured on ResNet-50's 3x3 stages: ahead at 56x56x64, even at 28x28x128, behind at 14x14 and 7x7."""
    inner = x.shape[3:]
    padded = [size + b + e for size, (b, e) in zip(inner, pads[1:])]
    out = [p - d * (k - 1) for p, d, k in zip(padded, dilation[1:], w.shape[3:])]
    waste = math.prod(padded) / max(math.prod(out), 1) - 1
    return waste * (w.shape[0] // groups) <= 8


def _flat_convolve(x: np.ndarray, w: np.ndarray, pads: list[tuple[int, int]], dilation: tuple[int, ...],
                   groups: int, pad_mode: str, bias: np.ndarray | None,
                   epilogue: Callable[[np.ndarray], None] | None) -> np.ndarray:
    """Stride-1 cross-correlation on the padded input flattened per channel: kernel offset k reads the
    contiguous run starting at its flat offset, so the im2col matrix (N, C * prod(k), o_1 * P_2 * ... * P_n)
    is a strided view copied in long runs. Its positions span the padded extents P_i of the inner dims;
    the matmul computes P_i / L'_i more columns, which ``epilogue`` runs over too (contiguous elementwise
    work is several times faster than on the strided valid part) before that part is copied out."""
    n = w.ndim - 2
    batch, channels = x.shape[:2]
    padded = tuple(size + b + e for size, (b, e) in zip(x.shape[2:], pads))
    kernel = w.shape[2:]
    out = tuple(p - d * (k - 1) for p, d, k in zip(padded, dilation, kernel))
    row = [math.prod(padded[i + 1:]) for i in range(n)]  # elements per step along each spatial dim
    span = out[0] * row[0]  # the columns: o_1 rows of the padded inner extents
    tail = sum(d * (k - 1) * r for d, k, r in zip(dilation[1:], kernel[1:], row[1:]))  # last offset's overrun
    flat = np.zeros((batch, channels, math.prod(padded) + tail), dtype=x.dtype)
    grid = flat[..., :math.prod(padded)].reshape(batch, channels, *padded)
    if pad_mode == "constant":
        grid[(slice(None), slice(None)) + tuple(slice(b, b + s) for s, (b, _) in zip(x.shape[2:], pads))] = x
    else:
        grid[...] = np.pad(x, [(0, 0), (0, 0), *pads], mode=pad_mode)
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat, (batch, channels, *kernel, span),
        (flat.strides[0], flat.strides[1], *(d * r * item for d, r in zip(dilation, row)), item), writeable=False)
    y = _im2col_matmul(w, view.reshape(batch, groups, channels // groups, *kernel, span), 1, bias, True)
    y = y.reshape(batch, w.shape[0], *out[:1], *padded[1:])  # (N, O, o_1, P_2, ..., P_n)
    if epilogue is not None:
        epilogue(y)
    return np.ascontiguousarray(y[(slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in out[1:])])


class Conv1d(_ConvNd):
    """(N, C_in, L) -> (N, C_out, L_out)."""

    n = 1
    example = (_ConvNd.example[0], ("N, C, L",))


class Conv2d(_ConvNd):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    n = 2


class Conv3d(_ConvNd):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)."""

    n = 3
    example = (_ConvNd.example[0], ("N, C, D, H, W",))


class _ConvTransposeNd(_ConvNd):
    example = ({"in_channels": None, "out_channels": 16, "kernel_size": 2, "stride": 2}, ("N, C, H, W",))

    def __init__(self, in_channels: Any, out_channels: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        op = type(self).__name__
        if isinstance(padding, str):
            raise SpecError(f"{op}: padding must be an int or {self.n} ints (no 'same'/'valid'), got {padding!r}")
        if padding_mode != "zeros":
            raise SpecError(f"{op}: only padding_mode='zeros' is supported for transposed convolutions, "
                            f"got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.output_padding = nonnegative_tuple(output_padding, self.n, "output_padding", op)
        for op_, s_, d_ in zip(self.output_padding, self.stride, self.dilation):
            if op_ >= max(s_, d_):
                raise SpecError(f"{op}: output_padding {op_} must be smaller than stride or dilation "
                                f"(stride {s_}, dilation {d_})")

    def infer(self, ctx: RuleContext, x: Shape) -> Shape | None:
        n = self.n
        if not ctx.rank(x, (n + 1, n + 2), self.layout):
            return None
        a = ctx.args
        c = x[-n - 1]
        ctx.match("in_channels", c, what="in_channels", fix=lambda: f"Use in_channels={c} or "
                  f"Lazy{self.op.removeprefix('Lazy')}({a.out_channels}, {self.kernel_size[0]}).")
        for arg in ("in_channels", "out_channels"):
            ctx.divisible(getattr(a, arg), self.groups, what=arg, actual_desc=lambda: f"groups is {self.groups}",
                          fix=lambda: f"{arg} must be divisible by groups.")
        spatial = []
        for i, (k, s, p, d, extra) in enumerate(zip(self.kernel_size, self.stride, self.padding, self.dilation,
                                                      self.output_padding)):
            axis = len(x) - n + i
            out = (x[axis] - 1) * s - 2 * p + d * (k - 1) + extra + 1
            ctx.at_least(out, 1, what=f"the output size on dim {axis}",
                         actual_desc=lambda: f"padding {p} removes more than the transposed kernel adds to {x[axis]}",
                         fix="Use less padding.")
            spatial.append(out)
        return (*x[: len(x) - n - 1], a.out_channels, *spatial)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        per_group = dims.floordiv(a.out_channels, self.groups)
        fan_in = per_group * math.prod(self.kernel_size)  # torch computes it from weight.size(1)
        p = {"weight": ParamSpec((a.in_channels, per_group, *self.kernel_size), "uniform_fan_in",
                                 {"fan_in": fan_in})}
        if self.has_bias:
            p["bias"] = ParamSpec((a.out_channels,), "uniform_fan_in", {"fan_in": fan_in})
        return p

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """Each input element meets every weight of its group: batch * input positions * weight elements
        (torch.utils.flop_counter's rule for transposed convolutions; bias adds not counted)."""
        x = inputs[0]
        return dims.prod([*x[: len(x) - self.n - 1], *x[len(x) - self.n:], *params["weight"].shape])

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray, affine: tuple | None = None,
                activation: Any = None) -> np.ndarray:
        """A stride-1 correlation of the zero-stuffed input with the flipped, transposed kernel."""
        if affine is not None or activation is not None:
            raise ValueError("transposed convolutions are not fused")
        n, g = self.n, self.groups
        unbatched = x.ndim == n + 1
        if unbatched:
            x = x[None]
        w = p["weight"]
        c_in, og = w.shape[:2]
        kernel = w.shape[2:]
        stuffed_shape = x.shape[:2] + tuple((length - 1) * s + 1 for length, s in zip(x.shape[2:], self.stride))
        stuffed = np.zeros(stuffed_shape, dtype=x.dtype)
        stuffed[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.stride)] = x
        pads = []
        for k, p_, d, extra in zip(kernel, self.padding, self.dilation, self.output_padding):
            edge = d * (k - 1) - p_
            pads.append((edge, edge + extra))
        crop = tuple(slice(max(-b, 0), None if e >= 0 else e) for b, e in pads)
        stuffed = stuffed[(slice(None), slice(None)) + crop]
        pads = [(max(b, 0), max(e, 0)) for b, e in pads]
        flipped = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
        flipped = flipped.reshape(g, c_in // g, og, *kernel).swapaxes(1, 2).reshape(g * og, c_in // g, *kernel)
        y = convolve(stuffed, np.ascontiguousarray(flipped), (1,) * n, pads, self.dilation, g, bias=p.get("bias"))
        return y[0] if unbatched else y


class ConvTranspose1d(_ConvTransposeNd):
    """(N, C_in, L) -> (N, C_out, L_out)."""

    n = 1
    example = (_ConvTransposeNd.example[0], ("N, C, L",))


class ConvTranspose2d(_ConvTransposeNd):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    n = 2


class ConvTranspose3d(_ConvTransposeNd):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)."""

    n = 3
    example = (_ConvTransposeNd.example[0], ("N, C, D, H, W",))


def _lazy_conv(base: type) -> type:
    """The Lazy* variant of a convolution: torch's signature without in_channels."""

    def __init__(self, out_channels: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        base.__init__(self, None, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)

    return _subclass(base, __init__)


def _lazy_transposed(base: type) -> type:
    """The Lazy* variant of a transposed convolution: torch's signature without in_channels."""

    def __init__(self, out_channels: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        base.__init__(self, None, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                      dilation, padding_mode)

    return _subclass(base, __init__)


def _subclass(base: type, init: Any) -> type:
    doc = f"{base.__name__} with in_channels inferred from the input."
    return type(f"Lazy{base.__name__}", (base,), {"__init__": init, "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv(Conv1d)
LazyConv2d = _lazy_conv(Conv2d)
LazyConv3d = _lazy_conv(Conv3d)
LazyConvTranspose1d = _lazy_transposed(ConvTranspose1d)
LazyConvTranspose2d = _lazy_transposed(ConvTranspose2d)
LazyConvTranspose3d = _lazy_transposed(ConvTranspose3d)
