"""to_onnx: every example spec passes onnx.checker and onnxruntime equals symshape's forward; symbolic sizes
stay dim_params; `symshape export` on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_transformer_examples import small_bert, small_gpt2, small_llama, small_vit

import symshape as ss
from symshape.cli import main

SPECS = ("convnext_tiny", "d2l_transformer", "gru_classifier", "lenet", "lstm_tagger", "mobilenet", "resnet18",
         "resnet50", "transformer_encoder", "unet", "vgg11")
EXAMPLES = [Path(__file__).parent.parent / "examples" / f"{name}.yaml" for name in SPECS]
SIZES = {"B": 2, "H": 64, "W": 64, "T": 9, "S": 7, "D": 12}
# AdaptiveAvgPool2d(7) is a fixed window only at H = 7 * 32 * k; the GRU's input size must be known for its weights
BIND = {"vgg11": {"H": 224, "W": 224, "B": 1}, "gru_classifier": {"D": 12}, "convnext_tiny": {"H": 32, "W": 32},
        "vit_b_16": {"H": 32, "W": 32}}
# the transformer examples at the small sizes of tests/test_transformer_examples.py (full size is GiBs of weights)
SMALL = {"gpt2": small_gpt2, "bert": small_bert, "llama": small_llama, "vit_b_16": small_vit}


def _inputs(graph: ss.ShapeGraph, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in graph.model.inputs:
        shape = [d if type(d) is int else SIZES[str(d)] for d in graph.inputs[spec.name]]
        feeds[spec.name] = (rng.standard_normal(shape).astype(np.float32) if spec.dtype == "float32"
                            else rng.integers(0, 2 if "mask" in spec.name else 100, shape).astype(spec.dtype))
    return feeds


def test_every_example_spec_is_exported() -> None:
    names = {p.stem for p in (Path(__file__).parent.parent / "examples").glob("*.yaml")}
    assert names == set(SPECS) | set(SMALL)


@pytest.mark.parametrize("name", [*SPECS, *SMALL])
def test_example_specs_export(name: str, tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    graph = (SMALL[name]() if name in SMALL else ss.load_spec(examples / f"{name}.yaml")).infer()
    graph = graph.bind(**BIND[name]) if name in BIND else graph
    target = tmp_path / "model.onnx"
    ss.to_onnx(graph, target, seed=0)
    proto = onnx.load(str(target))
    onnx.checker.check_model(proto, full_check=True)
    symbolic = {d.dim_param for i in proto.graph.input for d in i.type.tensor_type.shape.dim if d.dim_param}
    assert symbolic == {str(s) for shape in graph.inputs.values() for d in shape if type(d) is not int
                        for s in d.free_symbols}
    params = graph.materialize(seed=0)
    initializers = {i.name for i in proto.graph.initializer}
    recurrent = {n.name for n in graph.model.nodes if n.layer.op in ("LSTM", "GRU", "RNN")}
    named = {k for k in params if not k.endswith("num_batches_tracked") and k.split(".")[0] not in recurrent}
    assert named <= initializers  # the state_dict names (recurrent weights are written in ONNX's gate order)
    feeds = _inputs(graph, np.random.default_rng(0))
    expected = ort.InferenceSession(str(target)).run(None, feeds)
    got = graph.forward(params, **feeds)
    for a, b in zip(got if isinstance(got, tuple) else (got,), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_sizes_computed_in_the_graph(tmp_path: Path) -> None:
    """A reshape to (B, C*H, W) and one to (B, 2, floor(L/2)) compute their sizes from the input shapes."""
    x = ss.Input("B, 3, H, W", name="x")
    y = ss.Flatten(1, 2)(ss.Conv2d(None, 4, 3, padding=1)(x))
    t = ss.Input("B, L", name="t")
    z = ss.Reshape(["B", 2, "floor(L/2)"])(t)
    graph = ss.Model(inputs=[x, t], outputs=[y, z]).infer()
    path = tmp_path / "m.onnx"
    ss.to_onnx(graph, path)
    rng = np.random.default_rng(1)
    for b, h, w, length in ((2, 5, 7, 6), (1, 9, 3, 10)):
        feeds = {"x": rng.standard_normal((b, 3, h, w)).astype(np.float32),
                 "t": rng.standard_normal((b, length)).astype(np.float32)}
        expected = ort.InferenceSession(str(path)).run(None, feeds)
        params = graph.bind(B=b, H=h, W=w, L=length).materialize(seed=0)
        for a, e in zip(graph.forward(params, **feeds), expected):
            np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)


def test_given_weights_are_the_initializers_and_round_trip(tmp_path: Path) -> None:
    model = ss.load_spec(Path(__file__).parent.parent / "examples" / "lenet.yaml")
    graph = model.infer()
    weights = graph.materialize(seed=7)
    path = tmp_path / "lenet.onnx"
    ss.to_onnx(model, path, weights)
    stored = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    for name, value in weights.items():
        np.testing.assert_array_equal(stored[name], value)
    from symshape.importers.onnx import read_onnx

    back = read_onnx(path)
    assert set(back.weights) == set(weights)
    x = np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(back.model.infer().forward(back.weights, x), graph.forward(weights, x), rtol=1e-5)


def test_unexportable_layers_are_listed_at_once(tmp_path: Path) -> None:
    net = ss.Sequential(ss.LazyLinear(8), ss.Softplus(), ss.ELU())
    with pytest.raises(ss.SpecError, match=r"2 layer\(s\) have no ONNX export: 1 \(Softplus\), 2 \(ELU\)"):
        ss.to_onnx(net.infer("B, 4"), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unbound_parameter_sizes_ask_for_a_binding(tmp_path: Path) -> None:
    with pytest.raises(ss.UnresolvedShapeError, match="D"):
        ss.to_onnx(ss.Sequential(ss.LazyLinear(8)).infer("B, D"), tmp_path / "m.onnx")


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = Path(__file__).parent.parent / "examples" / "lstm_tagger.yaml"
    out = tmp_path / "tagger.onnx"
    assert main(["export", str(spec), "--seed", "3", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx.checker.check_model(onnx.load(str(out)))
    tokens = np.random.default_rng(4).integers(0, 1000, (2, 5))
    (logits,) = ort.InferenceSession(str(out)).run(None, {"tokens": tokens})
    assert logits.shape == ss.load_spec(spec).infer().bind(B=2, T=5).output_shapes[0]


@pytest.mark.parametrize("argv, message", [
    (["export", "{spec}", "-o", "{tmp}/model.txt"], "the ONNX file ends in .onnx"),
    (["export", "{bad}", "-o", "{tmp}/model.onnx"], "no ONNX export: 1 (Softplus)"),
    (["export", "{spec}", "-o", "{tmp}/missing/model.onnx"], "does not exist"),
])
def test_cli_export_errors(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, in_features: 4, out_features: 2}\n"
                   "  - {op: Softplus}\n")
    paths = {"spec": str(Path(__file__).parent.parent / "examples" / "lenet.yaml"), "bad": str(bad),
             "tmp": str(tmp_path)}
    assert main([a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*.tmp*"))


@pytest.mark.parametrize("mask_dtype", ["bool", "float32"])
def test_attention_with_a_mask_and_grouped_heads(mask_dtype: str, tmp_path: Path) -> None:
    """A bool mask with a fully masked row (zeros, as torch) or a float mask; 4 query heads on 2 key heads."""
    q, k, v = ss.Input("B, 4, L, 8", name="q"), ss.Input("B, 2, S, 8", name="k"), ss.Input("B, 2, S, 8", name="v")
    mask = ss.Input("L, S", name="mask", dtype=mask_dtype)
    out = ss.ScaledDotProductAttention(enable_gqa=True)(q, k, v, mask)
    graph = ss.Model(inputs=[q, k, v, mask], outputs=[out]).infer()
    ss.to_onnx(graph, tmp_path / "m.onnx")
    rng = np.random.default_rng(3)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in
             (("q", (2, 4, 5, 8)), ("k", (2, 2, 6, 8)), ("v", (2, 2, 6, 8)))}
    keep = rng.random((5, 6)) > 0.4
    keep[1] = False
    feeds["mask"] = keep if mask_dtype == "bool" else rng.standard_normal((5, 6)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, feeds)
    np.testing.assert_allclose(graph.forward({}, **feeds), expected, rtol=1e-4, atol=1e-5)
