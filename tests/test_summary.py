"""The summary table: terminal width, wrapping only between shapes, block depth, connected-to,
trainable split, buffers in elements, torchinfo's memory lines (ResNet-50 equal to torchinfo's),
markdown and HTML, and the side-by-side page docs/summary-resnet50.md."""

import json
import runpy
from pathlib import Path

import pytest

import symshape as ss
from symshape import report
from symshape.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def resnet50():
    return ss.load_spec(EXAMPLES / "resnet50.yaml").infer()


@pytest.fixture(scope="module")
def unet():
    return ss.load_spec(EXAMPLES / "unet.yaml").infer()


def _table(text: str) -> list[str]:
    return text.split("\n\n")[0].splitlines()


@pytest.mark.parametrize("width", [72, 100, 140, 200])
def test_table_fits_the_width_and_never_splits_a_shape(unet, width):
    text = report.render_text(unet, width=width, depth=1)
    lines = _table(text)
    assert max(map(len, lines)) <= width
    header = lines[0]
    if "output" in header:  # every output shape appears whole (wrapping happens only between shapes)
        for row in report.summary_rows(unet, depth=1):
            for shape in row["output"].split(", ("):
                assert shape.lstrip("(") in text
    if width >= 200:
        assert "left out" not in text and all(t in header for _, t in report.COLUMNS)
    if width == 72:
        assert "(left out to fit 72 columns:" in text


def test_depth_folds_blocks_like_torchinfo(resnet50):
    bound = resnet50.bind(B=1, H=224, W=224)
    rows = report.summary_rows(bound, depth=1)
    assert [r["name"] for r in rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                         "avgpool", "flatten", "fc"]
    counts = {r["name"]: r["count"] for r in rows}
    assert counts["layer1"] == "215,808" and counts["layer4"] == "14,964,736"  # torchinfo's depth-1 figures
    assert sum(int(r["count"].replace(",", "") or 0) for r in rows) == bound.num_params
    rows2 = report.summary_rows(bound, depth=2)
    layer1 = next(r for r in rows2 if r["name"] == "layer1")
    assert layer1["count"] == "--" and layer1["output"] == "(1, 256, 56, 56)"  # expanded: its children count
    assert next(r for r in rows2 if r["name"] == "layer1.0")["count"] == "75,008"
    assert next(r for r in rows2 if r["name"] == "layer1.1")["level"] == 1
    deep = report.summary_rows(bound, depth=3)
    assert next(r for r in deep if r["name"] == "layer1.0.downsample")["count"] == "16,896"


def test_connected_to_shows_the_skip_connections(unet):
    rows = {r["name"]: r for r in report.summary_rows(unet, depth=1)}
    assert rows["up1"]["connected"] == "up2, enc1" and rows["up2"]["connected"] == "bottleneck, enc2"
    flat = {r["name"]: r for r in report.summary_rows(unet)}
    assert flat["up1.cat"]["connected"] == "enc1.relu2, up1.upconv"  # Concat(enc1, upconv) in order


def test_trainable_split_and_buffers_in_elements():
    x = ss.Input("B, 4", name="x")
    frozen = ss.Parameter([4], requires_grad=False)(name="scale")
    m = ss.Model(x, ss.Mul()(ss.BatchNorm1d(4)(ss.Linear(4, 4)(x, name="fc"), name="bn"), frozen, name="out"))
    lines = report.totals(m.infer(), with_memory=True)
    assert "parameters: 32 (128 bytes as float32)" in lines
    assert "trainable parameters: 28, non-trainable: 4" in lines
    assert "buffers: 9 elements in 3 tensors" in lines  # running mean, var (4 each), num_batches_tracked


def test_memory_lines_symbolic_and_bound():
    graph = ss.load_spec(EXAMPLES / "lenet.yaml").infer()
    lines = report.totals(graph, with_memory=True)
    assert "input size: 3136*B bytes" in lines and "params size: 0.25 MB" in lines
    bound = report.totals(graph.bind(B=1000), with_memory=True)
    assert "input size: 3.14 MB" in bound


def test_memory_equals_torchinfo_on_resnet50(resnet50):
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from models.torch_models import ResNet50

    stats = torchinfo.summary(ResNet50(), input_size=(1, 3, 224, 224), verbose=0)
    bound = resnet50.bind(B=1, H=224, W=224)
    memory = report.memory(bound)
    assert memory["forward_backward"] == stats.total_output_bytes
    assert memory["params"] == stats.total_param_bytes
    assert stats.total_input - memory["input"] == 64  # torchinfo's getsizeof: the storage object's header
    trainable, frozen = report._trainable(bound)
    assert (bound.num_params, trainable, frozen) == (stats.total_params, stats.trainable_params, 0)
    buffers = sum(b.numel() for b in ResNet50().buffers())
    assert f"buffers: {buffers:,} elements in 159 tensors" in report.totals(bound)
    del torch


def test_docs_summary_resnet50_is_current_and_agrees():
    pytest.importorskip("torchinfo")
    make = runpy.run_path(str(ROOT / "docs" / "make_summary.py"))
    page = (ROOT / "docs" / "summary-resnet50.md").read_text()
    assert page == make["render"](), "run python docs/make_summary.py > docs/summary-resnet50.md"
    for name, ours, theirs in make["totals"](make["symshape_graph"](), make["torchinfo_stats"]()):
        if name.startswith(("input size", "estimated total")):
            assert theirs - ours == 64
        elif name == "mult-adds":  # torchinfo adds one per BatchNorm parameter and per fc bias
            assert theirs - ours == 53_120 + 1_000
        else:
            assert ours == theirs, name


def test_markdown_and_html(unet):
    md = report.render_markdown(unet, depth=1)
    assert md.splitlines()[0] == "| layer | op | input | output | parameters | # | connected to |"
    assert "| **`up1`** | up |" in md and "- estimated total size:" in md  # the block's kind, as torchinfo's class
    html = unet._repr_html_()
    assert "<th>connected to</th>" in html and "forward/backward pass size" in html


def test_cli_summary_formats(capsys):
    assert main(["summary", str(EXAMPLES / "resnet50.yaml"), "--bind", "B=1,H=224,W=224", "--depth", "1",
                 "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 100 and "\nlayer4 " in out and "estimated total size: 280.66 MB" in out
    assert main(["summary", str(EXAMPLES / "lenet.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_params"] == 61706
    assert main(["summary", str(EXAMPLES / "lenet.yaml"), "--depth", "0"]) == 2
    assert "--depth 0" in capsys.readouterr().err


def test_blocks_are_named_by_their_kind():
    """A folded block's row names what it is: the spec's block, or the torch module's class."""
    rows = {r["name"]: r["op"] for r in report.summary_rows(ss.load_spec(EXAMPLES / "resnet50.yaml").infer(), depth=2)}
    assert (rows["layer1"], rows["layer1.0"], rows["layer1.1"]) == ("block (32 layers)", "bottleneck_down", "bottleneck")
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), torch.nn.Flatten())
    model = ss.from_torch(module, inputs={"input": "B, 3, H, W"})
    rows = {r["name"]: r["op"] for r in report.summary_rows(model.infer(), depth=1)}
    assert rows["0"] == "Sequential" and rows["1"] == "Flatten"
