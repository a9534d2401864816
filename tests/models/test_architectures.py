"""Whole-model parity with torch: LeNet-5 (Sequential) and ResNet-18 (functional API)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from harness import check_model
from torch_models import ResNet18, lenet5

import symshape as ss

EXAMPLES = Path(__file__).parents[2] / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lenet(lazy: bool) -> ss.Sequential:
    conv2 = ss.LazyConv2d(16, 5) if lazy else ss.Conv2d(6, 16, 5)
    fc1 = ss.LazyLinear(120) if lazy else ss.Linear(400, 120)
    return ss.Sequential(ss.Conv2d(1, 6, 5, padding=2), ss.Sigmoid(), ss.AvgPool2d(2, 2), conv2, ss.Sigmoid(),
                         ss.AvgPool2d(2, 2), ss.Flatten(), fc1, ss.Sigmoid(), ss.LazyLinear(84), ss.Sigmoid(),
                         ss.Linear(84, 10))


@pytest.mark.parametrize("lazy", [False, True])
def test_lenet5_matches_torch(lazy):
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    graph, _ = check_model(lenet(lazy), lenet5(), x)
    assert graph.num_params == 61706


def test_lenet5_symbolic_sizes_and_pinned_input():
    g = lenet(lazy=True).infer("B, 1, H, W")
    assert str(g.param_shapes["7.weight"]) == "(120, 16*(floor(H/4) - 2)*(floor(W/4) - 2))"
    assert sorted(map(str, g.constraints)) == ["H >= 12", "W >= 12"]
    fixed = lenet(lazy=False).infer("B, 1, H, 28")  # Linear(400, 120) with W = 28 pins H
    assert fixed.errors == [] and fixed.output_shapes == [(ss.sym("B"), 10)]
    assert [str(c) for c in fixed.constraints] == ["H >= 28", "H <= 31"]


def test_lenet5_wrong_input_size_is_reported_with_fix():
    with pytest.raises(ss.ShapeMismatchError, match=r"7 \(Linear\): in_features is 400 but its input \(1, 576\) "
                                                     r"from 6 \(Flatten\) has 576\. Use in_features=576 or LazyLinear"):
        lenet(lazy=False).infer((1, 1, 32, 32))


def test_resnet18_functional_matches_torch():
    model = load_example("resnet").resnet18(num_classes=10)
    x = np.random.default_rng(1).standard_normal((2, 3, 48, 40)).astype(np.float32)
    graph, _ = check_model(model, ResNet18(num_classes=10), x, check_init=False)
    assert graph.num_params == sum(p.numel() for p in ResNet18(num_classes=10).parameters())


def test_resnet18_default_init_matches_torch():
    from harness import assert_same_init_distribution

    graph = load_example("resnet").resnet18(num_classes=10).infer((1, 3, 32, 32))
    assert_same_init_distribution(graph, ResNet18(num_classes=10))


def test_resnet18_symbolic_branches_agree():
    g = load_example("resnet").resnet18().infer()
    assert g.errors == [] and g.constraints == []  # valid for every H, W >= 1, as torch is
    assert g.num_params == 11689512
    H = ss.sym("H")
    out = g.node("layer4.1.relu2")["output_shapes"][0]
    assert out[2] == ss.dims.floordiv(H - 1, 32) + 1
    torch_model = ResNet18().eval()
    for h in (1, 7, 31, 32, 33, 65):
        with torch.no_grad():
            features = torch_model.layer4(torch_model.layer3(torch_model.layer2(torch_model.layer1(
                torch_model.maxpool(torch_model.conv1(torch.zeros(1, 3, h, 8)))))))
        assert ss.dims.evaluate(out[2], {H: h}) == features.shape[2]


def _sympy_calls_during(fn) -> int:
    calls = 0

    def profiler(frame, event, arg):
        nonlocal calls
        if event == "call" and "/sympy/" in frame.f_code.co_filename:
            calls += 1

    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def test_concrete_resnet18_does_no_sympy_work():
    model = load_example("resnet").resnet18(input_shape="2, 3, 224, 224")
    graph = model.infer()
    assert graph.is_concrete
    assert _sympy_calls_during(model.infer) == 0
    assert _sympy_calls_during(lambda: graph.materialize(seed=0, only=["fc.weight"])) == 0
