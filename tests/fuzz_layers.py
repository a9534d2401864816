"""Differential fuzzer of single layers: every registered layer that torch.nn has under the same name,
its constructor arguments drawn from domains read off its signature (defaults, names), invalid values
included, on inputs of random rank and sizes. Compared with torch 2.13: the verdict (construct and run,
or refuse), the output shape and the forward values with the same weights (rtol 1e-4). Any exception
other than symshape's own errors is an internal error.

    python tests/fuzz_layers.py --per-layer 200 --seed 0
"""

from __future__ import annotations

import argparse
import inspect
import random
import sys
import warnings
from collections import Counter
from typing import Any

import numpy as np
import torch

import symshape as ss
from symshape.layers import LAYERS

SIZES = ("features", "channels", "size", "dim", "embed", "hidden", "d_model", "num_embeddings")
WINDOWS = ("kernel_size", "stride", "padding", "dilation", "output_padding", "output_size")
SKIP = {"Identity"}  # no arguments to fuzz


def domain(name: str, default: Any) -> list[Any]:
    """The values drawn for one constructor argument."""
    if name in ("device", "dtype"):
        return [None]
    if isinstance(default, bool):
        return [True, False]
    if name in WINDOWS:
        return [0, 1, 2, 3, (1, 2), (2, 3, 1)] + ([None] if default is None else [])
    if isinstance(default, float) or name in ("p", "dropout", "eps", "momentum", "negative_slope", "alpha"):
        return [default, 0.0, 0.5, 1.0, 1.5, -0.5] if default is not None else [None, 0.5]
    if isinstance(default, int):
        return [default, 0, 1, 2, 3, -1]
    if isinstance(default, str):
        return [default]
    if default is None:
        return [None, 1, 2, 3]
    if any(s in name for s in SIZES) or name.startswith("num_") or name.endswith("_size"):
        return [1, 2, 3, 4, 6, 0]
    return [default]


def draw(cls: type, rng: random.Random) -> dict[str, Any] | None:
    """Keyword arguments for ``cls`` over its signature's domain (None when an argument has no domain)."""
    kwargs = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        values = domain(name, default)
        if p.default is inspect.Parameter.empty and values == [None]:
            return None
        kwargs[name] = rng.choice(values)
    return kwargs


def _torch_out(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = module(x)
    except (RuntimeError, ValueError, IndexError, TypeError, AssertionError):
        return None
    return out[0] if isinstance(out, tuple) else out


def one_case(op: str, rng: random.Random) -> tuple[str, str] | None:
    """None when symshape agrees with torch, else (kind, description)."""
    kwargs = draw(LAYERS[op], rng)
    if kwargs is None:
        return None
    shape = tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 5)))
    return compare(op, kwargs, shape, rng.randrange(2**32))


def compare(op: str, kwargs: dict[str, Any], shape: tuple[int, ...], seed: int = 0) -> tuple[str, str] | None:
    """One case: None when symshape agrees with torch on ``op(**kwargs)`` over an input of ``shape``."""
    cls, torch_cls = LAYERS[op], getattr(torch.nn, op)
    desc = f"{op}({kwargs}) on {shape}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch_cls(**kwargs).eval()
    except Exception:  # noqa: BLE001  (torch refuses the arguments in its own ways)
        module = None
    try:
        layer = cls(**kwargs)
    except ss.SpecError:
        layer = None
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: {type(exc).__name__}: {exc}"
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = None if module is None else _torch_out(module, torch.from_numpy(x.copy()))
    if layer is None or module is None:  # torch may accept arguments it refuses only when run
        if layer is None and expected is not None:
            return "arguments", f"{desc}: symshape refuses the arguments, torch runs"
        lazy = any(kwargs.get(a, 0) is None for a in cls.size_args)  # symshape infers a None size; torch cannot
        return ("arguments", f"{desc}: torch refuses the arguments, symshape accepts") if layer and not lazy else None
    if layer.n_inputs != 1:
        return None
    try:
        graph = ss.Sequential(layer).infer(shape)
    except ss.ShapeMismatchError:
        graph = None
    except ss.SpecError as exc:
        return ("verdict", f"{desc}: symshape refuses ({exc})") if expected is not None else None
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: {type(exc).__name__}: {exc}"
    if (graph is None) != (expected is None):
        return "verdict", f"{desc}: torch {'refuses' if expected is None else 'runs'}, symshape does not"
    if graph is None:
        return None
    got_shape = tuple(graph.output_shapes[0])
    if got_shape != tuple(expected.shape):
        return "shape", f"{desc}: symshape {got_shape}, torch {tuple(expected.shape)}"
    return _compare_values(graph, module, x, desc)


def _compare_values(graph: Any, module: torch.nn.Module, x: np.ndarray, desc: str) -> tuple[str, str] | None:
    params = graph.materialize(seed=0)
    state = {f"0.{k}": v for k, v in module.state_dict().items()}
    if set(state) != set(params):
        return "state", f"{desc}: state_dict {sorted(state)} vs {sorted(params)}"
    module.load_state_dict({k[2:]: torch.from_numpy(np.asarray(v)) for k, v in params.items()})
    expected = _torch_out(module, torch.from_numpy(x.copy()))  # in-place modules write their input
    try:
        got = graph.forward(params, x)
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: forward {type(exc).__name__}: {exc}"
    got = got[0] if isinstance(got, tuple) else got
    if expected.dtype.is_floating_point and not np.allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5,
                                                            equal_nan=True):
        return "values", f"{desc}: forward differs by {np.nanmax(np.abs(got - expected.numpy()))}"
    return None


def fuzzed_ops() -> list[str]:
    return sorted(op for op in LAYERS if op not in SKIP and isinstance(getattr(torch.nn, op, None), type)
                  and issubclass(getattr(torch.nn, op), torch.nn.Module))


def run(per_layer: int, seed: int, ops: list[str] | None = None) -> tuple[Counter, list[tuple[str, str]]]:
    """Cases tried per op and the disagreements found."""
    tried: Counter = Counter()
    found: list[tuple[str, str]] = []
    for op in ops or fuzzed_ops():
        rng = random.Random(f"{seed}:{op}")
        for _ in range(per_layer):
            tried[op] += 1
            result = one_case(op, rng)
            if result is not None:
                found.append(result)
    return tried, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-layer", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--op", action="append", help="fuzz only these ops")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tried, found = run(args.per_layer, args.seed, args.op)
    kinds = Counter(kind for kind, _ in found)
    for kind, text in found:
        print(f"[{kind}] {text}")
    print(f"{sum(tried.values())} cases over {len(tried)} ops; disagreements: {dict(kinds) or 0}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
