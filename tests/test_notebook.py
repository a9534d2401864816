"""The notebook retelling the chapter runs, and shows symbolic shapes and HTML summaries."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_notebook_is_current_and_runs():
    import runpy

    build = runpy.run_path(str(EXAMPLES / "make_notebook.py"))["build"]
    stored = nbformat.read(EXAMPLES / "lazy_initialization.ipynb", as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in build().cells], "run examples/make_notebook.py"
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code) and all(c.outputs for c in code), "committed executed"
    NotebookClient(stored, timeout=120, kernel_name="python3").execute()
    outputs = [o for cell in stored.cells if cell.cell_type == "code" for o in cell.outputs]
    texts = [o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs]
    htmls = [o.get("data", {}).get("text/html", "") for o in outputs]
    assert any("UninitializedParameter shape=(256, in_features)" in t for t in texts)
    assert any("256*D + 2826" in t for t in texts)
    assert any("<table>" in h and "(B, 10)" in h for h in htmls)
    assert any("2 shape errors" in t for t in texts)
    assert not any(o.get("output_type") == "error" for o in outputs)
