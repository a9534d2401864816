"""Writes examples/lazy_initialization.ipynb: the lazy-initialization chapter retold with symbolic shapes.

Run: python examples/make_notebook.py. It writes the notebook executed, so that its outputs (symbolic
shapes, the HTML summaries) show where notebooks are read without running them; the tests execute it again.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", "# Lazy initialization, symbolically\n\nPyTorch's `LazyLinear` learns its weight shape on the first "
           "forward pass. symshape derives every shape as a formula of the input sizes, before any data exists."),
    ("code", "import numpy as np\n\nimport symshape as ss\n\n"
             "net = ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10))\nnet[0].weight"),
    ("md", "The parameters do not exist yet. The symbolic analysis gives their shapes anyway, as formulas of "
           "the input's batch size `B` and feature size `D`:"),
    ("code", "g = net.infer(\"B, D\")\ng"),
    ("code", "g.param_shapes, g.num_params"),
    ("md", "Fixing one size resolves every parameter shape; materializing uses torch's default initializations."),
    ("code", "bound = g.bind(D=20)\nparams = bound.materialize(seed=0)\n{k: v.shape for k, v in params.items()}"),
    ("code", "X = np.random.default_rng(0).random((2, 20), dtype=np.float32)\nbound.forward(params, X).shape"),
    ("md", "As in torch, calling the network on data runs the whole lazy cycle:"),
    ("code", "net(X)\nnet[0].weight.shape"),
    ("md", "## Exercise 1: a fixed input size in the first layer\n\n`Linear(20, 256)` pins `D = 20`, so all "
           "parameters resolve immediately, with no data."),
    ("code", "fixed = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.LazyLinear(10)).infer(\"B, D\")\n"
             "fixed.fixed_sizes, fixed.param_shapes"),
    ("md", "## Exercise 2: mismatching dimensions\n\nEvery mismatch is reported at once, before any data exists."),
    ("code", "broken = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.Linear(100, 10), ss.Linear(7, 3))\n"
             "try:\n    broken.infer(\"B, D\")\nexcept ss.ShapeMismatchError as error:\n    print(error)"),
    ("md", "## Exercise 3: inputs of varying size\n\nSizes stay symbolic; a layer applied twice shares its weights."),
    ("code", "image = ss.Input(\"B, 3, H, W\", name=\"image\")\n"
             "h = ss.Flatten()(ss.AdaptiveAvgPool2d(1)(ss.LazyConv2d(16, 3, padding=1)(image)))\n"
             "ss.Model(image, ss.LazyLinear(10)(h)).infer()"),
    ("code", "q, p = ss.Input(\"B, Q, D\", name=\"q\"), ss.Input(\"B, P, E\", name=\"p\")\n"
             "encoder = ss.LazyLinear(64)\n"
             "tied = ss.Model([q, p], [encoder(q, name=\"enc_q\"), encoder(p, name=\"enc_p\")]).infer()\n"
             "tied.output_shapes, list(tied.param_shapes), tied.fixed_sizes"),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text) for kind, text in CELLS]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # fixed ids: rewriting the notebook changes nothing
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def executed() -> nbformat.NotebookNode:
    """The notebook run top to bottom in a fresh kernel (no timings recorded: rewriting changes nothing)."""
    nb = build()
    here = Path(__file__).parent
    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(here)}}).execute()
    nb.metadata.pop("language_info", None)  # the kernel's Python version: not part of the chapter
    return nb


if __name__ == "__main__":
    nbformat.write(executed(), Path(__file__).with_name("lazy_initialization.ipynb"))
