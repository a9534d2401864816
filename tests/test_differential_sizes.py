"""For every example spec with an image input, over H, W from 1 to 96: the conditions symshape
reports hold exactly at the sizes where the equivalent torch model runs (torch on the meta device).
Also free channels, free feature and key sizes (pinned by layers, listed as conditions), size-1
broadcasting, and every example spec against its own analysis at bound sizes."""

import itertools
import math
import random
from pathlib import Path

import pytest
import torch
from models.torch_models import VGG11, MobileNetish, ResNet18, ResNet50, TransformerClassifier, UNet
from torch import nn

import symshape as ss
from symshape.constraints import render

EXAMPLES = Path(__file__).parents[1] / "examples"


def lazy_lenet() -> nn.Module:
    """examples/lenet.yaml in torch: its fc layers are lazy."""
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.LazyConv2d(16, 5),
                         nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(),
                         nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


CASES = {"lenet": (lazy_lenet, 1), "vgg11": (VGG11, 3), "resnet18": (ResNet18, 3), "resnet50": (ResNet50, 3),
         "unet": (UNet, 1), "mobilenet": (MobileNetish, 3)}


def sizes() -> list[tuple[int, int]]:
    rng = random.Random(0)
    return [(h, h) for h in range(1, 97)] + [(rng.randint(1, 96), rng.randint(1, 96)) for _ in range(60)]


@pytest.mark.parametrize("name", list(CASES))
def test_conditions_hold_exactly_where_torch_runs(name):
    factory, channels = CASES[name]
    graph = ss.load_spec(EXAMPLES / f"{name}.yaml").infer(x=f"1, {channels}, H, W")
    H, W = ss.sym("H"), ss.sym("W")
    with torch.device("meta"):
        model = factory().eval()
        disagreements = []
        for h, w in sizes():
            if name == "lenet":
                model = factory().eval()  # lazy layers fix their sizes on the first call
            try:
                with torch.no_grad():
                    model(torch.empty(1, channels, h, w))
                torch_runs = True
            except (RuntimeError, ValueError):
                torch_runs = False
            ours = all(c.holds({H: h, W: w}) for c in graph.constraints)
            if ours != torch_runs:
                disagreements.append((h, w, ours, torch_runs))
    assert disagreements == []


def torch_runs(module: nn.Module, *shapes: tuple[int, ...]) -> bool:
    try:
        with torch.no_grad():
            module(*(torch.zeros(s, device="meta") for s in shapes))
        return True
    except (RuntimeError, ValueError, AssertionError):
        return False


def printed_holds(graph: ss.ShapeGraph, sizes: dict[str, int]) -> bool:
    """The conditions as printed (Python syntax), evaluated at ``sizes``."""
    names = {"floor": math.floor, "ceil": math.ceil, "min": min, "max": max}
    return all(eval(text, dict(names), dict(sizes)) for text in render(graph.constraints))


@pytest.mark.parametrize("name", [n for n in CASES if n != "unet"])  # unet.yaml's stem is lazy: any C
def test_free_channels_are_pinned_exactly(name):
    """x: (1, C, H, W) with C free: the stem pins C, listed as a condition; torch agrees over C and H = W."""
    factory, channels = CASES[name]
    graph = ss.load_spec(EXAMPLES / f"{name}.yaml").infer(x="1, C, H, W")
    assert f"C == {channels}" in render(graph.constraints)
    disagreements = []
    with torch.device("meta"):
        model = factory().eval()
        for c, h in itertools.product((1, channels, channels + 1), range(1, 70, 3)):
            if name == "lenet":
                model = factory().eval()
            sizes = {"C": c, "H": h, "W": h}
            verdicts = (printed_holds(graph, sizes), graph.valid(**sizes))
            if verdicts != (torch_runs(model, (1, c, h, h)),) * 2:
                disagreements.append((sizes, verdicts))
    assert disagreements == []


def test_free_feature_and_key_sizes_are_pinned_exactly():
    """A free feature size pinned by d_model, and free key/value sizes pinned by MultiheadAttention's kdim/vdim."""
    encoder = ss.load_spec(EXAMPLES / "transformer_encoder.yaml").infer(x="1, S, E")
    assert render(encoder.constraints) == ["E == 64"]
    q, k, v = ss.Input("1, T, 16", name="q"), ss.Input("1, S, K", name="k"), ss.Input("1, S, V", name="v")
    attention = ss.Model([q, k, v], ss.MultiheadAttention(16, 4, kdim=6, vdim=10, batch_first=True)(q, k, v)).infer()
    assert render(attention.constraints) == ["K == 6", "V == 10"]
    with torch.device("meta"):
        classifier = TransformerClassifier().eval()
        mha = nn.MultiheadAttention(16, 4, kdim=6, vdim=10, batch_first=True)
        for s, e in itertools.product((1, 3), (32, 63, 64, 65)):
            runs = torch_runs(classifier, (1, s, e))
            assert (printed_holds(encoder, {"S": s, "E": e}), encoder.valid(S=s, E=e)) == (runs, runs), (s, e)
        for t, s, kk, vv in itertools.product((1, 2), (1, 4), (5, 6, 7), (1, 10)):
            sizes = {"T": t, "S": s, "K": kk, "V": vv}
            runs = torch_runs(lambda a, b, c: mha(a, b, c), (1, t, 16), (1, s, kk), (1, s, vv))
            assert (printed_holds(attention, sizes), attention.valid(**sizes)) == (runs, runs), sizes


class ResNetDBlock(nn.Module):
    """A stride-2 block whose shortcut average-pools (ResNet-D) without ceil_mode: at odd sizes the
    branches differ, and torch still runs where one of them is 1 (a 3x3 input: 2 against 1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(3, 8, 1))

    def forward(self, x):
        return self.conv(x) + self.shortcut(x)


def resnet_d_block() -> ss.Model:
    x = ss.Input("1, 3, H, W", name="x")
    shortcut = ss.Conv2d(3, 8, 1)(ss.AvgPool2d(2, 2)(x))
    return ss.Model(x, ss.Add()(ss.Conv2d(3, 8, 3, stride=2, padding=1)(x), shortcut))


class Branches(nn.Module):
    def forward(self, a, b):
        return a + b


def test_size_one_broadcasting_is_a_condition_not_an_error():
    """Sizes that may differ broadcast where one of them is 1, as in torch: a ResNet-D shortcut at small
    sizes, and two sequences of lengths T and S."""
    block = resnet_d_block().infer()
    assert render(block.constraints) == ["H >= 2", "W >= 2", "H % 2 == 0 or H == 3", "W % 2 == 0 or W == 3"]
    x, y = ss.Input("1, T, 4", name="x"), ss.Input("1, S, 4", name="y")
    branches = ss.Model([x, y], ss.Add()(x, y)).infer()
    assert render(branches.constraints) == ["S == T or T == 1 or S == 1"]
    with torch.device("meta"):
        torch_block = ResNetDBlock()
        for h, w in itertools.product(range(1, 20), (1, 2, 3, 4, 5, 8)):
            runs = torch_runs(torch_block, (1, 3, h, w))
            assert (printed_holds(block, {"H": h, "W": w}), block.valid(H=h, W=w)) == (runs, runs), (h, w)
        for t, s in itertools.product(range(1, 6), range(1, 6)):
            runs = torch_runs(Branches(), (1, t, 4), (1, s, 4))
            assert (printed_holds(branches, {"T": t, "S": s}), branches.valid(T=t, S=s)) == (runs, runs), (t, s)


GRID = (1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 64, 197, 224, 512, 513, 1024, 1025)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_spec_says_exactly_where_its_bound_analysis_succeeds(path):
    """Every example spec over a grid of its free sizes: the printed conditions, valid() and the analysis at
    the bound sizes (torch's semantics, layer by layer) agree; B is 1 or 2."""
    graph = ss.load_spec(path).infer()
    symbols = [s for s in graph.symbols if s != "B"]
    rng = random.Random(0)
    points = [dict(zip(symbols, values)) for values in itertools.product(GRID, repeat=len(symbols))]
    if len(points) > 40:
        points = [dict.fromkeys(symbols, v) for v in GRID] + rng.sample(points, 40)
    for i, point in enumerate(points):
        sizes = {**point, **({"B": 1 + i % 2} if "B" in graph.symbols else {})}
        bound = graph.bind(strict=False, **sizes)
        verdicts = (printed_holds(graph, sizes), graph.valid(**sizes))
        assert verdicts == (not bound.errors,) * 2, (sizes, render(graph.constraints), bound.errors[:1])
