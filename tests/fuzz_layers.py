"""Differential fuzzer of single layers: every registered layer that torch.nn has under the same name,
its constructor arguments drawn from domains read off its signature (defaults, names), invalid values
included, on inputs of random rank and sizes. Compared with torch 2.13: the verdict (construct and run,
or refuse), the output shape, the state_dict and the forward values with the same weights (rtol 1e-4);
for a share of the agreeing cases, the torch module called in a model and imported with ss.from_torch
(its state_dict and forward values against torch's); for another share, the model written as a spec
and checked by ``symshape check`` (the same verdict, never an internal error).
Any exception other than symshape's own errors is an internal error. Cases are counted per layer family
and disagreements per kind; every registered layer the fuzzer does not draw is listed with the reason.

    python tests/fuzz_layers.py --per-layer 200 --seed 0 [--out summary.txt]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import math
import os
import random
import sys
import tempfile
import warnings
from collections import Counter
from typing import Any

import fuzz_inputs
import numpy as np
import torch

import symshape as ss
from symshape import dims
from symshape.cli import main as cli_main
from symshape.layers import LAYERS

SIZES = ("features", "channels", "size", "dim", "embed", "hidden", "d_model", "num_embeddings")
WINDOWS = ("kernel_size", "stride", "padding", "dilation", "output_padding", "output_size")
SKIP = {"Identity": "no arguments to fuzz"}
NOT_GIVEN = ("size",)  # size arguments whose None means "not given", not "inferred" (Upsample's size)
HIDDEN_WIDTHS = ("dim_feedforward",)  # sizes of a tensor inside a layer, neither its input nor its output
SUBLAYER = {"encoder_layer": "TransformerEncoderLayer", "decoder_layer": "TransformerDecoderLayer"}
IDS = ("Embedding", "EmbeddingBag")  # take integer ids in [0, num_embeddings)
DEFAULT = 0.35  # the share of optional arguments left at their default (so that more cases fit together)
MASKLESS = 0.8  # the share of mask flags (an extra input each) left at their default
FIT_ARGS, REDRAWS = 0.75, 25  # the share of cases whose arguments are redrawn (up to REDRAWS times) to fit
FIT = 0.8  # the share of cases whose inputs are fitted to the layer (fuzz_inputs.fitted)
STAGES = ("input", "values", "import", "cli", "conditions")  # depths counted: verdict, values, from_torch,
# symshape check on the written spec, sizes
IMPORT = 0.2  # the share of cases whose values agree that then import the torch module with ss.from_torch
CLI = 0.1  # the share of cases past the arguments whose model is also written as a spec and checked by the CLI
CONDITIONS = 0.25  # the share of agreeing cases that then check the symbolic conditions at random sizes
FAMILIES = {"conv": "conv", "pool": "pool", "norm": "norm", "activation": "activation", "recurrent": "recurrent",
            "attention": "attention/transformer", "transformer": "attention/transformer",
            "sdpa": "attention/transformer", "shape_ops": "shape/tensor ops", "pixel_shuffle": "shape/tensor ops",
            "fold": "shape/tensor ops", "resize": "upsample/pad", "padding": "upsample/pad",
            "linear": "linear/embedding", "embedding": "linear/embedding", "loss": "loss/distance",
            "distance": "loss/distance"}


def family(op: str) -> str:
    """The layer family of ``op``: the symshape module it is defined in, grouped."""
    module = LAYERS[op].__module__.rsplit(".", 1)[-1]
    return FAMILIES.get(module, module)


def excluded(op: str, kwargs: dict[str, Any], expected: Any) -> str | None:
    """Why a disagreement is out of scope (documented, narrow), or None.

    - zero-size: torch returns an empty tensor (an adaptive pool's output_size 0, a transposed conv whose
      output length is 0) or makes one inside (``dim_feedforward=0``); symshape's domain has sizes >= 1
      (CONTRACT section 5), so it refuses.
    - global-mean: torch's adaptive_avg_pool2d/3d with every output size 1 takes a fast path (a mean over the
      last dims) that skips its rank check, so it runs on any rank >= 2 (>= 3); symshape keeps the rank
      the layer documents, (N, C, H, W) or (C, H, W) (5-d/4-d for 3d).
    - one-value-groups: see ``_one_value_groups`` (a forward-values exclusion).
    - ctc-blank-target: CTCLoss values where the targets are not class indices other than the blank (a
      blank label, or floats, which torch truncates): torch documents that targets cannot be blank and
      computes something else there (with blank-free integer targets the values agree); a label >= C,
      which torch reads past its classes for, symshape refuses as not a class index.
    - recompute-scale: symshape refuses a true ``recompute_scale_factor`` (Upsample*) as not supported, and says so.
    - int-hint: torch takes any truthy value for an ``Optional[bool]`` causal hint (``is_causal=3``);
      symshape wants a bool or None.
    - lazy-groups: torch's LazyConvTranspose*d with bias=False never checks out_channels % groups (its
      eager ConvTranspose*d refuses; with a bias it fails when run) and silently gives
      groups * (out_channels // groups) channels; symshape refuses as the eager constructor does.
    """
    if expected is not None and 0 in tuple(expected.shape):
        return "zero-size"
    if expected is not None and any(kwargs.get(k) == 0 for k in HIDDEN_WIDTHS):
        return "zero-size"  # a hidden layer of width 0: an empty tensor inside the model
    n = {"AdaptiveAvgPool2d": 2, "AdaptiveAvgPool3d": 3}.get(op)
    if n and expected is not None and expected.dim() not in (n + 1, n + 2) and set(expected.shape[-n:]) == {1}:
        return "global-mean"
    if any("causal" in k and type(v) is int for k, v in kwargs.items()):
        return "int-hint"
    if op.startswith("Upsampl") and kwargs.get("recompute_scale_factor"):
        return "recompute-scale"
    if (op.startswith("LazyConvTranspose") and not kwargs.get("bias", True) and isinstance(kwargs.get("groups"), int)
            and kwargs["groups"] > 0 and isinstance(kwargs.get("out_channels"), int)
            and kwargs["out_channels"] % kwargs["groups"]):
        return "lazy-groups"
    return None


def domain(name: str, default: Any, required: bool = False) -> list[Any]:
    """The values drawn for one constructor argument (a ``required`` one has no default: ``default`` is None)."""
    if name in ("device", "dtype"):
        return [None]
    if isinstance(default, bool):
        return [True, False]
    if name in WINDOWS:
        return [0, 1, 2, 3, (1, 2), (2, 3, 1)] + ([None] if default is None and not required else [])
    if isinstance(default, float) or name in ("p", "dropout", "eps", "momentum", "negative_slope", "alpha"):
        return [default, 0.0, 0.5, 1.0, 1.5, -0.5] if default is not None else [None, 0.5]
    if isinstance(default, int):
        return [default, 0, 1, 2, 3, -1]
    if isinstance(default, str):
        return [default]
    if any(s in name for s in SIZES) or name.startswith("num_") or name.endswith("_size"):
        return [1, 2, 3, 4, 6, 0] + ([None] if default is None else [])
    if default is None:
        return [None, 1, 2, 3]
    return [default]


def draw(cls: type, rng: random.Random) -> dict[str, Any] | None:
    """Keyword arguments for ``cls`` over its signature's domain (None when an argument has no domain)."""
    kwargs = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        if name in SUBLAYER:
            sub = draw(LAYERS[SUBLAYER[name]], rng)
            kwargs[name] = (SUBLAYER[name], {k: v for k, v in sub.items() if "mask" not in k and "causal" not in k})
            continue
        required = p.default is inspect.Parameter.empty
        values = domain(name, default, required)
        if required and values == [None]:
            return None
        keep = DEFAULT if "mask" not in name else MASKLESS  # mask flags add inputs the fitted cases do not feed
        kwargs[name] = default if not required and rng.random() < keep else rng.choice(values)
    return kwargs


def _torch_kwargs(torch_cls: type, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``kwargs`` split into torch's constructor arguments and its forward arguments (symshape takes the
    forward flags on construction; a mask flag adds an input, so cases with one never reach forward)."""
    init = inspect.signature(torch_cls.__init__).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in init.values())
    forward = inspect.signature(torch_cls.forward).parameters
    ctor = {k: _torch_value(v) for k, v in kwargs.items() if takes_any or k in init}
    return ctor, {k: v for k, v in kwargs.items() if k not in ctor and k in forward and "mask" not in k}


def _torch_value(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] in SUBLAYER.values():
        return getattr(torch.nn, value[0])(**_torch_kwargs(getattr(torch.nn, value[0]), value[1])[0])
    return value


def _ss_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: LAYERS[v[0]](**v[1]) if k in SUBLAYER else v for k, v in kwargs.items()}


def one_case(op: str, rng: random.Random, stages: Counter | None = None) -> tuple[str, str] | None:
    """None when symshape agrees with torch, else (kind, description). A share of the cases redraws the
    arguments until both symshape and torch construct the layer; most cases feed inputs fitted to the
    layer (``fuzz_inputs.fitted``), the rest one input of random rank and sizes; a share of the cases then
    checks the layer's symbolic conditions at random sizes (``conditions``)."""
    kwargs = draw(LAYERS[op], rng)
    for _ in range(REDRAWS if rng.random() < FIT_ARGS else 0):  # arguments both constructors take
        if kwargs is None or None not in _build(op, kwargs)[:2]:
            break
        kwargs = draw(LAYERS[op], rng)
    if kwargs is None:
        return None
    shape: Any = _fitted(op, kwargs, rng) if rng.random() < FIT else None
    if shape is None:
        sizes = [v for v in kwargs.values() if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 8]
        shape = tuple(rng.choice(sizes) if sizes and rng.random() < 0.5 else rng.randint(1, 5)  # some dims fit
                      for _ in range(rng.randint(1, 5)))
    found = compare(op, kwargs, shape, rng.randrange(2**32), stages)
    if found is None and rng.random() < CONDITIONS:
        found = conditions(op, kwargs, rng, stages)
    return found


def _inputs_of(layer: ss.Layer) -> int | None:
    """How many inputs the layer's example declares, when the layer takes that many (masks not fed)."""
    n, allowed = len(layer.example[1]), layer.n_inputs
    if getattr(layer, "masks", ()):
        return None
    return n if (allowed is None and n >= 2) or n == allowed or (isinstance(allowed, tuple) and n in allowed) else None


def _fitted(op: str, kwargs: dict[str, Any], rng: random.Random) -> list[tuple[int, ...]] | None:
    try:
        layer = LAYERS[op](**_ss_kwargs(kwargs))
    except Exception:  # noqa: BLE001  (compare reports the arguments' verdict)
        return None
    n = _inputs_of(layer)
    return None if n is None else fuzz_inputs.fitted(layer, LAYERS[op], n, rng)


def _build(op: str, kwargs: dict[str, Any]) -> tuple[Any, torch.nn.Module | None, dict[str, Any]]:
    """symshape's layer (None when it refuses the arguments, the exception when it fails otherwise), torch's
    module (None when it refuses) and its forward arguments."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctor, forward = _torch_kwargs(getattr(torch.nn, op), kwargs)
            module = getattr(torch.nn, op)(**ctor).eval()
    except Exception:  # noqa: BLE001  (torch refuses the arguments in its own ways)
        module, forward = None, {}
    try:
        layer = LAYERS[op](**_ss_kwargs(kwargs))
    except ss.SpecError:
        layer = None
    except Exception as exc:  # noqa: BLE001
        layer = exc
    return layer, module, forward


def _input(op: str, kwargs: dict[str, Any], shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if op in IDS:
        n = kwargs.get("num_embeddings")
        return rng.integers(0, n if isinstance(n, int) and n > 0 else 1, shape).astype(np.int64)
    return rng.standard_normal(shape).astype(np.float32)


def _feed(op: str, kwargs: dict[str, Any], module: torch.nn.Module | None, forward: dict[str, Any], shape: Any,
          seed: int) -> tuple[torch.Tensor | None, list[np.ndarray]]:
    """torch's output and the arrays fed: one per shape of a list (value kinds torch takes), else one array."""
    if isinstance(shape, list) and op not in IDS:
        return fuzz_inputs.feed(op, module, forward, shape, seed)
    arrays = [_input(op, kwargs, s, seed) for s in (shape if isinstance(shape, list) else [shape])]
    return (None if module is None else fuzz_inputs.torch_out(module, arrays, forward)), arrays


def _lazy(op: str, kwargs: dict[str, Any]) -> bool:
    """Whether a size argument is None (inferred by symshape), of the layer or of a sublayer it is given."""
    if any(kwargs.get(a, 0) is None for a in LAYERS[op].size_args if a not in NOT_GIVEN):
        return True
    return any(isinstance(v, tuple) and len(v) == 2 and v[0] in LAYERS and isinstance(v[1], dict) and _lazy(*v)
               for v in kwargs.values())


def compare(op: str, kwargs: dict[str, Any], shape: Any, seed: int = 0,
            stages: Counter | None = None) -> tuple[str, str] | None:
    """One case: None when symshape agrees with torch on ``op(**kwargs)`` over inputs of ``shape`` (one shape,
    the same tensor fed to every input as self-attention, or a list of shapes, one per input);
    ("excluded:<reason>", ...) for a documented exclusion (see ``excluded``). ``stages`` counts the cases
    that got past the arguments to the input's verdict ("input") and to the forward values ("values")."""
    stages = Counter() if stages is None else stages
    desc = f"{op}({kwargs}) on {shape}"
    layer, module, forward = _build(op, kwargs)
    if isinstance(layer, Exception):
        return "internal", f"{desc}: {type(layer).__name__}: {layer}"
    expected, arrays = _feed(op, kwargs, module, forward, shape, seed)
    if layer is None or module is None:  # torch may accept arguments it refuses only when run
        if layer is None and expected is not None:
            reason = excluded(op, kwargs, expected)
            if reason:
                return f"excluded:{reason}", desc
            return "arguments", f"{desc}: symshape refuses the arguments, torch runs"
        lazy = _lazy(op, kwargs)  # symshape infers a None size, torch has no such argument
        if layer is None or lazy or not _analyses(op, layer, shape):  # arguments that do not fit together
            return None  # are refused by the analysis (a model error, CONTRACT section 5)
        return "arguments", f"{desc}: torch refuses the arguments, symshape accepts and analyses the model"
    if isinstance(shape, list):
        n = len(shape)
    else:
        n = _n_inputs(op, layer)
        if n is None:
            return None
        if n > 1:
            arrays = arrays * n
            expected = fuzz_inputs.torch_out(module, arrays, forward)
    stages["input"] += 1
    try:
        graph = _graph(layer, shape, arrays)
    except ss.ShapeMismatchError:
        graph = None
    except ss.SpecError as exc:
        return ("verdict", f"{desc}: symshape refuses ({exc})") if expected is not None else None
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: {type(exc).__name__}: {exc}"
    if random.Random(seed + 1).random() < CLI:
        stages["cli"] += 1
        found = _compare_cli(layer, shape, arrays, graph is not None, desc)
        if found is not None:
            return found
    if graph is None and expected is not None and excluded(op, kwargs, expected):
        return f"excluded:{excluded(op, kwargs, expected)}", desc
    if graph is not None and expected is None and _values_refused(graph, arrays):
        return None
    if (graph is None) != (expected is None):
        return "verdict", f"{desc}: torch {'refuses' if expected is None else 'runs'}, symshape does not"
    if graph is None:
        return None
    got_shape = tuple(graph.output_shapes[0])
    if got_shape != tuple(expected.shape):
        return "shape", f"{desc}: symshape {got_shape}, torch {tuple(expected.shape)}"
    stages["values"] += 1
    found = _compare_values(op, kwargs, graph, module, arrays, forward, desc)
    if found is None and random.Random(seed).random() < IMPORT:
        stages["import"] += 1
        found = _compare_import(module, arrays, forward, desc)
    return found


class _Called(torch.nn.Module):
    """``inner(*inputs, **options)`` as a forward of named tensor arguments ``x0, x1, ...`` (``order`` picks
    the argument of each input: self-attention feeds one tensor three times), so that ss.from_torch sees
    the module as one call, as in a real model."""

    def __init__(self, inner: torch.nn.Module, order: list[int], options: dict[str, Any]) -> None:
        super().__init__()
        self.inner, self.order, self.options = inner, order, options

    def forward(self, x0, x1=None, x2=None, x3=None, x4=None, x5=None, x6=None, x7=None):  # noqa: ANN001, ANN201
        xs = (x0, x1, x2, x3, x4, x5, x6, x7)
        return self.inner(*[xs[i] for i in self.order], **self.options)


def _compare_import(module: torch.nn.Module, arrays: list[np.ndarray], forward: dict[str, Any],
                    desc: str) -> tuple[str, str] | None:
    """The torch module (symshape's weights loaded) through ss.from_torch at the arrays' shapes: it imports,
    its state_dict is the module's and its forward equals torch's."""
    distinct = list({id(a): a for a in arrays}.values())
    if len(distinct) > 8:
        return None
    order = [next(i for i, d in enumerate(distinct) if d is a) for a in arrays]
    wrapped = _Called(module, order, forward).eval()
    inputs = {f"x{i}": {"shape": list(a.shape), "dtype": str(a.dtype)} for i, a in enumerate(distinct)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ss.from_torch(wrapped, inputs=inputs)
        graph = model.infer()
        state = {k: v.detach().numpy() for k, v in wrapped.state_dict().items()}
        got = graph.forward(state, *distinct)
    except ss.SpecError as exc:
        return "import", f"{desc}: from_torch refuses ({' '.join(str(exc).split())[:400]})"
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: from_torch {type(exc).__name__}: {exc}"
    expected = fuzz_inputs.torch_out(wrapped, arrays[:0] + distinct, {})
    got = got[0] if isinstance(got, tuple) else got
    if expected is not None and expected.dtype.is_floating_point and not np.allclose(
            got, expected.numpy(), rtol=1e-4, atol=1e-5, equal_nan=True):
        return "import", f"{desc}: the imported model's forward differs by {np.nanmax(np.abs(got - expected.numpy()))}"
    return None


def conditions(op: str, kwargs: dict[str, Any], rng: random.Random,
               stages: Counter | None = None) -> tuple[str, str] | None:
    """The layer's symbolic conditions at random sizes (``fuzz_inputs.condition_cases``) against torch:
    "conditions" when the conditions the analysis states, "bind" when ``graph.valid``, accept other sizes
    than those at which torch runs. Counted in ``stages["conditions"]``."""
    stages = Counter() if stages is None else stages
    layer, module, forward = _build(op, kwargs)
    if not isinstance(layer, ss.Layer) or module is None or _inputs_of(layer) is None:
        return None
    def feed(sizes: list[tuple[int, ...]], seed: int) -> tuple[Any, list[np.ndarray]]:  # a fresh module: lazy ones keep
        return _feed(op, kwargs, _build(op, kwargs)[1], forward, sizes, seed)  # their first input's sizes

    try:
        cases = fuzz_inputs.condition_cases(layer, LAYERS[op], feed, _inputs_of(layer), rng)
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{op}({kwargs}) conditions: {type(exc).__name__}: {exc}"
    for says, valid, (expected, arrays), point, shapes, sizes in cases:
        stages["conditions"] += 1
        runs = expected is not None
        if runs and not (says and valid) and excluded(op, kwargs, expected):
            continue
        desc = f"{op}({kwargs}) on {[tuple(map(str, s)) for s in shapes]} at {point}: torch {'runs' if runs else 'refuses'}"
        if says and not runs and _values_refused_at(layer, sizes, arrays):
            continue
        if says != runs:
            return "conditions", f"{desc}, the analysis' conditions {'accept' if says else 'refuse'}"
        if valid != runs:
            return "bind", f"{desc}, graph.valid says {valid}"
    return None


def _values_refused(graph: Any, arrays: list[np.ndarray]) -> bool:
    """Whether symshape's forward refuses these values too, where torch refuses every value kind tried
    (CTCLoss: concatenated targets hold sum(target_lengths) labels): a data error, not a shape verdict."""
    if len(arrays) < 2:
        return False
    try:
        graph.forward(graph.materialize(seed=0), *list({id(a): a for a in arrays}.values()))
    except ss.ShapeError:
        return True
    except Exception:  # noqa: BLE001  (reported by the verdict)
        return False
    return False


def _values_refused_at(layer: ss.Layer, sizes: list[tuple[int, ...]], arrays: list[np.ndarray]) -> bool:
    """``_values_refused`` at concrete sizes the analysis accepts."""
    try:
        return _values_refused(_graph(layer, sizes, arrays), arrays)
    except ss.ShapeError:
        return False


def _one_value_groups(op: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> bool:
    """GroupNorm over one value per group: (x - mean) / sqrt(eps) is exactly 0 in symshape, torch's float
    rounding of x - mean (~1e-8) times 1 / sqrt(eps) (~316 at eps 1e-5): values out of scope."""
    groups, channels = kwargs.get("num_groups"), kwargs.get("num_channels")
    return op == "GroupNorm" and len(shape) >= 2 and channels == groups and math.prod(shape[2:]) == 1


def _n_inputs(op: str, layer: ss.Layer) -> int | None:
    """How many inputs a one-shape case feeds (the same tensor to each: self-attention), None for arguments only."""
    n = layer.n_inputs
    n = n[0] if isinstance(n, tuple) else n
    masked = bool(getattr(layer, "masks", ()))  # masks are inputs of their own: not fed x
    return n if n == 1 or (family(op) == "attention/transformer" and not masked) else None


def _analyses(op: str, layer: ss.Layer, shape: Any) -> bool:
    """Whether symshape's analysis of ``layer`` on symbolic sizes of ``shape``'s ranks succeeds."""
    shapes = shape if isinstance(shape, list) else [shape] * (_n_inputs(op, layer) or 1)
    if not isinstance(shape, list) and len(shapes) == 1 and layer.n_inputs not in (1, (1, 2), (1, 3)):
        return False  # a loss or a binary layer fed one shape: only its arguments are compared
    symbolic = [tuple(dims.sym(f"S{i}_{a}") for a in range(len(s))) for i, s in enumerate(shapes)]
    graph = fuzz_inputs.analyse(layer, symbolic, ["float32"] * len(symbolic))
    return graph is not None and not graph.errors


def _compare_cli(layer: ss.Layer, shape: Any, arrays: list[np.ndarray], accepted: bool, desc: str
                 ) -> tuple[str, str] | None:
    """The case's model written with ss.save_spec and checked by ``symshape check``: it reads back, exits 0
    where the Python API accepts the model and 1 or 2 where it refuses it, never 3 (an internal error)."""
    model = _model(layer, shape if isinstance(shape, list) or len(arrays) > 1 else [shape], arrays)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "case.yaml")
        ss.save_spec(model, path)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = cli_main(["check", path])
    if code not in (0, 1, 2) or (code == 0) != accepted:  # 1: the model's errors, 2: a malformed spec
        return "cli", (f"{desc}: symshape check exits {code} where the API {'accepts' if accepted else 'refuses'}"
                       f": {' '.join(err.getvalue().split())[:300]}")
    return None


def _model(layer: ss.Layer, shape: Any, arrays: list[np.ndarray]) -> ss.Model:
    """The layer on its inputs: one per shape of a list (``x0``, ``x1``, ...), else one input ``x`` fed to
    every argument (self-attention)."""
    if isinstance(shape, list):
        xs = [ss.Input(s, name=f"x{i}", dtype=fuzz_inputs.dtype_of(a)) for i, (s, a) in enumerate(zip(shape, arrays))]
    else:
        xs = [ss.Input(shape, name="x")] * len(arrays)
    out = layer(*xs)
    return ss.Model(inputs=list(dict.fromkeys(xs)), outputs=[out[0] if isinstance(out, tuple) else out])


def _graph(layer: ss.Layer, shape: Any, arrays: list[np.ndarray]) -> Any:
    if len(arrays) == 1:
        return ss.Sequential(layer).infer(shape[0] if isinstance(shape, list) else shape)
    return _model(layer, shape, arrays).infer()


def _compare_values(op: str, kwargs: dict[str, Any], graph: Any, module: torch.nn.Module, arrays: list[np.ndarray],
                    forward: dict[str, Any], desc: str) -> tuple[str, str] | None:
    params = {k.split(".", 1)[1]: v for k, v in graph.materialize(seed=0).items()}  # the layer's own names
    state = module.state_dict()
    if set(state) != set(params):
        return "state", f"{desc}: state_dict {sorted(state)} vs {sorted(params)}"
    if any(tuple(state[k].shape) != np.shape(v) for k, v in params.items()):
        return "state", f"{desc}: state_dict shapes differ"
    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in params.items()})
    params = graph.materialize(seed=0)
    expected = fuzz_inputs.torch_out(module, arrays, forward)  # copies: in-place modules write their input
    distinct = list({id(a): a for a in arrays}.values())
    try:
        got = graph.forward(params, *distinct)
    except ss.ShapeError as exc:
        if expected is not None and op == "CTCLoss" and "class indices" in str(exc):
            return "excluded:ctc-blank-target", desc  # torch reads past the classes (undefined values)
        return None if expected is None else ("forward", f"{desc}: symshape's forward refuses ({exc}), torch runs")
    except Exception as exc:  # noqa: BLE001
        return "internal", f"{desc}: forward {type(exc).__name__}: {exc}"
    if expected is None:
        return "forward", f"{desc}: torch's forward refuses, symshape's runs"
    got = got[0] if isinstance(got, tuple) else got
    if _one_value_groups(op, kwargs, arrays[0].shape):
        return "excluded:one-value-groups", desc
    if expected.dtype.is_floating_point and not np.allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5,
                                                            equal_nan=True):
        if op == "CTCLoss" and (arrays[1].dtype.kind == "f" or np.any(arrays[1] == kwargs.get("blank", 0))):
            return "excluded:ctc-blank-target", desc
        return "values", f"{desc}: forward differs by {np.nanmax(np.abs(got - expected.numpy()))}"
    return None


def _is_module(op: str) -> bool:
    return isinstance(getattr(torch.nn, op, None), type) and issubclass(getattr(torch.nn, op), torch.nn.Module)


def skipped() -> dict[str, str]:
    """Every registered layer the fuzzer does not draw, with the reason."""
    reasons = {}
    for op in sorted(LAYERS):
        if op.startswith("_"):
            reasons[op] = "abstract base class, not a layer of its own"
        elif op in SKIP:
            reasons[op] = SKIP[op]
        elif not _is_module(op):
            reasons[op] = "tensor op with no torch.nn module of its name (tests/fuzz.py and the importers' tests)"
    return reasons


def fuzzed_ops() -> list[str]:
    return sorted(op for op in LAYERS if op not in skipped())


def run(per_layer: int, seed: int, ops: list[str] | None = None) -> tuple[Counter, list[tuple[str, str]]]:
    """Cases tried per op and the disagreements found (documented exclusions left out, see ``excluded``)."""
    tried, _, found = run_counted(per_layer, seed, ops)
    return tried, [f for f in found if not f[0].startswith("excluded:")]


def run_counted(per_layer: int, seed: int,
                ops: list[str] | None = None) -> tuple[Counter, Counter, list[tuple[str, str]]]:
    """Cases tried per op, cases compared beyond the arguments (shapes or values) per op, every finding."""
    tried: Counter = Counter()
    deep: Counter = Counter()
    found: list[tuple[str, str]] = []
    for op in ops or fuzzed_ops():
        rng = random.Random(f"{seed}:{op}")
        stages: Counter = Counter()
        for _ in range(per_layer):
            tried[op] += 1
            result = one_case(op, rng, stages)
            if result is not None:
                found.append(result)
        for stage in STAGES:
            deep[op, stage] = stages[stage]
    return tried, deep, found


def summary(tried: Counter, deep: Counter, found: list[tuple[str, str]]) -> list[str]:
    """Lines: cases per family (and how many reached the input's verdict and the values), findings by kind,
    the layers skipped and why."""
    lines = [f"{'family':24} {'layers':>6} {'cases':>7} " + " ".join(f"{s:>10}" for s in STAGES)]
    fams: dict[str, list[str]] = {}
    for op in tried:
        fams.setdefault(family(op), []).append(op)
    for fam, ops in sorted(fams.items()):
        lines.append(f"{fam:24} {len(ops):6} {sum(tried[o] for o in ops):7} "
                     + " ".join(f"{sum(deep[o, s] for o in ops):10}" for s in STAGES))
    kinds = Counter(kind for kind, _ in found)
    disagreements = {k: n for k, n in kinds.items() if not k.startswith("excluded:")}
    lines.append(f"total: {sum(tried.values())} cases over {len(tried)} layers; "
                 f"disagreements by kind: {disagreements or 0}; documented exclusions: "
                 f"{ {k[9:]: n for k, n in kinds.items() if k.startswith('excluded:')} or 0}")
    lines += [f"skipped {op}: {why}" for op, why in skipped().items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-layer", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--op", action="append", help="fuzz only these ops")
    parser.add_argument("--out", help="also write the summary to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tried, deep, found = run_counted(args.per_layer, args.seed, args.op)
    report = [f"[{kind}] {text}" for kind, text in found if not kind.startswith("excluded:")]
    report += summary(tried, deep, found)
    print("\n".join(report))
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"python tests/fuzz_layers.py --per-layer {args.per_layer} --seed {args.seed}\n")
            f.write("\n".join(report) + "\n")
    return 1 if any(not kind.startswith("excluded:") for kind, _ in found) else 0


if __name__ == "__main__":
    sys.exit(main())
