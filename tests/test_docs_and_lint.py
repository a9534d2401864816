"""The generated layer catalogue is current, and the code is ruff-clean."""

import subprocess
import sys
from pathlib import Path

from symshape import catalogue

ROOT = Path(__file__).parents[1]


def test_layer_catalogue_is_current():
    assert (ROOT / "docs" / "layers.md").read_text() == catalogue.render(), \
        "docs/layers.md is stale: run python -m symshape.catalogue > docs/layers.md"


def test_every_registered_layer_is_in_the_catalogue():
    text = (ROOT / "docs" / "layers.md").read_text()
    from symshape.layers import LAYERS

    for name in LAYERS:
        if not name.startswith("_"):
            assert f"`{name}(" in text


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_summaries_are_current():
    import runpy

    render = runpy.run_path(str(ROOT / "docs" / "make_examples.py"))["render"]
    assert (ROOT / "docs" / "examples.md").read_text() == render(), \
        "docs/examples.md is stale: run python docs/make_examples.py > docs/examples.md"


def test_error_gallery_is_current():
    import runpy

    render = runpy.run_path(str(ROOT / "docs" / "make_errors.py"))["render"]
    assert (ROOT / "docs" / "errors.md").read_text() == render(), \
        "docs/errors.md is stale: run python docs/make_errors.py > docs/errors.md"


def test_readme_python_runs(monkeypatch):
    """The README's Python blocks run as written (from the project root, where examples/ is)."""
    import re

    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["g"].solve(namespace["g"].node("avgpool")["input_shapes"][0][2], equals=7,
                                minimize="H") == [{"H": 193}]
