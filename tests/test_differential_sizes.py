"""For every example spec with an image input, over H, W from 1 to 96: the conditions symshape
reports hold exactly at the sizes where the equivalent torch model runs (torch on the meta device)."""

import random
from pathlib import Path

import pytest
import torch
from models.torch_models import VGG11, MobileNetish, ResNet18, ResNet50, UNet
from torch import nn

import symshape as ss

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
