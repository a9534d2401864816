"""Differential fuzzing against torch: random architectures as spec dicts, run by both.

For each generated spec: symshape accepts it iff the equivalent torch model constructs and runs;
when both run, output shapes, state_dict names and layouts, and eval-mode outputs (rtol 1e-4) agree;
and the conditions of the symbolic analysis, evaluated at the input sizes, predict torch's success.
``check(spec, sizes)`` returns None or a description of the disagreement.

Run ``python tests/fuzz.py N`` (``make fuzz N=...``) for long runs: it prints the count of models
tried and of disagreements, and saves each disagreement as a spec file under tests/regressions/.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

import symshape as ss

REGRESSIONS = Path(__file__).with_name("regressions")
ACTIVATIONS = ["ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "LeakyReLU", "ELU", "Hardswish", "Identity", "Dropout"]


# --- torch equivalents of symshape's non-module ops --------------------------------------------
class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def torch_layer(op: str, args: dict[str, Any]) -> nn.Module:
    """The torch module for one spec entry (same name and arguments, by the contract)."""
    if op == "Add":
        return _Fn(lambda *xs: sum(xs[1:], xs[0]))
    if op == "Concat":
        return _Fn(lambda *xs: torch.cat(xs, args.get("dim", 0)))
    if op == "Reshape":
        return _Fn(lambda x: x.reshape(args["shape"]))
    if op == "Permute":
        return _Fn(lambda x: x.permute(*args["dims"]))
    if op == "Mean":
        return _Fn(lambda x: x.mean(args["dim"]))
    if op in ("LSTM", "GRU"):
        inner = getattr(nn, op)(**args)
        return _Recurrent(inner)
    return getattr(nn, op)(**args)


class _Recurrent(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)[0]


class TorchGraph(nn.Module):
    """The spec's graph in torch: modules registered under the entry names."""

    def __init__(self, spec: dict[str, Any]):
        super().__init__()
        self.entries = []
        for entry in spec["layers"]:
            args = {k: v for k, v in entry.items() if k not in ("name", "op", "in")}
            module = torch_layer(entry["op"], args)
            if isinstance(module, _Recurrent):
                self.add_module(entry["name"], module.inner)
                module = _Recurrent(getattr(self, entry["name"]))
                self.entries.append((entry, module))
            else:
                self.add_module(entry["name"], module)
                self.entries.append((entry, getattr(self, entry["name"])))

    def forward(self, x):
        values = {"x": x}
        previous = "x"
        for entry, module in self.entries:
            ins = entry.get("in", previous)
            ins = [ins] if isinstance(ins, str) else ins
            values[entry["name"]] = module(*[values[i] for i in ins])
            previous = entry["name"]
        return values[previous]


# --- random architectures ------------------------------------------------------------------------
@st.composite
def architectures(draw: Any) -> tuple[dict[str, Any], tuple[int, ...]]:
    """(spec, concrete input sizes): an image or sequence input and 1-6 layers, sometimes branching."""
    image = draw(st.booleans())
    if image:
        sizes = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 12)))
        shape: list[Any] = ["B", "C", "H", "W"]
    else:
        sizes = (draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 8)))
        shape = ["B", "T", "D"]
    layers: list[dict[str, Any]] = []
    rank = len(sizes)
    channels: Any = sizes[1] if image else sizes[2]  # a guess of the current feature size, often right
    for i in range(draw(st.integers(1, 6))):
        name = f"l{i}"
        previous = layers[-1]["name"] if layers else "x"
        choice = draw(st.sampled_from(_ops(rank)))
        entry: dict[str, Any] = {"name": name, "op": choice}
        feature = draw(st.sampled_from([channels, channels, draw(st.integers(1, 6))]))
        if choice in ("Conv2d", "ConvTranspose2d"):
            groups = draw(st.sampled_from([1, 1, 2]))
            out = draw(st.integers(1, 4)) * groups
            entry.update(in_channels=feature, out_channels=out, kernel_size=draw(st.integers(1, 4)),
                         stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, 2)), groups=groups,
                         bias=draw(st.booleans()))
            if choice == "Conv2d":
                entry.update(dilation=draw(st.integers(1, 2)),
                             padding_mode=draw(st.sampled_from(["zeros", "zeros", "reflect", "circular"])))
            channels = out
        elif choice == "LazyConv2d":
            out = draw(st.integers(1, 5))
            entry.update(out_channels=out, kernel_size=draw(st.integers(1, 3)), padding=draw(st.integers(0, 1)))
            channels = out
        elif choice in ("MaxPool2d", "AvgPool2d"):
            k = draw(st.integers(1, 3))
            entry.update(kernel_size=k, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, k // 2)),
                         ceil_mode=draw(st.booleans()))
        elif choice == "AdaptiveAvgPool2d":
            entry.update(output_size=draw(st.integers(1, 3)))
        elif choice == "BatchNorm2d" or choice == "BatchNorm1d":
            entry.update(num_features=feature)
        elif choice == "Flatten":
            rank = 2
            channels = "?"
        elif choice in ("Linear", "LazyLinear"):
            out = draw(st.integers(1, 6))
            entry.update(out_features=out)
            if choice == "Linear":
                entry.update(in_features=feature if feature != "?" else draw(st.integers(1, 40)))
            channels = out
        elif choice == "LayerNorm":
            entry.update(normalized_shape=feature if feature != "?" else draw(st.integers(1, 6)))
        elif choice == "Softmax":
            entry.update(dim=-1)
        elif choice in ("LSTM", "GRU"):
            hidden = draw(st.integers(1, 4))
            bidirectional = draw(st.booleans())
            entry.update(input_size=feature if feature != "?" else 3, hidden_size=hidden, batch_first=True,
                         num_layers=draw(st.integers(1, 2)), bidirectional=bidirectional)
            channels = hidden * (2 if bidirectional else 1)
        elif choice == "TransformerEncoderLayer":
            heads = draw(st.integers(1, 2))
            entry.update(d_model=feature if feature != "?" else 4, nhead=heads, dim_feedforward=8, batch_first=True,
                         dropout=0.0)
        elif choice == "Mean":
            entry.update(dim=1)
            rank -= 1
        elif choice == "Permute":
            entry.update(dims=[0, 2, 1])
        branch = draw(st.sampled_from(["none", "none", "add", "concat"])) if layers else "none"
        layers.append(entry)
        if branch != "none":  # join the new layer's output with the previous tensor
            join = {"name": f"j{i}", "op": "Add" if branch == "add" else "Concat", "in": [name, previous]}
            if branch == "concat":
                join["dim"] = 1
            layers.append(join)
        if rank == 1:
            break
    spec = {"inputs": {"x": shape}, "layers": layers, "outputs": [layers[-1]["name"]]}
    return spec, sizes


def _ops(rank: int) -> list[str]:
    if rank == 4:
        return ["Conv2d", "Conv2d", "LazyConv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                "BatchNorm2d", "Flatten", "Flatten", *ACTIVATIONS[:4]]
    if rank == 3:
        return ["Linear", "LazyLinear", "LayerNorm", "LSTM", "GRU", "TransformerEncoderLayer", "Mean", "Permute",
                "Softmax", *ACTIVATIONS]
    return ["Linear", "LazyLinear", "LayerNorm", "BatchNorm1d", "Softmax", *ACTIVATIONS]


# --- the check -------------------------------------------------------------------------------------
def _torch_run(spec: dict, x: np.ndarray) -> tuple[bool, Any, Any]:
    """(runs, model, output). A tensor with a size-0 dim anywhere counts as a failure: symshape's sizes
    are positive, and it rejects what torch would let through as an empty tensor (a transposed
    convolution whose output size is 0, for instance) — a documented difference."""
    empty = []

    def watch(module: nn.Module, inputs: Any, output: Any) -> None:
        for t in output if isinstance(output, tuple) else (output,):
            if isinstance(t, torch.Tensor) and 0 in t.shape:
                empty.append(type(module).__name__)

    try:
        torch.manual_seed(0)
        model = TorchGraph(spec).eval()
        hooks = [m.register_forward_hook(watch) for m in model.modules()]
        with torch.no_grad():
            out = model(torch.from_numpy(x))
        for h in hooks:
            h.remove()
        return not empty, model, out
    except (RuntimeError, ValueError, AssertionError, IndexError, TypeError):
        return False, None, None


def check(spec: dict[str, Any], sizes: tuple[int, ...]) -> str | None:
    """None when symshape and torch agree on this model at these sizes, else what differs."""
    x = np.random.default_rng(0).standard_normal(sizes).astype(np.float32)
    torch_ok, module, expected = _torch_run(spec, x)
    names = [str(s) for s in spec["inputs"]["x"]]
    try:
        model = ss.load_spec(spec)
    except ss.SpecError as exc:
        return None if not torch_ok else f"symshape rejects the spec ({exc}) but torch runs it"
    symbolic = model.infer(strict=False)
    bound = symbolic.bind(strict=False, **dict(zip(names, sizes))) if not symbolic.errors else None
    concrete = model.infer(sizes, strict=False)
    ours_ok = not concrete.errors
    if ours_ok != torch_ok:
        return f"symshape {'accepts' if ours_ok else 'rejects'} {sizes}, torch {'runs' if torch_ok else 'fails'}: " \
               f"{[c.message for c in concrete.errors]}"
    if bound is not None and (not bound.errors) != torch_ok:
        return f"symbolic analysis bound to {sizes} {'accepts' if not bound.errors else 'rejects'}, torch " \
               f"{'runs' if torch_ok else 'fails'}"
    # the symbolic analysis assumes a symbolic size does not broadcast (is not 1 where it meets another):
    # its conditions are compared with torch for sizes of at least 2
    if not symbolic.errors and min(sizes) >= 2:
        values = {ss.sym(n): v for n, v in zip(names, sizes)}
        fixed = symbolic.fixed_sizes  # sizes the model pins (D = 20) or ties (E = D)
        predicted = all(c.holds(values) for c in symbolic.constraints) and all(
            ss.dims.evaluate(v, values) == values[ss.sym(k)] for k, v in fixed.items())
        if predicted != torch_ok:
            return f"the conditions {[str(c) for c in symbolic.constraints]} and fixed sizes {fixed} " \
                   f"predict {predicted} at {sizes}"
    if not torch_ok:
        return None
    if tuple(concrete.output_shapes[0]) != tuple(expected.shape):
        return f"output shape {concrete.output_shapes[0]} vs torch {tuple(expected.shape)}"
    state = module.state_dict()
    ours = {k: tuple(int(d) for d in s) for k, s in concrete.state_shapes.items()}
    theirs = {k: tuple(v.shape) for k, v in state.items()}
    if list(ours.items()) != list(theirs.items()):
        return f"state_dict {ours} vs torch {theirs}"
    params = concrete.materialize(seed=0)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    got = concrete.forward(params, x)
    if not np.allclose(got, expected, rtol=1e-4, atol=1e-5):
        return f"outputs differ by up to {np.abs(got - expected).max():.3g}"
    return None


def save_regression(spec: dict[str, Any], sizes: tuple[int, ...], problem: str) -> Path:
    REGRESSIONS.mkdir(exist_ok=True)
    case = {"sizes": list(sizes), "problem": problem, "spec": spec}
    text = json.dumps(case, indent=1, sort_keys=True)
    path = REGRESSIONS / f"case_{abs(hash(text)) % 10**10:010d}.json"
    path.write_text(text + "\n")
    return path


def main(n: int) -> int:
    from hypothesis import HealthCheck, given, settings

    counts = {"tried": 0, "disagreements": 0}

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(architectures())
    def one(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
        spec, sizes = case
        counts["tried"] += 1
        try:
            problem = check(spec, sizes)
        except Exception:  # a crash is a disagreement too
            problem = "symshape crashed: " + traceback.format_exc(limit=3)
        if problem:
            counts["disagreements"] += 1
            print(f"disagreement #{counts['disagreements']}: {problem}\n"
                  f"  saved as {save_regression(spec, sizes, problem)}", flush=True)
        if counts["tried"] % 500 == 0:
            print(f"{counts['tried']} models tried, {counts['disagreements']} disagreements", flush=True)

    one()
    tried, bad = counts["tried"], counts["disagreements"]
    print(f"{tried} models tried, {bad} disagreements with torch")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
