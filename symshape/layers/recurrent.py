"""Recurrent layers: RNN, LSTM and GRU (num_layers, bidirectional, batch_first; proj_size for LSTM),
and their one-step cells RNNCell, LSTMCell and GRUCell.

input (L, N, H_in), or (N, L, H_in) with batch_first, or (L, H_in) unbatched ->
output (L, N, D*H_out), h_n (D*num_layers, N, H_out) [, c_n (D*num_layers, N, hidden_size)],
where D = 2 if bidirectional else 1 and H_out = proj_size or hidden_size.

Cells: input (N, H_in) or (H_in) [, h (N, H)] [, c (N, H) for LSTMCell] -> h' [, c'] (N, H).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dims
from ..dims import Dim, Shape
from ..errors import SpecError
from ..params import ParamSpec
from .activation import sigmoid_inplace
from .base import Layer

if TYPE_CHECKING:
    from ..propagate import RuleContext


def check_states(ctx: RuleContext, states: tuple[Shape, ...], expected: list[Shape]) -> None:
    """The initial states given (inputs 1, 2, ...) have the expected shapes."""
    for i, (state, want) in enumerate(zip(states, expected), start=1):
        if len(state) != len(want):
            ctx.conflict(f"the rank of initial state {i}", f"{len(want)} {dims.format_shape(want)}",
                         f"{ctx.input_desc(i)} has rank {len(state)}")
            continue
        for axis, (w, s) in enumerate(zip(want, state)):
            ctx.equal(w, s, what=f"dim {axis} of initial state {i}",
                      actual_desc=lambda: f"{ctx.input_desc(i)} has {s}",
                      expected_desc=lambda: f"{w} (expected {dims.format_shape(want)})")


def row_blocks(weight: np.ndarray) -> np.ndarray:
    """A (G, K) weight as (n, G / n, K) row blocks of at most 64k entries where G has such a divisor: for a
    few batch rows one matmul per block, each staying in cache, is several times faster than one matmul."""
    rows, k = weight.shape
    size = next((r for r in range(min(rows, max(1, _BLOCK // max(k, 1))), 0, -1) if rows % r == 0), rows)
    return weight.reshape(rows // size, size, k)


_BLOCK = 65536


def project(seq: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """seq @ weight.T for a sequence (L, N, K) stored step-major or batch-major, as one matmul over its rows
    in memory order, computed as weight @ rows.T (a third faster for a few hundred rows); a (L, N, G) view."""
    batch_major = not seq.flags.c_contiguous and seq.swapaxes(0, 1).flags.c_contiguous
    rows = seq.swapaxes(0, 1) if batch_major else seq
    out = (weight @ rows.reshape(-1, seq.shape[-1]).T).reshape(weight.shape[0], *rows.shape[:2])
    return out.transpose(2, 1, 0) if batch_major else out.transpose(1, 2, 0)


@functools.lru_cache(maxsize=16)
def _gate_constants(shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """For LSTM gates of ``shape`` (..., 4 H; blocks i, f, g, o): the scale, 0.5 for the sigmoid gates and
    1 for g, and the shift after the tanh, 0.5 and 0; full arrays (a broadcast row is twice as slow)."""
    size = shape[-1] // 4
    half = np.full(shape, 0.5, dtype=dtype)
    half[..., 2 * size:3 * size] = 1
    shift = np.full(shape, 0.5, dtype=dtype)
    shift[..., 2 * size:3 * size] = 0
    return half, shift


class _RNNBase(Layer):
    gates = 1
    n_outputs = 2
    n_inputs = (1, 2)  # input [, h_0]
    size_args = ("input_size", "hidden_size")
    example = ({"input_size": None, "hidden_size": 32, "num_layers": 2, "bidirectional": True}, ("T, B, D",))

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """Every weight element once per time step and batch row (both directions run every step).
        torch's fused oneDNN LSTM kernel hides this work from its flop counter; the count is that of
        the unfused computation, which the flop counter sees for RNN, GRU and projected LSTMs."""
        steps = dims.prod(outputs[0][:-1])
        weights = [spec.shape for name, spec in params.items() if name.startswith("weight")]
        return dims.total([dims.prod([steps, *shape]) for shape in weights])

    def _setup(self, input_size: Any, hidden_size: Any, num_layers: int, bias: bool, batch_first: bool,
               dropout: float, bidirectional: bool, proj_size: int = 0) -> None:
        op = type(self).__name__
        self.input_size = self._size("input_size", input_size, optional=True)
        self.hidden_size = self._size("hidden_size", hidden_size)
        if type(num_layers) is not int or num_layers <= 0:
            raise SpecError(f"{op}: num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise SpecError(f"{op}: dropout must be a probability between 0 and 1, got {dropout!r}")
        if type(proj_size) is not int or proj_size < 0:
            raise SpecError(f"{op}: proj_size must be a non-negative int, got {proj_size!r}")
        if proj_size and type(self.hidden_size) is int and proj_size >= self.hidden_size:
            raise SpecError(f"{op}: proj_size ({proj_size}) must be smaller than hidden_size ({self.hidden_size})")
        self.num_layers, self.dropout, self.proj_size = num_layers, float(dropout), proj_size
        self.has_bias = self._flag("bias", bias)
        self.batch_first = self._flag("batch_first", batch_first)
        self.bidirectional = self._flag("bidirectional", bidirectional)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def state_shapes(self, a: SimpleNamespace, batch: tuple) -> list[Shape]:
        h_out = self.proj_size or a.hidden_size
        layers = self.directions * self.num_layers
        shapes = [(layers, *batch, h_out)]
        if self.n_outputs == 3:
            shapes.append((layers, *batch, a.hidden_size))
        return shapes

    def infer(self, ctx: RuleContext, x: Shape, *states: Shape) -> tuple[Shape, ...] | None:
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if not ctx.rank(x, (2, 3), f"{layout} or (L, H_in)"):
            return (None,) * self.n_outputs
        a = ctx.args
        if self.proj_size:
            ctx.at_least(a.hidden_size, self.proj_size + 1, what="hidden_size",
                         actual_desc=f"proj_size is {self.proj_size}",
                         fix="proj_size must be smaller than hidden_size.")
        ctx.match("input_size", x[-1], what="input_size", fix=lambda: f"Use input_size={x[-1]} or input_size=None.")
        batch = () if len(x) == 2 else ((x[0],) if self.batch_first else (x[1],))
        length = x[0] if len(x) == 2 or not self.batch_first else x[1]
        h_out = self.proj_size or a.hidden_size
        expected = self.state_shapes(a, batch)
        check_states(ctx, states, expected)
        out = (*batch, length, self.directions * h_out) if self.batch_first else \
            (length, *batch, self.directions * h_out)
        return (out, *expected)

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        """torch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh [, weight_hr]."""
        h_out = self.proj_size or a.hidden_size
        init = {"fan_in": a.hidden_size}  # every tensor ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
        p: dict[str, ParamSpec] = {}
        for layer in range(self.num_layers):
            in_size = (a.input_size if a.input_size is not None else dims.sym("input_size")) if layer == 0 \
                else self.directions * h_out
            for suffix in ("", "_reverse")[: self.directions]:
                tag = f"l{layer}{suffix}"
                p[f"weight_ih_{tag}"] = ParamSpec((self.gates * a.hidden_size, in_size), "uniform_fan_in", init)
                p[f"weight_hh_{tag}"] = ParamSpec((self.gates * a.hidden_size, h_out), "uniform_fan_in", init)
                if self.has_bias:
                    p[f"bias_ih_{tag}"] = ParamSpec((self.gates * a.hidden_size,), "uniform_fan_in", init)
                    p[f"bias_hh_{tag}"] = ParamSpec((self.gates * a.hidden_size,), "uniform_fan_in", init)
                if self.proj_size:
                    p[f"weight_hr_{tag}"] = ParamSpec((self.proj_size, a.hidden_size), "uniform_fan_in", init)
        return p

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray, *states: np.ndarray) -> tuple[np.ndarray, ...]:
        unbatched = x.ndim == 2
        if unbatched:
            x, states = x[:, None], tuple(s[:, None] for s in states)
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        hidden = p["weight_hh_l0"].shape[0] // self.gates
        h_out = p["weight_hh_l0"].shape[1]
        dirs, batch = self.directions, x.shape[1]
        h0 = states[0] if states else np.zeros((dirs * self.num_layers, batch, h_out), dtype=x.dtype)
        c0 = states[1] if len(states) > 1 else np.zeros((dirs * self.num_layers, batch, hidden), dtype=x.dtype)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            w = [{name: p.get(f"{name}_l{layer}{suffix}") for name in
                  ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")} for suffix in ("", "_reverse")[:dirs]]
            k = slice(layer * dirs, (layer + 1) * dirs)
            x, h, c = self._run(w, x, h0[k], c0[k])
            h_n.append(h)
            c_n.append(c)
        results = [x, np.concatenate(h_n)] + ([np.concatenate(c_n)] if self.n_outputs == 3 else [])
        if unbatched:
            return tuple(r[:, 0] for r in results)
        if self.batch_first:
            results[0] = results[0].swapaxes(0, 1)
        return tuple(np.ascontiguousarray(r) for r in results)

    def _run(self, w: list[dict], seq: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every direction of one layer over the sequence (L, N, H_in), in whichever of the two memory
        orders it is stored (batch-major with batch_first), the output in the same order: the input
        projections of all steps hoisted out of the loop into one (L, D, N, G) array in the order each
        direction reads them, then per step one cell over all directions after each direction's
        recurrent projection h @ W_hh.T in cache-sized row blocks of W_hh (``row_blocks``)."""
        steps, batch, dirs = seq.shape[0], seq.shape[1], len(w)
        dtype = np.result_type(seq, w[0]["weight_ih"])
        gates = np.empty((steps, dirs, batch, w[0]["weight_ih"].shape[0]), dtype=dtype)
        for d, (weights, bias) in enumerate(zip(w, self._input_bias(w) or [None] * dirs)):
            projected = project(seq, weights["weight_ih"])
            projected = projected[::-1] if d else projected  # the reverse direction's steps in its own order
            if bias is None:
                gates[:, d] = projected
            else:
                np.add(projected, bias, out=gates[:, d])
        weight_hh = [row_blocks(d["weight_hh"].astype(dtype, copy=False)).swapaxes(1, 2) for d in w]  # (n, H, G/n)
        bias_hh = self._recurrent_bias(w)
        weight_hr = None
        if w[0]["weight_hr"] is not None:
            weight_hr = np.stack([d["weight_hr"].T for d in w]).astype(dtype, copy=False)
        h, c = h.astype(dtype, copy=False), c.astype(dtype, copy=False)
        size = h.shape[-1]
        states = np.empty((steps, dirs, batch, size), dtype=dtype)  # each direction's h in its own step order
        recurrent = np.empty((dirs, batch, gates.shape[-1]), dtype=dtype)  # (D, N, G); blocks (n, N, G/n)
        blocks = [recurrent[d].reshape(batch, *weight_hh[d].shape[::2]).swapaxes(0, 1) for d in range(dirs)]
        for t in range(steps):
            for d in range(dirs):
                np.matmul(h[d], weight_hh[d], out=blocks[d])
            if bias_hh is not None:
                recurrent += bias_hh
            h, c = self.cell(gates[t], recurrent, h, c, weight_hr)
            states[t] = h
        out = np.empty((steps, batch, dirs * size), dtype=dtype) if seq.flags.c_contiguous else \
            np.empty((batch, steps, dirs * size), dtype=dtype).swapaxes(0, 1)
        for d in range(dirs):
            out[..., d * size:(d + 1) * size] = states[::-1, d] if d else states[:, d]
        return out, h, c

    def _input_bias(self, w: list[dict]) -> list[np.ndarray] | None:
        """The biases added to the input projection, per direction: b_ih + b_hh (both are summed before any
        gate), (G,)."""
        return None if w[0]["bias_ih"] is None else [d["bias_ih"] + d["bias_hh"] for d in w]

    def _recurrent_bias(self, w: list[dict]) -> np.ndarray | None:
        """The biases added to the recurrent projection at each step (none: they are folded into the input's)."""
        return None

    def cell(self, xi: np.ndarray, hh: np.ndarray, h: np.ndarray, c: np.ndarray,
             weight_hr: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """One step from the input and recurrent projections (biases included); may overwrite xi and hh."""
        raise NotImplementedError


class RNN(_RNNBase):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size: Any, hidden_size: Any, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise SpecError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._setup(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def cell(self, xi, hh, h, c, weight_hr):
        pre = np.add(xi, hh, out=xi)
        return (np.tanh(pre, out=pre) if self.nonlinearity == "tanh" else np.maximum(pre, 0, out=pre)), c


class LSTM(_RNNBase):
    """Long short-term memory; gates i, f, g, o; an optional projection of h (proj_size)."""

    gates = 4
    n_outputs = 3
    n_inputs = (1, 3)  # input [, h_0, c_0]

    def __init__(self, input_size: Any, hidden_size: Any, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None):
        self._setup(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size)

    def cell(self, xi, hh, h, c, weight_hr):
        """The gates in four passes over all of them: sigmoid(x) = 0.5 + 0.5 tanh(x / 2) for i, f and o
        shares one tanh with g (absolute error ~1e-7, the gates' sizes need no more)."""
        gates, size = np.add(xi, hh, out=xi), c.shape[-1]
        half, shift = _gate_constants(gates.shape, gates.dtype)
        gates *= half
        np.tanh(gates, out=gates)
        gates *= half
        gates += shift
        i, f, g, o = (gates[..., k * size:(k + 1) * size] for k in range(4))
        c = f * c
        c += i * g
        h = o * np.tanh(c)
        return (h if weight_hr is None else h @ weight_hr), c


class GRU(_RNNBase):
    """Gated recurrent unit; gates r, z, n."""

    gates = 3

    def __init__(self, input_size: Any, hidden_size: Any, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None):
        self._setup(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def _input_bias(self, w: list[dict]) -> list[np.ndarray] | None:
        return None if w[0]["bias_ih"] is None else [d["bias_ih"] for d in w]

    def _recurrent_bias(self, w: list[dict]) -> np.ndarray | None:
        """b_hh stays in the recurrent projection: its n part is scaled by the reset gate."""
        return np.stack([d["bias_hh"] for d in w])[:, None] if w[0]["bias_hh"] is not None else None

    def cell(self, xi, hh, h, c, weight_hr):
        size = h.shape[-1]
        rz = np.add(xi[..., :2 * size], hh[..., :2 * size], out=xi[..., :2 * size])
        sigmoid_inplace(rz)
        r, z, n, hn = rz[..., :size], rz[..., size:], xi[..., 2 * size:], hh[..., 2 * size:]
        hn *= r
        n += hn
        np.tanh(n, out=n)
        return (h - n) * z + n, c  # torch's order: n + z * (h - n)


class _Cell(Layer):
    """One step of a recurrent layer; the gate arithmetic is that of the sequence layer's ``cell``."""

    gates = 1
    n_inputs = (1, 2)  # input [, h]
    size_args = ("input_size", "hidden_size")
    example = ({"input_size": None, "hidden_size": 32}, ("B, D",))

    def _setup(self, input_size: Any, hidden_size: Any, bias: bool) -> None:
        self.input_size = self._size("input_size", input_size, optional=True)
        self.hidden_size = self._size("hidden_size", hidden_size)
        self.has_bias = self._flag("bias", bias)

    def infer(self, ctx: RuleContext, x: Shape, *states: Shape) -> Shape | tuple[Shape, ...] | None:
        if not ctx.rank(x, (1, 2), "(N, input_size) or (input_size)"):
            return None if self.n_outputs == 1 else (None,) * self.n_outputs
        a = ctx.args
        ctx.match("input_size", x[-1], what="input_size", fix=lambda: f"Use input_size={x[-1]} or input_size=None.")
        state = (*x[:-1], a.hidden_size)
        check_states(ctx, states, [state] * self.n_outputs)
        return state if self.n_outputs == 1 else (state,) * self.n_outputs

    def params(self, a: SimpleNamespace) -> dict[str, ParamSpec]:
        """weight_ih, weight_hh [, bias_ih, bias_hh], every one ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        init, rows = {"fan_in": a.hidden_size}, self.gates * a.hidden_size
        p = {"weight_ih": ParamSpec((rows, a.input_size), "uniform_fan_in", init),
             "weight_hh": ParamSpec((rows, a.hidden_size), "uniform_fan_in", init)}
        if self.has_bias:
            p["bias_ih"] = ParamSpec((rows,), "uniform_fan_in", init)
            p["bias_hh"] = ParamSpec((rows,), "uniform_fan_in", init)
        return p

    def macs(self, params: dict[str, ParamSpec], outputs: list[Shape], inputs: list[Shape] = ()) -> Dim:
        """Every weight element once per batch row."""
        rows = dims.prod(outputs[0][:-1])
        weights = [spec.shape for name, spec in params.items() if name.startswith("weight")]
        return dims.total([dims.prod([rows, *shape]) for shape in weights])

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray, *states: np.ndarray) -> np.ndarray | tuple:
        unbatched = x.ndim == 1
        if unbatched:
            x, states = x[None], tuple(s[None] for s in states)
        zeros = np.zeros((x.shape[0], p["weight_hh"].shape[1]), dtype=x.dtype)
        h, c = states[0] if states else zeros, states[1] if len(states) > 1 else zeros
        xi, hh = x @ p["weight_ih"].T, h @ p["weight_hh"].T
        if "bias_ih" in p:
            xi, hh = xi + p["bias_ih"], hh + p["bias_hh"]
        outs = self.cell(xi, hh, h, c, None)[: self.n_outputs]
        outs = tuple(o[0] if unbatched else o for o in outs)
        return outs[0] if self.n_outputs == 1 else outs


class RNNCell(_Cell):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    cell = RNN.cell

    def __init__(self, input_size: Any, hidden_size: Any, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise SpecError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._setup(input_size, hidden_size, bias)


class LSTMCell(_Cell):
    """input [, h, c] -> h', c'; gates i, f, g, o. torch's ``hx=(h, c)`` is given as two inputs (both or none)."""

    gates = 4
    n_outputs = 2
    n_inputs = (1, 3)
    cell = LSTM.cell

    def __init__(self, input_size: Any, hidden_size: Any, bias: bool = True, device: Any = None, dtype: Any = None):
        self._setup(input_size, hidden_size, bias)


class GRUCell(_Cell):
    """input [, h] -> h'; gates r, z, n."""

    gates = 3
    cell = GRU.cell

    def __init__(self, input_size: Any, hidden_size: Any, bias: bool = True, device: Any = None, dtype: Any = None):
        self._setup(input_size, hidden_size, bias)
