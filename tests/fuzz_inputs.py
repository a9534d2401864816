"""Inputs that fit a drawn layer, for tests/fuzz_layers.py.

Shapes come from the layer's declared example (``Layer.example``: one symbolic template per input, e.g.
"N, C, H, W"), in a random rank variant (as given, unbatched, one trailing dim more), sized by symshape's
symbolic analysis of the layer on those templates: the sizes it pins (C = in_channels) and the conditions
it states, at random values of the rest; a share of the cases is then knocked off the fit. Values are of the
kinds torch's layers take (floats, probabilities, signs, class indices), found by trying them on torch.
``condition_cases`` checks the symbolic conditions themselves at random sizes.
"""

from __future__ import annotations

import itertools
import random
import warnings
from typing import Any, Callable

import numpy as np
import sympy
import torch

import symshape as ss
from symshape import dims

KINDS = ("normal", "index", "unit", "sign", "zero")  # the value kinds tried for an input after the first
MISFIT = 0.2  # the share of fitted cases with one dim changed off the fit
MAX_TRIES = 40  # value-kind combinations tried on torch per case
_KNOWN: dict[tuple, tuple[str, ...]] = {}  # the kinds torch last took, per op and input ranks


def templates(cls: type, n: int, rng: random.Random) -> list[tuple[tuple, str]] | None:
    """``n`` symbolic input shapes with their dtypes from ``cls.example``, in a random rank variant; None
    when the example declares another number of inputs."""
    declared = [t if isinstance(t, tuple) else (t, "float32") for t in cls.example[1]]
    if len(declared) != n:
        return None
    shapes = [(dims.parse_shape(s), d) for s, d in declared]
    variant = rng.random()
    if variant < 0.15:  # unbatched: every input without its leading dim
        shapes = [(s[1:], d) for s, d in shapes]
    elif variant < 0.3:  # one more trailing dim, common to every input
        shapes = [((*s, dims.sym("X")), d) for s, d in shapes]
    return shapes


def analyse(layer: ss.Layer, shapes: list[tuple], dtypes: list[str]) -> Any:
    """symshape's analysis of ``layer`` on ``shapes``, errors kept (None when the wiring refuses)."""
    xs = [ss.Input(s, name=f"x{i}", dtype=d) for i, (s, d) in enumerate(zip(shapes, dtypes))]
    try:
        out = layer(*xs)
        outs = list(out) if isinstance(out, tuple) else [out]
        return ss.Model(inputs=xs, outputs=outs).infer(strict=False)
    except ss.ShapeError:
        return None


def _symbols(shapes: list[tuple]) -> list[sympy.Symbol]:
    return sorted(dims.shape_symbols(shapes), key=lambda s: s.name)


def _with_pins(graph: Any, point: dict) -> dict:
    """``point`` with every size the analysis fixed evaluated at it (pins may name each other)."""
    point = dict(point)
    for _ in range(3):
        for s, v in graph.values.items():
            try:
                point[s] = dims.evaluate(v, point)
            except (KeyError, ValueError, ZeroDivisionError):
                pass
    return point


def predicted(graph: Any, point: dict) -> bool:
    """Whether the symbolic analysis' conditions accept ``point``: no error, every pinned size matched,
    every condition true (a condition on a size the point does not give counts as met)."""
    if graph is None or graph.errors:
        return False
    full = _with_pins(graph, point)
    if any(full[s] != v for s, v in point.items()):
        return False
    for c in graph.constraints:
        try:
            if not c.holds(full):
                return False
        except (KeyError, ValueError, ZeroDivisionError):
            continue
    return True


def _renamed(shape: tuple, i: int) -> tuple:
    """``shape`` with each symbol suffixed by the input's index (N -> N_1)."""
    return tuple(sympy.sympify(d).subs({s: dims.sym(f"{s.name}_{i}") for s in dims.free_symbols(d)})
                 if type(d) is not int else d for d in shape)


def concrete(shapes: list[tuple], point: dict) -> list[tuple[int, ...]] | None:
    """The shapes at ``point`` (None when a size is not a positive integer there)."""
    try:
        out = [tuple(dims.evaluate(d, point) for d in s) for s in shapes]
    except (KeyError, ValueError, ZeroDivisionError):
        return None
    return out if all(d >= 1 for s in out for d in s) else None


def _fit(layer: ss.Layer, declared: list[tuple[tuple, str]], rng: random.Random) -> tuple[list[tuple], dict]:
    """The templates (one symbol per input dim when the shared ones cannot fit) and sizes of their symbols
    that the analysis accepts, if a few random draws find them."""
    shapes, dtypes = [s for s, _ in declared], [d for _, d in declared]
    graph = analyse(layer, shapes, dtypes)
    if graph is None or graph.errors:  # sizes the example shares may differ (kdim): one symbol per input dim
        shapes = [_renamed(s, i) for i, s in enumerate(shapes)]
        graph = analyse(layer, shapes, dtypes)
    symbols = _symbols(shapes)
    point: dict = {}
    for _ in range(8):
        point = {s: rng.randint(1, 6) for s in symbols}
        if graph is not None:
            point = {s: v for s, v in _with_pins(graph, point).items() if s in point}
        if concrete(shapes, point) and predicted(graph, point):
            break
    return shapes, point


def fitted(layer: ss.Layer, cls: type, n: int, rng: random.Random) -> list[tuple[int, ...]] | None:
    """Concrete input shapes for ``layer``: fitting its analysis most of the time, a share off the fit."""
    declared = templates(cls, n, rng)
    if declared is None:
        return None
    shapes, point = _fit(layer, declared, rng)
    found = concrete(shapes, point)
    if found and rng.random() < MISFIT:
        axes = [(i, a) for i, s in enumerate(found) for a in range(len(s))]
        if axes:
            i, a = rng.choice(axes)
            changed = list(found[i])
            changed[a] = rng.choice([v for v in range(1, 8) if v != changed[a]])
            found[i] = tuple(changed)
    return found


def array(kind: str, shape: tuple[int, ...], bound: int, rng: np.random.Generator) -> np.ndarray:
    """Values of one kind: normal floats, probabilities, signs, indices in [0, bound) or zero indices."""
    if kind == "zero":
        return np.zeros(shape, np.int64)
    if kind == "index":
        return rng.integers(0, max(bound, 1), shape).astype(np.int64)
    if kind == "unit":
        return rng.uniform(0, 1, shape).astype(np.float32)
    if kind == "sign":
        return rng.choice(np.array([-1.0, 1.0], np.float32), shape)
    return rng.standard_normal(shape).astype(np.float32)


def _kind_combos(key: tuple, n: int) -> list[tuple[str, ...]]:
    combos = list(itertools.islice(itertools.product(("normal", "unit"), *[KINDS] * (n - 1)), MAX_TRIES))
    if key in _KNOWN:
        combos.insert(0, _KNOWN[key])
    return combos


def torch_out(module: torch.nn.Module, arrays: list[np.ndarray], forward: dict[str, Any]) -> torch.Tensor | None:
    """torch's first output on copies of ``arrays`` (None when it refuses)."""
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = module(*[torch.from_numpy(a.copy()) for a in arrays], **forward)
    except Exception:  # noqa: BLE001  (torch refuses in its own ways: ZeroDivisionError for CrossMapLRN2d(0))
        return None
    return out[0] if isinstance(out, tuple) else out


def feed(op: str, module: torch.nn.Module | None, forward: dict[str, Any], shapes: list[tuple[int, ...]],
         seed: int) -> tuple[torch.Tensor | None, list[np.ndarray]]:
    """torch's output and the arrays it ran on: the first value kinds (per input) it takes at these shapes;
    (None, normal floats) when it takes none."""
    bound = min((d for s in shapes for d in s), default=1)
    key = (op, tuple(map(len, shapes)))
    combos = _kind_combos(key, len(shapes)) if module is not None else []
    for kinds in combos:
        rng = np.random.default_rng(seed)
        arrays = [array(k, s, bound, rng) for k, s in zip(kinds, shapes)]
        out = torch_out(module, arrays, forward)
        if out is not None:
            _KNOWN[key] = kinds
            return out, arrays
    rng = np.random.default_rng(seed)
    return None, [array("normal", s, bound, rng) for s in shapes]


def dtype_of(a: np.ndarray) -> str:
    return "int64" if a.dtype.kind in "iu" else "float32"


def condition_cases(layer: ss.Layer, cls: type, feed: Callable[[list, int], Any], n: int, rng: random.Random,
                    points: int = 3) -> list[tuple[bool, bool, Any, dict, Any, Any]]:
    """The symbolic conditions at random sizes: the layer analysed on its templates with some dims
    symbolic (the rest fixed at sizes that fit, where found), then at ``points`` random values of the symbolic ones, (whether the
    conditions accept them, whether ``graph.valid`` does, ``feed(shapes, seed)``: torch's output or None and
    the arrays, the sizes, the shapes analysed, the concrete shapes)."""
    declared = templates(cls, n, rng)
    if declared is None:
        return []
    shapes, fit = _fit(layer, declared, rng)
    dtypes = [d for _, d in declared]
    symbols = _symbols(shapes)
    if not symbols:
        return []
    free = [s for s in symbols if rng.random() < 0.5] or [rng.choice(symbols)]
    fixed = {s: fit.get(s, rng.randint(1, 6)) for s in symbols if s not in free}
    partial = [tuple(d if type(d) is int else sympy.sympify(d).subs(fixed) for d in s) for s in shapes]
    partial = [tuple(int(d) if getattr(d, "is_Integer", False) else d for d in s) for s in partial]
    graph = analyse(layer, partial, dtypes)
    cases = []
    for _ in range(points):
        point = {s: rng.randint(1, 7) for s in free}
        sizes = concrete(shapes, {**fixed, **point})
        if sizes is None or graph is None:
            continue
        fed = feed(sizes, rng.randrange(2**32))
        try:
            valid = graph.valid(**{s.name: v for s, v in point.items()})
        except ss.SpecError:
            valid = False
        cases.append((predicted(graph, point), valid, fed, {s.name: v for s, v in point.items()}, partial, sizes))
    return cases
