"""from_onnx against onnxruntime on graphs written by torch.onnx.export (legacy and dynamo exporters), the
.onnx file on the command line, and the errors for files that cannot be imported."""

from __future__ import annotations

import inspect
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

import symshape as ss
from symshape.cli import main
from symshape.importers.onnx import read_onnx


class Block(torch.nn.Module):
    def __init__(self, c: int, stride: int = 1):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c // stride, c, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)
        self.down = torch.nn.Conv2d(c // stride, c, 1, stride) if stride > 1 else torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + self.down(x))


class ResNetLike(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = torch.nn.MaxPool2d(3, 2, 1)
        self.layer1 = Block(8)
        self.layer2 = Block(16, stride=2)
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.pool(torch.relu(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(50, 16)
        self.layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer(self.emb(ids)).mean(dim=1))


def _mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.GELU(), torch.nn.LayerNorm(12),
                               torch.nn.Linear(12, 3), torch.nn.Softmax(-1))


def _trained(module: torch.nn.Module) -> torch.nn.Module:
    """Random BatchNorm statistics, so that folding them into the convolutions changes the weights."""
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return module.eval()


MODELS = {
    "resnet": (lambda: _trained(ResNetLike()), lambda: torch.randn(2, 3, 32, 32), {0: "batch"}),
    "mlp": (_mlp, lambda: torch.randn(2, 6), {0: "batch"}),
    "encoder": (Encoder, lambda: torch.randint(0, 50, (2, 7)), {0: "batch", 1: "seq"}),
}


def export(module: torch.nn.Module, example: torch.Tensor, axes: dict[int, str], path: str, dynamo: bool) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            argument = next(iter(inspect.signature(module.forward).parameters))
            dynamic = {argument: {k: torch.export.Dim(v, min=2) for k, v in axes.items()}}
            torch.onnx.export(module, (example,), path, dynamo=True, dynamic_shapes=dynamic, verbose=False)
        else:
            torch.onnx.export(module, (example,), path, dynamo=False, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": axes, "y": {0: "batch"}})
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], tuple[str, torch.nn.Module]]:
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, (make, example, axes) in MODELS.items():
        torch.manual_seed(1)
        module = make().eval()
        for dynamo in (False, True):
            # the legacy exporter bakes the sequence length into attention's reshapes: only the batch is dynamic
            dynamic = {0: "batch"} if name == "encoder" and not dynamo else axes
            out[name, dynamo] = export(module, example(), dynamic, str(folder / f"{name}_{dynamo}.onnx"), dynamo), module
    return out


def _feed(model: ss.Model, rng: np.random.Generator, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in model.inputs:
        shape = [d if type(d) is int else sizes[str(d)] for d in spec.shape]
        feeds[spec.name] = (rng.standard_normal(shape).astype(np.float32) if spec.dtype == "float32"
                            else rng.integers(0, 50, shape).astype(spec.dtype))
    return feeds


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize("name", list(MODELS))
def test_import_matches_onnxruntime(exported: dict, name: str, dynamo: bool) -> None:
    path, module = exported[name, dynamo]
    imported = read_onnx(path)
    graph = imported.model.infer()
    batch = ss.sym("batch")
    assert all(shape[0] == batch for shape in graph.output_shapes)  # the batch stays symbolic
    feeds = _feed(imported.model, np.random.default_rng(0), {"batch": 3, "seq": 7 if not dynamo else 5})
    expected = ort.InferenceSession(path).run(None, feeds)
    got = graph.forward(imported.weights, *feeds.values())
    np.testing.assert_allclose(got, expected[0], rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        oracle = module(torch.from_numpy(next(iter(feeds.values())))).numpy()
    np.testing.assert_allclose(got, oracle, rtol=1e-4, atol=1e-5)


def test_dynamic_sequence_is_a_symbol(exported: dict) -> None:
    path, _ = exported["encoder", True]
    graph = ss.from_onnx(path).infer()
    assert graph.output_shapes == [(ss.sym("batch"), 5)]
    assert graph.inputs["ids"] == (ss.sym("batch"), ss.sym("seq"))


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_parameter_names_are_the_initializer_names(exported: dict, dynamo: bool) -> None:
    path, module = exported["mlp", dynamo]
    initializers = {i.name for i in onnx.load(path).graph.initializer}
    graph = ss.from_onnx(path).infer()
    assert set(graph.state_shapes) == initializers == set(module.state_dict())
    # so torch's own state_dict runs the imported model
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    weights = {k: v.numpy() for k, v in module.state_dict().items()}
    with torch.no_grad():
        np.testing.assert_allclose(graph.forward(weights, x), module(torch.from_numpy(x)).numpy(), rtol=1e-4)


def test_folded_layers_are_named_after_the_torch_modules(exported: dict) -> None:
    graph = ss.from_onnx(exported["resnet", True][0]).infer()
    names = set(graph.state_shapes)
    assert {"conv1.weight", "conv1.bias", "layer1.conv1.weight", "layer2.down.weight", "fc.weight"} <= names
    legacy = ss.from_onnx(exported["resnet", False][0])
    assert {n.name: n.layer.op for n in legacy.nodes}["layer2.conv1"] == "Conv2d"  # from /layer2/conv1/Conv


def test_torchvision_resnet18(tmp_path: pytest.TempPathFactory) -> None:
    from symshape.importers._torchvision import ensure_torchvision

    ensure_torchvision()
    import torchvision

    torch.manual_seed(0)
    module = _trained(torchvision.models.resnet18(weights=None))
    path = export(module, torch.randn(1, 3, 64, 64), {0: "batch"}, str(tmp_path / "r18.onnx"), dynamo=False)
    imported = read_onnx(path)
    graph = imported.model.infer()
    assert graph.output_shapes == [(ss.sym("batch"), 1000)]
    assert len(imported.weights) == len(onnx.load(path).graph.initializer)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    expected = ort.InferenceSession(path).run(None, {"x": x})[0]
    np.testing.assert_allclose(graph.forward(imported.weights, x), expected, rtol=1e-4, atol=1e-4)


def _graph_file(path: str, nodes: list, opset: int = 17) -> str:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, path)
    return path


def test_every_unsupported_node_is_listed(tmp_path: pytest.TempPathFactory) -> None:
    path = _graph_file(str(tmp_path / "u.onnx"), [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("NonZero", ["a"], ["b"], name="where_nonzero"),
        helper.make_node("Hardmax", ["a"], ["c"], name="hard"),
        helper.make_node("Add", ["b", "c"], ["y"], name="after"),
    ])
    with pytest.raises(ss.SpecError, match=r"2 ONNX node\(s\) cannot be imported: NonZero where_nonzero: no mapping "
                                           r"for NonZero; Hardmax hard: no mapping for Hardmax$"):
        ss.from_onnx(path)


def test_old_opsets_and_files_that_are_not_onnx(tmp_path: pytest.TempPathFactory) -> None:
    old = _graph_file(str(tmp_path / "old.onnx"), [helper.make_node("Relu", ["x"], ["y"])], opset=11)
    with pytest.raises(ss.SpecError, match="opset 11 is not supported; symshape reads opset 13 and later"):
        ss.from_onnx(old)
    bad = tmp_path / "bad.onnx"
    bad.write_text("name: not a model\n")
    with pytest.raises(ss.SpecError, match="bad.onnx is not an ONNX model"):
        ss.from_onnx(str(bad))
    with pytest.raises(ss.SpecError, match="does not exist"):
        ss.from_onnx(str(tmp_path / "missing.onnx"))


def test_without_onnx_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, exported: dict) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ss.SpecError, match=r"pip install 'symshape\[onnx\]'"):
        ss.from_onnx(exported["mlp", False][0])


def test_symbolic_reshape_sizes(tmp_path: pytest.TempPathFactory) -> None:
    """Shape -> Gather -> Mul -> Concat -> Reshape: the target shape is a formula of the input sizes."""
    consts = [helper.make_node("Constant", [], [n], value=helper.make_tensor(n, TensorProto.INT64, s, v))
              for n, s, v in (("i0", [], [0]), ("i1", [], [1]), ("two", [], [2]), ("ax", [1], [0]),
                              ("half", [1], [2]))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = consts + [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Gather", ["s", "i1"], ["l"], axis=0),
        helper.make_node("Mul", ["n", "two"], ["n2"]),
        helper.make_node("Div", ["l", "two"], ["l2"]),
        helper.make_node("Unsqueeze", ["n2", "ax"], ["n2u"]),
        helper.make_node("Unsqueeze", ["l2", "ax"], ["l2u"]),
        helper.make_node("Concat", ["n2u", "l2u"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    path = str(tmp_path / "r.onnx")
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]),
              path)
    graph = ss.from_onnx(path).infer()
    n, length = ss.sym("N"), ss.sym("L")
    assert graph.output_shapes == [(2 * n, ss.parse_dim("floor(L/2)"))]
    assert any("L" in str(c) for c in graph.constraints)  # the element counts must agree: L even
    assert graph.valid(N=3, L=8) and not graph.valid(N=3, L=7)
    data = np.arange(24, dtype=np.float32).reshape(3, 8)
    np.testing.assert_array_equal(graph.forward({}, data), ort.InferenceSession(path).run(None, {"x": data})[0])
    assert length in ss.dims.free_symbols(graph.output_shapes[0])


# --- the command line ---------------------------------------------------------------------------------


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_check_and_run_an_onnx_file(exported: dict, tmp_path: pytest.TempPathFactory,
                                        capsys: pytest.CaptureFixture) -> None:
    path = exported["resnet", False][0]
    code, out, _ = _run(["check", path], capsys)
    assert code == 0 and "y: (batch, 10)" in out
    x = np.random.default_rng(2).standard_normal((3, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = _run(["run", path, "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "y.npz")], capsys)
    assert code == 0, err
    expected = ort.InferenceSession(path).run(None, {"x": x})[0]
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["y"], expected, rtol=1e-4, atol=1e-5)
    code, _, err = _run(["summary", path, "--bind", "batch=1"], capsys)
    assert code == 0, err


def test_cli_import_writes_a_spec_and_weights(exported: dict, tmp_path: pytest.TempPathFactory,
                                              capsys: pytest.CaptureFixture) -> None:
    path = exported["encoder", True][0]
    spec, weights = tmp_path / "enc.yaml", tmp_path / "enc.safetensors"
    code, out, err = _run(["import", path, "-o", str(spec), "--weights", str(weights)], capsys)
    assert code == 0, err
    ids = np.random.default_rng(3).integers(0, 50, (2, 6)).astype(np.int64)
    np.save(tmp_path / "ids.npy", ids)
    code, _, err = _run(["run", str(spec), "--weights", str(weights), "--input", f"ids={tmp_path / 'ids.npy'}",
                         "-o", str(tmp_path / "out.npy")], capsys)
    assert code == 0, err
    expected = ort.InferenceSession(path).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-4, atol=1e-5)


def test_cli_import_a_torch_factory(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "r18.yaml"
    code, out, err = _run(["import", "torchvision.models:resnet18", "--input", "x=B,3,H,W", "-o", str(spec)], capsys)
    assert code == 0, err
    assert ss.load_spec(spec).infer().output_shapes == [(ss.sym("B"), 1000)]


@pytest.mark.parametrize("case, argv, message", [
    ("garbage", ["check", "{bad}"], "is not an ONNX model"),
    ("unsupported", ["check", "{unsupported}"], "1 ONNX node(s) cannot be imported: NonZero nz"),
    ("import target", ["import", "nothing_here", "-o", "{out}"], "neither an .onnx file nor package.module:factory"),
    ("import output", ["import", "{unsupported}", "-o", "{tmp}/spec.txt"], "ends in .yaml, .yml or .json"),
])
def test_cli_bad_inputs_exit_2_with_one_paragraph(case: str, argv: list[str], message: str,
                                                  tmp_path: pytest.TempPathFactory,
                                                  capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01not onnx")
    unsupported = _graph_file(str(tmp_path / "u.onnx"), [helper.make_node("NonZero", ["x"], ["y"], name="nz")])
    paths = {"bad": str(bad), "unsupported": unsupported, "out": str(tmp_path / "o.yaml"), "tmp": str(tmp_path)}
    code, out, err = _run([a.format(**paths) for a in argv], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o.yaml").exists() and not (tmp_path / "spec.txt").exists()


# --- single ops on hand-built graphs, against onnxruntime -------------------------------------------------


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(np.asarray(value), name))


def _against_onnxruntime(tmp_path: pytest.TempPathFactory, nodes: list, inputs: dict[str, tuple], feeds: dict,
                         initializers: tuple = (), opset: int = 17) -> ss.Model:
    """Save the graph (inputs with symbolic dims), import it, and check forward against onnxruntime."""
    values = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(feeds[n].dtype), s)
              for n, s in inputs.items()]
    graph = helper.make_graph(nodes, "g", values, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[onnx.numpy_helper.from_array(v, n) for n, v in initializers])
    path = str(tmp_path / "op.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    imported = read_onnx(path)
    expected = ort.InferenceSession(path).run(None, feeds)[0]
    got = imported.model.infer().forward(imported.weights, *feeds.values())
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    return imported.model


@pytest.mark.parametrize("mode, value", [("constant", None), ("constant", 1.5), ("reflect", None), ("edge", None),
                                         ("wrap", None)])
def test_pad(tmp_path: pytest.TempPathFactory, mode: str, value: float | None) -> None:
    """ONNX pads (begins then ends, first axis first) on H and W of an (N, C, H, W) input; the pads are an
    initializer, the fill a Constant."""
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    nodes = ([_const("v", np.array(value, np.float32))] if value is not None else []) + [
        helper.make_node("Pad", ["x", "pads"] + (["v"] if value is not None else []), ["y"], mode=mode)]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    model = _against_onnxruntime(tmp_path, nodes, {"x": ["N", 3, 4, 5]}, {"x": x}, [("pads", pads)], opset=19)
    assert model.infer().output_shapes == [(ss.sym("N"), 3, 7, 8)]


def test_pad_with_axes_and_folded_pads(tmp_path: pytest.TempPathFactory) -> None:
    """Opset 18's axes input, and pads computed from constants (Concat of two Constants)."""
    nodes = [_const("begin", np.array([1, 0], np.int64)), _const("end", np.array([0, 3], np.int64)),
             _const("axes", np.array([-2, -1], np.int64)),
             helper.make_node("Concat", ["begin", "end"], ["pads"], axis=0),
             helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"])]
    x = np.random.default_rng(1).standard_normal((2, 4, 5)).astype(np.float32)
    model = _against_onnxruntime(tmp_path, nodes, {"x": ["N", 4, 5]}, {"x": x}, opset=18)
    assert model.infer().output_shapes == [(ss.sym("N"), 5, 8)]


def test_scatter_nd_on_constants_folds(tmp_path: pytest.TempPathFactory) -> None:
    """Swin's attention mask: zeros, then ``mask[h, w] = count`` per region (ScatterND on constants),
    added to the input; nothing of it is left in the model but the folded mask."""
    indices = np.array([[[0, 0], [0, 1]], [[2, 3], [3, 3]]], np.int64)
    nodes = [_const("shape", np.array([4, 4], np.int64)),
             helper.make_node("ConstantOfShape", ["shape"], ["zeros"],
                              value=helper.make_tensor("z", TensorProto.FLOAT, [1], [0.0])),
             _const("idx", indices), _const("upd", np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)),
             helper.make_node("ScatterND", ["zeros", "idx", "upd"], ["mask"]),
             helper.make_node("Relu", ["mask"], ["relu"]),  # another op on constants: onnx.reference folds it
             helper.make_node("Add", ["x", "relu"], ["y"])]
    x = np.random.default_rng(2).standard_normal((3, 4, 4)).astype(np.float32)
    model = _against_onnxruntime(tmp_path, nodes, {"x": ["N", 4, 4]}, {"x": x})
    assert {type(s.layer).__name__ for s in model.nodes} == {"Parameter", "Add"}


def test_scatter_nd_into_a_computed_tensor(tmp_path: pytest.TempPathFactory) -> None:
    """Constant updates written into a tensor computed from the input: a Where on the scattered positions."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), _const("idx", np.array([[1], [3]], np.int64)),
             _const("upd", np.full((2, 5), -7.0, np.float32)),
             helper.make_node("ScatterND", ["r", "idx", "upd"], ["y"])]
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    model = _against_onnxruntime(tmp_path, nodes, {"x": [4, 5]}, {"x": x})
    assert "Where" in {type(s.layer).__name__ for s in model.nodes}


def test_scatter_nd_of_computed_updates_is_reported(tmp_path: pytest.TempPathFactory) -> None:
    path = _graph_file(str(tmp_path / "s.onnx"), [_const("idx", np.array([[0]], np.int64)),
                                                  helper.make_node("ScatterND", ["x", "idx", "x"], ["y"], name="s")])
    with pytest.raises(ss.SpecError, match="ScatterND s: its indices or updates are computed in the graph"):
        ss.from_onnx(path)


@pytest.mark.parametrize("equation", ["B G H I D, B G H J D -> B G H I J", "bhij,bhjd->bhid"])
def test_einsum_of_two_inputs(tmp_path: pytest.TempPathFactory, equation: str) -> None:
    """MaxViT's attention einsums (as torch's exporter writes them: capitals and spaces)."""
    rng = np.random.default_rng(4)
    if equation.startswith("B"):
        shapes, dims_ = ((2, 3, 2, 5, 4), (2, 3, 2, 6, 4)), (["N", 3, 2, 5, 4], ["N", 3, 2, 6, 4])
        out = (ss.sym("N"), 3, 2, 5, 6)
    else:
        shapes, dims_ = ((2, 2, 5, 6), (2, 2, 6, 4)), (["N", 2, 5, 6], ["N", 2, 6, 4])
        out = (ss.sym("N"), 2, 5, 4)
    feeds = {"a": rng.standard_normal(shapes[0]).astype(np.float32),
             "b": rng.standard_normal(shapes[1]).astype(np.float32)}
    model = _against_onnxruntime(tmp_path, [helper.make_node("Einsum", ["a", "b"], ["y"], equation=equation)],
                                 dict(zip("ab", dims_)), feeds)
    assert model.infer().output_shapes == [out]


def test_einsum_with_a_weight(tmp_path: pytest.TempPathFactory) -> None:
    w = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    x = np.random.default_rng(6).standard_normal((2, 4)).astype(np.float32)
    _against_onnxruntime(tmp_path, [helper.make_node("Einsum", ["x", "w"], ["y"], equation="ni,ij->nj")],
                         {"x": ["N", 4]}, {"x": x}, [("w", w)])


@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_l2(tmp_path: pytest.TempPathFactory, keepdims: int) -> None:
    """F.normalize's norm (swin_v2's cosine attention): sqrt of the sum of squares over the axes."""
    nodes = [_const("axes", np.array([-1], np.int64)),
             helper.make_node("ReduceL2", ["x", "axes"], ["y"], keepdims=keepdims)]
    x = np.random.default_rng(7).standard_normal((2, 3, 5)).astype(np.float32)
    model = _against_onnxruntime(tmp_path, nodes, {"x": ["N", 3, 5]}, {"x": x}, opset=18)
    assert model.infer().output_shapes == [(ss.sym("N"), 3) + ((1,) if keepdims else ())]
