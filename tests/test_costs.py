"""Cost formulas, once bound, equal torchinfo's parameter and mult-add counts."""

from pathlib import Path

import pytest
import torch
import torchinfo
from models.torch_models import VGG11, GRUClassifier, LeNetSpec, LSTMTagger, MobileNetish, ResNet18, ResNet50, UNet

import symshape as ss
from symshape.costs import costs

EXAMPLES = Path(__file__).parents[1] / "examples"

CASES = [
    ("lenet", LeNetSpec, [{"B": 2}, {"B": 5}], lambda b: (b["B"], 1, 28, 28)),
    ("resnet18", ResNet18, [{"B": 1, "H": 224, "W": 224}, {"B": 2, "H": 45, "W": 38}], lambda b: (b["B"], 3, b["H"], b["W"])),
    ("resnet50", ResNet50, [{"B": 1, "H": 64, "W": 64}, {"B": 1, "H": 50, "W": 41}], lambda b: (b["B"], 3, b["H"], b["W"])),
    ("vgg11", VGG11, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 40, "W": 36}], lambda b: (b["B"], 3, b["H"], b["W"])),
    ("unet", UNet, [{"B": 1, "H": 16, "W": 12}, {"B": 2, "H": 20, "W": 8}], lambda b: (b["B"], 1, b["H"], b["W"])),
    ("mobilenet", MobileNetish, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 21, "W": 15}], lambda b: (b["B"], 3, b["H"], b["W"])),
    ("lstm_tagger", LSTMTagger, [{"B": 2, "T": 7}, {"B": 3, "T": 4}], lambda b: (b["B"], b["T"])),
    ("gru_classifier", GRUClassifier, [{"B": 2, "T": 5, "D": 10}, {"B": 1, "T": 9, "D": 10}], lambda b: (b["B"], b["T"], b["D"])),
]


@pytest.mark.parametrize("name, factory, bindings, shape_of", CASES, ids=[c[0] for c in CASES])
def test_bound_cost_formulas_equal_torchinfo(name, factory, bindings, shape_of):
    symbolic = ss.load_spec(EXAMPLES / f"{name}.yaml").infer()
    formulas = costs(symbolic)
    for binding in bindings:
        bound = symbolic.bind(**binding)
        cost = costs(bound)
        dtypes = [torch.long] if name == "lstm_tagger" else None
        stats = torchinfo.summary(factory(), input_size=shape_of(binding), dtypes=dtypes, verbose=0)
        assert cost.params == stats.total_params
        assert cost.macs == stats.total_mult_adds
        values = {ss.sym(k): v for k, v in binding.items()}
        assert ss.dims.evaluate(formulas.macs, values) == cost.macs  # the formula, evaluated, is the bound figure


def test_activation_counts_and_peak_memory():
    g = ss.Sequential(ss.Linear(10, 20), ss.ReLU(), ss.Linear(20, 5)).infer("B, 10")
    c = g.costs()
    B = ss.sym("B")
    assert c.activations == 45 * B and c.activation_bytes == 180 * B
    assert c.peak_activation_bytes == 160 * B  # the ReLU's input and output are live together
    x = ss.Input("B, 8", name="x")
    h = ss.Linear(8, 8)(x, name="a")
    g = ss.Model(x, ss.Add()(ss.Linear(8, 8)(h, name="b"), h, name="sum")).infer().bind(B=1)
    assert costs(g, "float64").peak_activation_bytes == 8 * 8 * 3  # a, b and the sum at once
