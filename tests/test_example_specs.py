"""Every example spec against its torch model, through the command line: shapes and state_dict
names for two bindings (summary --format json), then init + run against torch's eval output."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from models.torch_models import (
    VGG11,
    GRUClassifier,
    LeNetSpec,
    LSTMTagger,
    MobileNetish,
    ResNet18,
    ResNet50,
    TransformerClassifier,
    UNet,
)

from symshape.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples"

# spec, torch model factory, input name, two bindings (name -> sizes), the input shape of each binding
CASES = {
    "lenet": (LeNetSpec, [{"B": 2}, {"B": 5}], lambda b: (b["B"], 1, 28, 28)),
    "vgg11": (VGG11, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 40, "W": 36}], lambda b: (b["B"], 3, b["H"], b["W"])),
    "resnet18": (ResNet18, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 45, "W": 38}],
                 lambda b: (b["B"], 3, b["H"], b["W"])),
    "resnet50": (ResNet50, [{"B": 1, "H": 32, "W": 32}, {"B": 1, "H": 50, "W": 41}],
                 lambda b: (b["B"], 3, b["H"], b["W"])),
    "unet": (UNet, [{"B": 1, "H": 16, "W": 12}, {"B": 2, "H": 20, "W": 8}], lambda b: (b["B"], 1, b["H"], b["W"])),
    "lstm_tagger": (LSTMTagger, [{"B": 2, "T": 7}, {"B": 3, "T": 4}], lambda b: (b["B"], b["T"])),
    "transformer_encoder": (TransformerClassifier, [{"B": 2, "S": 6}, {"B": 1, "S": 3}], lambda b: (b["B"], b["S"], 64)),
    "gru_classifier": (GRUClassifier, [{"B": 2, "T": 5, "D": 10}, {"B": 3, "T": 2, "D": 10}],
                       lambda b: (b["B"], b["T"], b["D"])),
    "mobilenet": (MobileNetish, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 21, "W": 15}],
                  lambda b: (b["B"], 3, b["H"], b["W"])),
}
INPUT_NAMES = {"lstm_tagger": "tokens"}


def example_input(name, shape):
    rng = np.random.default_rng(0)
    if name == "lstm_tagger":
        return rng.integers(0, 1000, size=shape).astype(np.int64)
    return rng.standard_normal(shape).astype(np.float32)


def cli_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.parametrize("name", list(CASES))
def test_summary_json_matches_torch_for_two_bindings(name, capsys):
    factory, bindings, shape_of = CASES[name]
    module = factory().eval()
    expected_params = {k: list(v.shape) for k, v in module.named_parameters()}
    expected_buffers = {k: list(v.shape) for k, v in module.named_buffers()}
    for binding in bindings:
        report = cli_json(capsys, "summary", str(EXAMPLES / f"{name}.yaml"), "--format", "json",
                          "--bind", ",".join(f"{k}={v}" for k, v in binding.items()))
        assert report["params"] == expected_params
        assert list(report["params"]) == list(expected_params)
        assert report["buffers"] == expected_buffers
        assert report["num_params"] == sum(p.numel() for p in module.parameters())
        with torch.device("meta"):
            meta_input = torch.zeros(shape_of(binding), dtype=torch.int64 if name == "lstm_tagger" else torch.float32)
            out_shape = list(factory().eval()(meta_input).shape)
        assert list(report["outputs"].values()) == [out_shape]
        assert report["errors"] == []


@pytest.mark.parametrize("name, fmt", [("lenet", "npz"), ("resnet18", "safetensors"), ("resnet50", "npz"),
                                       ("vgg11", "safetensors"), ("unet", "npz"), ("lstm_tagger", "safetensors"),
                                       ("transformer_encoder", "npz"), ("gru_classifier", "safetensors"),
                                       ("mobilenet", "npz")])
def test_init_then_run_reproduces_torch(name, fmt, tmp_path, capsys):
    factory, bindings, shape_of = CASES[name]
    binding = bindings[0]
    weights, x_file, y_file = tmp_path / f"w.{fmt}", tmp_path / "x.npy", tmp_path / "y.npz"
    binds = ["--bind", ",".join(f"{k}={v}" for k, v in binding.items() if k not in ("B", "T", "S"))]
    binds = binds if binds[1] else []
    assert main(["init", str(EXAMPLES / f"{name}.yaml"), *binds, "--seed", "3", "-o", str(weights)]) == 0
    x = example_input(name, shape_of(binding))
    np.save(x_file, x)
    assert main(["run", str(EXAMPLES / f"{name}.yaml"), "--weights", str(weights), "--input",
                 f"{INPUT_NAMES.get(name, 'x')}={x_file}",
                 "-o", str(y_file)]) == 0
    capsys.readouterr()
    module = factory().eval()
    if fmt == "npz":
        with np.load(weights) as data:
            state = {k: torch.from_numpy(data[k]) for k in data.files}
    else:
        from safetensors.torch import load_file

        state = load_file(str(weights))
    module.load_state_dict(state, strict=True)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    with np.load(y_file) as result:
        (got,) = [result[k] for k in result.files]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
