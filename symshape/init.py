"""Initializers as plain functions in one table, torch's formulas, and ``materialize``.

Every initializer is ``f(shape, rng, dtype, **kwargs) -> ndarray``. Each parameter draws from its
own random stream, seeded by ``(seed, state_dict name)``: the values do not depend on the order
in which parameters are materialized, nor on which other parameters exist (without a seed they are
fresh entropy, drawn from the process's generator).
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import numpy as np

from .errors import SpecError
from .params import ParamSpec

Initializer = Callable[..., np.ndarray]


def _fans(shape: tuple[int, ...], name: str) -> tuple[int, int]:
    """torch.nn.init._calculate_fan_in_and_fan_out."""
    if len(shape) < 2:
        raise SpecError(f"{name} cannot be computed for a tensor with fewer than 2 dimensions "
                        f"(shape {shape}); use it for weights, and e.g. 'zeros' for biases")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str = "leaky_relu", param: float | None = None) -> float:
    """torch.nn.init.calculate_gain."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise SpecError(f"unsupported nonlinearity {nonlinearity!r} for calculate_gain")


CHUNK = 1 << 18  # elements drawn and scaled at a time, so that the scaling stays in cache
_sink: ContextVar[Callable[[np.ndarray], None] | None] = ContextVar("sink", default=None)


class Streamed:
    """What a random initializer returns while a sink is set: its values went to the sink, chunk by chunk."""


@contextmanager
def streaming_to(write: Callable[[np.ndarray], None]) -> Iterator[None]:
    """While active, random draws of the streamable initializers go to ``write`` chunk by chunk
    (in order, already scaled and cast) instead of into an array: a tensor of any size costs one chunk."""
    token = _sink.set(write)
    try:
        yield
    finally:
        _sink.reset(token)


def _fill(shape, dtype, draw, scale: float, shift: float) -> np.ndarray | Streamed:
    """``shape`` values drawn chunk by chunk, then ``* scale + shift``: straight into the final buffer,
    or to the active sink."""
    kind = np.float64 if dtype == np.float64 else np.float32
    size = math.prod(shape)
    sink = _sink.get()
    if sink is not None:
        buffer = np.empty(min(CHUNK, size), dtype=kind)
        for start in range(0, size, CHUNK):
            chunk = buffer[: min(CHUNK, size - start)]
            draw(chunk, kind)
            chunk *= scale
            chunk += shift
            sink(chunk.astype(dtype, copy=False))
        return Streamed()
    out = np.empty(shape, dtype=kind)
    flat = out.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        chunk = flat[start:start + CHUNK]
        draw(chunk, kind)
        chunk *= scale
        chunk += shift
    return out.astype(dtype, copy=False)


def _uniform(shape, rng, dtype, low: float, high: float) -> np.ndarray:
    return _fill(shape, dtype, lambda chunk, kind: rng.random(out=chunk, dtype=kind), high - low, low)


def _normal(shape, rng, dtype, mean: float, std: float) -> np.ndarray:
    return _fill(shape, dtype, lambda chunk, kind: rng.standard_normal(out=chunk, dtype=kind), std, mean)


def uniform(shape, rng, dtype, a: float = 0.0, b: float = 1.0) -> np.ndarray:
    return _uniform(shape, rng, dtype, a, b)


def normal(shape, rng, dtype, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    return _normal(shape, rng, dtype, mean, std)


def constant(shape, rng, dtype, val: float = 0.0) -> np.ndarray:
    return np.full(shape, val, dtype=dtype)


def zeros(shape, rng, dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def xavier_uniform(shape, rng, dtype, gain: float = 1.0) -> np.ndarray:
    fan_in, fan_out = _fans(shape, "xavier_uniform")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(shape, rng, dtype, -bound, bound)


def xavier_normal(shape, rng, dtype, gain: float = 1.0) -> np.ndarray:
    fan_in, fan_out = _fans(shape, "xavier_normal")
    return _normal(shape, rng, dtype, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(shape, a: float, mode: str, nonlinearity: str, name: str) -> float:
    fan_in, fan_out = _fans(shape, name)
    if mode not in ("fan_in", "fan_out"):
        raise SpecError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape, rng, dtype, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> np.ndarray:
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity, "kaiming_uniform")
    return _uniform(shape, rng, dtype, -bound, bound)


def kaiming_normal(shape, rng, dtype, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu") -> np.ndarray:
    return _normal(shape, rng, dtype, 0.0, _kaiming_std(shape, a, mode, nonlinearity, "kaiming_normal"))


def trunc_normal(shape, rng, dtype, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                 b: float = 2.0) -> np.ndarray:
    """Normal(mean, std) truncated to [a, b], by inverse-CDF sampling as torch does."""
    from scipy.special import erfinv

    cdf = lambda x: (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0  # noqa: E731
    low, high = cdf((a - mean) / std), cdf((b - mean) / std)
    u = rng.uniform(2 * low - 1, 2 * high - 1, size=shape)
    out = erfinv(u) * (std * math.sqrt(2.0)) + mean
    return np.clip(out, a, b).astype(dtype)


def orthogonal(shape, rng, dtype, gain: float = 1.0) -> np.ndarray:
    """torch.nn.init.orthogonal_: QR of a normal matrix with the signs of R's diagonal."""
    if len(shape) < 2:
        raise SpecError(f"orthogonal needs a tensor with at least 2 dimensions, got shape {shape}")
    rows = shape[0]
    cols = math.prod(shape[1:])
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def normal_padded(shape, rng, dtype, padding_idx: int) -> np.ndarray:
    """torch's Embedding default: N(0, 1) with the padding row zeroed."""
    token = _sink.set(None)  # it edits a row afterwards: drawn in full
    try:
        out = _normal(shape, rng, dtype, 0.0, 1.0)
    finally:
        _sink.reset(token)
    out[padding_idx] = 0
    return out


def uniform_fan_in(shape, rng, dtype, fan_in: int) -> np.ndarray:
    """torch's default for biases (and, equivalently, kaiming_uniform(a=sqrt(5)) weights):
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return _uniform(shape, rng, dtype, -bound, bound)


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f for f in (uniform, normal, constant, zeros, ones, xavier_uniform, xavier_normal,
                            kaiming_uniform, kaiming_normal, trunc_normal, orthogonal, uniform_fan_in,
                            normal_padded)
}


_DRAW_NOTHING = frozenset({constant, zeros, ones})


def _parse_choice(choice: Any) -> tuple[Initializer, dict[str, Any], str]:
    """``"xavier_uniform"``, ``("normal", {"std": 0.01})``, ``{"name": "normal", "std": 0.01}`` or a
    callable ``f(shape, rng) -> array``."""
    if callable(choice):
        return (lambda shape, rng, dtype, **_: np.asarray(choice(shape, rng))), {}, getattr(
            choice, "__name__", "callable")
    if isinstance(choice, dict):
        choice = dict(choice)
        name = choice.pop("name", None)
        return _parse_choice((name, choice))
    if isinstance(choice, (tuple, list)) and len(choice) == 2 and isinstance(choice[1], dict):
        name, kwargs = choice
    else:
        name, kwargs = choice, {}
    if name not in INITIALIZERS:
        close = sorted(fnmatch.filter(INITIALIZERS, f"*{str(name)[:4]}*"))
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise SpecError(f"unknown initializer {name!r}; known: default, "
                        f"{', '.join(sorted(INITIALIZERS))}.{hint}")
    return INITIALIZERS[name], dict(kwargs), name


def _stream(seed: int | None, name: str) -> np.random.Generator:
    import hashlib  # here, as ThreadPoolExecutor below: the analysis alone (symshape check) needs neither

    if seed is None:
        return np.random.default_rng()
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


_process_generator: tuple[int, np.random.Generator] | None = None


def _unseeded() -> np.random.Generator:
    """The generator of unseeded draws: seeded from the OS once per process, as torch's default generator
    (and again in a forked child, which would otherwise repeat its parent's values)."""
    global _process_generator
    if _process_generator is None or _process_generator[0] != os.getpid():
        _process_generator = (os.getpid(), np.random.default_rng())
    return _process_generator[1]


def _choose(name: str, spec: ParamSpec, init: Any) -> Any:
    """The initializer choice for one parameter: ``None`` means torch's default."""
    if init is None or spec.buffer:
        return None
    if isinstance(init, Mapping):
        for pattern, choice in init.items():
            if fnmatch.fnmatchcase(name, pattern):
                return None if choice == "default" else choice
        return None
    if init == "default":
        return None
    return init if len(spec.shape) >= 2 else None  # one initializer for all: weights only


def materialize(specs: dict[str, ParamSpec], *, seed: int | None, init: Any, dtype: Any,
                on_tensor: Callable[[str, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """Arrays for every spec, torch's default initializer unless ``init`` chooses another.

    ``init`` is one initializer (applied to every parameter of 2 or more dimensions) or a mapping
    ``{glob pattern: initializer}`` where the first matching pattern wins; ``"default"`` keeps
    torch's scheme. ``on_tensor(name, array)`` is called after each tensor (for progress bars).
    """
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.float32, np.float64, np.float16):
        raise SpecError(f"dtype must be float16, float32 or float64, got {dtype!r}")
    if isinstance(init, Mapping):
        for pattern in init:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in specs):
                raise SpecError(f"init pattern {pattern!r} matches no parameter; names look like "
                                f"{', '.join(list(specs)[:3])}")
    # numpy's generators release the GIL while filling: large tensors are drawn in parallel, each
    # from its own stream, so the values do not depend on the scheduling
    aliases = {n: s.tied_to for n, s in specs.items() if s.tied_to in specs}  # one array under both names
    names = sorted((n for n in specs if n not in aliases), key=lambda n: -_numel(specs[n]))
    large = len(names) > 1 and _sink.get() is None and sum(_numel(specs[n]) for n in names) > 1_000_000
    workers = min(os.cpu_count() or 1, 8) if large else 1
    parallel = workers > 1
    # unseeded values are fresh entropy whatever the stream: the process's generator serves them all
    # (seeding one costs more than drawing a small tensor), except in parallel, where each thread has its own
    fresh = _unseeded() if seed is None and not parallel else None

    def make(name: str) -> np.ndarray | Streamed:
        spec = specs[name]
        shape = tuple(int(d) for d in spec.shape)
        drawn_as = spec.tied_to or name  # a tied tensor has its target's values, drawn the same way
        choice = _choose(drawn_as, spec, init)
        if choice is None:
            fn, kwargs = INITIALIZERS[spec.init], {k: _plain(v) for k, v in spec.init_args.items()}
        else:
            fn, kwargs, _ = _parse_choice(choice)
        # seeding a stream costs ~40 us: the constant fills (a BatchNorm's zeros and ones) get none
        rng = None if fn in _DRAW_NOTHING else fresh if fresh is not None else _stream(seed, drawn_as)
        target = np.dtype(spec.dtype) if spec.dtype else np_dtype
        try:
            array = fn(shape, rng, target, **kwargs)
        except TypeError as exc:
            raise SpecError(f"initializer for {name}: {exc}") from None
        if isinstance(array, Streamed):
            if on_tensor is not None:
                on_tensor(name, None)
            return array
        array = np.asarray(array)
        if array.shape != shape:
            raise SpecError(f"initializer for {name} returned shape {array.shape}, expected {shape}")
        array = np.asarray(array, dtype=target, order="C")
        if on_tensor is not None:
            on_tensor(name, array)
        return array

    if parallel:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            made = dict(zip(names, pool.map(make, names)))
    else:
        made = {n: make(n) for n in names}
    made.update({name: made[target] for name, target in aliases.items()})
    return {name: made[name] for name in specs}


def _numel(spec: ParamSpec) -> int:
    return math.prod(int(d) for d in spec.shape)


def _plain(v: Any) -> Any:
    return int(v) if hasattr(v, "__index__") or getattr(v, "is_Integer", False) else v
