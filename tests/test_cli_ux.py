"""The command line as a new user meets it: a fast --help (the library is imported lazily), --version,
ops, schema (a JSON Schema every example spec validates against), every spec error at once, help
examples that run, and files written with the user's umask. The public API is unchanged by the lazy
imports: every name of ``__all__`` resolves."""

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import symshape as ss
from symshape.cli import EXAMPLES, main

ROOT = Path(__file__).parents[1]
SPECS = sorted((ROOT / "examples").glob("*.yaml"))
HEAVY = ("sympy", "networkx", "numpy", "yaml", "rich", "scipy", "z3", "matplotlib", "onnx", "torch", "graphviz")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    return {m.split(".")[0] for m in out}


def test_help_and_version_import_no_library():
    loaded = _modules_after("from symshape.cli import main\nimport contextlib, io\n"
                            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help']); main(['--version'])")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert not _modules_after("import symshape") & set(HEAVY)


@pytest.mark.parametrize("argv", [["check", "examples/lenet.yaml"], ["summary", "examples/resnet18.yaml", "--depth", "1"]])
def test_analysis_commands_import_only_what_they_need(argv):
    """networkx is for the graph features (draw, graphml): the analysis and its tables do without it."""
    loaded = _modules_after("from symshape.cli import main\nimport contextlib, io\n"
                            f"with contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r})")
    assert {"sympy", "yaml"} <= loaded
    assert not loaded & {"networkx", "rich", "scipy", "z3", "matplotlib", "onnx", "torch", "graphviz"}


def test_public_api_unchanged():
    names = ss.__all__
    assert {"Linear", "LazyConv2d", "load_spec", "from_torch", "from_onnx", "to_onnx", "ShapeGraph", "LAYERS",
            "INITIALIZERS", "SpecError"} <= set(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(ss, name) is not None, name
    namespace: dict = {}
    exec("from symshape import *", namespace)
    assert set(names) <= set(namespace)
    assert set(names) <= set(dir(ss))
    with pytest.raises(AttributeError, match="no attribute 'Linaer'"):
        ss.Linaer  # noqa: B018


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"symshape {ss.__version__}\n"


def test_ops_lists_the_catalogue(capsys):
    assert main(["ops"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0] for line in lines}
    assert listed == {n for n in ss.LAYERS if not n.startswith("_") and n != "Layer"}
    conv = next(line for line in lines if line.split()[0] == "Conv2d")
    assert "(N, C_in, H, W) -> (N, C_out, H_out, W_out)" in conv
    assert main(["ops", "lstm"]) == 0
    assert {line.split()[0] for line in capsys.readouterr().out.splitlines()} == {"LSTM", "LSTMCell"}
    assert main(["ops", "nosuchop"]) == 2
    assert "no op name contains 'nosuchop'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def schema():
    from symshape.schema import spec_schema

    return spec_schema()


def test_schema_validates_every_example_and_rejects_typos(schema, capsys, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from symshape.spec import read_spec_file

    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in SPECS:
        assert not list(validator.iter_errors(read_spec_file(path))), path.name
    bad = {"inputs": {"x": ["B", 8]}, "layers": [{"op": "Linear", "in_features": 8, "out_features": 4, "bais": True},
                                                 {"op": "Lnear"}, {"op": "Conv2d", "in_channels": 3}],
           "outputs": "0", "extra": 1}
    messages = [e.message for e in validator.iter_errors(bad)]
    assert any("'bais' was unexpected" in m for m in messages)
    assert any("'Lnear' is not one of" in m for m in messages)
    assert any("'out_channels' is a required property" in m for m in messages)
    assert any("'extra' was unexpected" in m for m in messages)
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema
    capsys.readouterr()
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema


def test_every_spec_error_at_once(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("inputs:\n  x: [B, 8]\nlayrs: 3\nlayers:\n"
                    "  - {name: fc1, op: Linear, in_features: 8, out_features: 4, bais: true}\n"
                    "  - {name: act, op: Relu}\n"
                    "  - {name: fc2, op: Linear, in_features: 4, out_features: -1}\n"
                    "  - {name: fc3, op: LazyLinear, out_features: 3, in: fc9}\n")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "5 errors in the spec:" in err
    assert f"{spec}: key 'layrs': unknown top-level key" in err
    assert f"{spec}: layers[0] (fc1): key 'bais': Linear: unknown argument 'bais'. Did you mean bias?" in err
    assert f"{spec}: layers[1] (act): key 'op': unknown op 'Relu'" in err
    assert f"{spec}: layers[2] (fc2): key 'out_features'" in err
    assert f"{spec}: layers[3] (fc3): key 'in': 'fc9' names no input or layer" in err
    assert "Traceback" not in err


def test_help_examples_use_files_that_exist():
    for command, text in EXAMPLES.items():
        for word in shlex.split(text.replace("\n", " ")):
            if word.startswith("examples/"):
                assert (ROOT / word).is_file(), f"{command}: {word}"


def test_init_and_run_examples_run_as_written(tmp_path):
    """The help's init (LeNet) and run examples, in order, in a fresh folder."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    commands = [EXAMPLES["init"].splitlines()[0]] + [line.strip() for line in EXAMPLES["run"].splitlines()]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    old = os.umask(0o022)
    try:
        for line in commands:
            args = shlex.split(line)
            args = [sys.executable, *args[1:]] if args[0] == "python" else [sys.executable, "-m", "symshape", *args[1:]]
            done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env)
            assert done.returncode == 0, (line, done.stderr)
    finally:
        os.umask(old)
    assert (tmp_path / "logits.npy").is_file()
    for name in ("logits.npy", "lenet.safetensors"):  # the user's umask, not mkstemp's 0600
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_graph_without_dot(tmp_path, capsys, monkeypatch):
    """Without graphviz's dot: the page says how to install it; pictures fall back to matplotlib."""
    from symshape import draw

    monkeypatch.setattr(draw, "have_dot", lambda: False)
    lenet = str(ROOT / "examples" / "lenet.yaml")
    assert main(["graph", lenet, "-o", str(tmp_path / "m.html")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "m.html").exists()
    assert main(["graph", lenet, "-o", str(tmp_path / "m.svg")]) == 0
    svg = (tmp_path / "m.svg").read_text()
    assert '">fc1</text>' in svg and '">(B, 400)</text>' in svg  # labels and edge shapes as SVG text
