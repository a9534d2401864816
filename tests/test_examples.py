"""Every example script runs, and says what the docs claim it says."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(p for p in (Path(__file__).parents[1] / "examples").glob("*.py") if p.name != "make_notebook.py")


def run(path: Path) -> str:
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path):
    assert run(path).strip()


def test_lazy_initialization_chapter_answers_the_exercises():
    out = run(Path(__file__).parents[1] / "examples" / "lazy_initialization.py")
    assert "net[0].weight -> <UninitializedParameter shape=(256, in_features)>" in out
    assert "number of parameters: 256*D + 2826" in out
    assert "net[0].weight.shape: (256, 20)" in out
    assert "sizes fixed by the model: {'D': 20}" in out  # exercise 1
    assert "2 shape errors:" in out and "in_features is 100 but its input (B, 256)" in out  # exercise 2
    assert "tying forces {'E': D}" in out and "any image size: [(B, 10)]" in out  # exercise 3
