"""Cost formulas, once bound, equal torch's own counts: parameters as torchinfo's, multiply-accumulates
as torch.utils.flop_counter's FLOPs / 2 (every leading dim counted, bias adds not), and each bias-free
convolution's mult-adds as torchinfo's (where the two conventions agree)."""

from pathlib import Path

import pytest
import torch
import torchinfo
from models.torch_models import VGG11, GRUClassifier, LeNetSpec, LSTMTagger, MobileNetish, ResNet18, ResNet50, UNet
from torch.utils.flop_counter import FlopCounterMode

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


def torch_macs(module: torch.nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode's FLOPs / 2 for one eval forward, with the unfused kernels (oneDNN's LSTM hides its work)."""
    module.eval()
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name, factory, bindings, shape_of", CASES, ids=[c[0] for c in CASES])
def test_bound_cost_formulas_equal_torch(name, factory, bindings, shape_of):
    symbolic = ss.load_spec(EXAMPLES / f"{name}.yaml").infer()
    formulas = costs(symbolic)
    for binding in bindings:
        bound = symbolic.bind(**binding)
        cost = costs(bound)
        shape = shape_of(binding)
        x = torch.randint(0, 10, shape) if name == "lstm_tagger" else torch.rand(shape)
        module = factory()
        assert cost.macs == torch_macs(module, x)
        dtypes = [torch.long] if name == "lstm_tagger" else None
        stats = torchinfo.summary(module, input_size=shape, dtypes=dtypes, verbose=0)
        assert cost.params == stats.total_params
        convs = [layer.macs for layer in stats.summary_list
                 if isinstance(layer.module, torch.nn.Conv2d) and layer.module.bias is None]
        ours = [c.macs for n, c in cost.nodes.items() if isinstance(bound.node(n)["layer"], ss.Conv2d) and "bias" not in
                bound.node(n)["params"] and not bound.node(n)["owner"]]
        assert sorted(ours) == sorted(convs)  # the conventions agree on bias-free convolutions
        values = {ss.sym(k): v for k, v in binding.items()}
        assert ss.dims.evaluate(formulas.macs, values) == cost.macs  # the formula, evaluated, is the bound figure


@pytest.mark.parametrize("layer, module, shape", [
    (ss.Linear(12, 7), torch.nn.Linear(12, 7), (2, 5, 12)),  # every leading dim counts: 2*5*12*7
    (ss.MultiheadAttention(16, 4), torch.nn.MultiheadAttention(16, 4), (5, 2, 16)),
    (ss.MultiheadAttention(16, 4, batch_first=True, kdim=8, vdim=6), None, None),
    (ss.GRU(10, 20, batch_first=True), torch.nn.GRU(10, 20, batch_first=True), (3, 7, 10)),
    (ss.ConvTranspose2d(4, 6, 3, stride=2, groups=2), torch.nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (2, 4, 5, 7)),
])
def test_layer_macs_equal_the_flop_counter(layer, module, shape):
    if module is None:  # separate key and value sizes
        module = torch.nn.MultiheadAttention(16, 4, batch_first=True, kdim=8, vdim=6)
        q, k, v = torch.rand(2, 5, 16), torch.rand(2, 9, 8), torch.rand(2, 9, 6)
        xs = [ss.Input(tuple(t.shape), name=n) for n, t in zip("qkv", (q, k, v))]
        g = ss.Model(xs, layer(*xs)[0]).infer()
        module.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(q, k, v)
        assert g.costs().macs == counter.get_total_flops() // 2
        return
    inputs = (torch.rand(shape),) * (3 if isinstance(module, torch.nn.MultiheadAttention) else 1)
    xs = [ss.Input(shape, name=f"x{i}") for i in range(len(inputs))]
    out = layer(*xs)
    graph = ss.Model(xs, out if isinstance(out, ss.SymbolicTensor) else out[0]).infer()
    module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    assert graph.costs().macs == counter.get_total_flops() // 2


def test_hand_written_attention_counts_its_matmuls():
    """The issue's case: attention written with MatMul at T=1024 was counted 1,703x low."""
    x = ss.Input("B, T, 64", name="x")
    q, k, v = (ss.Linear(64, 64)(x, name=n) for n in "qkv")
    scores = ss.Softmax(-1)(ss.MatMul()(q, ss.Transpose(1, 2)(k)))
    g = ss.Model(x, ss.MatMul()(scores, v)).infer().bind(B=2, T=1024)
    assert g.costs().macs == 3 * 2 * 1024 * 64 * 64 + 2 * 2 * 1024 * 1024 * 64


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
