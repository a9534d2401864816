"""The package's import graph runs one way: no cycle, and no function-local import of the package's
own modules except the few named here, each with its reason."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "symshape"

# (importer, imported): why the import waits until a function runs
LOCAL_IMPORTS_ALLOWED = {
    ("symshape.layers.base", "symshape.wiring"):
        "layer(tensor) is the functional API: calling a layer wires it, the one way up from a layer",
    ("symshape.wiring", "symshape.graph"):
        "Model.infer() is the public convenience that starts the pipeline on a model",
    ("symshape", "symshape.layers"):
        "the public names are resolved on first use (PEP 562), so that the command line starts fast",
    ("symshape.draw", "symshape.page"):
        "the interactive page is built on draw's layout: the page imports draw, draw writes the page on request",
}
LAZY_FOR_STARTUP = {"symshape.cli", "symshape.__main__"}  # the command line imports a stage when it needs it
# the importers and exporters import torch or onnx (optional extras) at their top: they are imported when used
OPTIONAL_EXTRAS = ("symshape.importers", "symshape.exporters")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("symshape")]
    if node.level == 0:
        base = node.module or ""
        return [base] if base.startswith("symshape") else []
    anchor = module.split(".")
    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
    base = ".".join(anchor + ([node.module] if node.module else []))
    if node.module:
        return [base]
    return [f"{base}.{a.name}" for a in node.names]  # from . import dims


def _imports() -> tuple[nx.DiGraph, list[tuple[str, str, int]]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    local: list[tuple[str, str, int]] = []
    for name, path in modules.items():
        graph.add_node(name)
        tree = ast.parse(path.read_text())
        type_checking = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                         and "TYPE_CHECKING" in ast.unparse(stmt.test) for n in ast.walk(stmt)}
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in type_checking:
                continue
            for target in _resolve(name, node, path.name == "__init__.py"):
                target = target if target in modules else target.rsplit(".", 1)[0]
                if target not in modules or target == name:
                    continue
                if id(node) in top_level:
                    graph.add_edge(name, target)
                else:
                    local.append((name, target, node.lineno))
    return graph, local


def test_no_import_cycle():
    graph, _ = _imports()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_no_unexplained_function_local_import():
    _, local = _imports()
    unexplained = [f"{a} -> {b} (line {line})" for a, b, line in local
                   if (a, b) not in LOCAL_IMPORTS_ALLOWED and a not in LAZY_FOR_STARTUP
                   and not b.startswith(OPTIONAL_EXTRAS)]
    assert not unexplained, "function-local imports of the package's own modules: " + "; ".join(unexplained)


def test_stages_import_nothing_above_them():
    """The stages are functions of the analysis record: none imports the ShapeGraph facade, spec or cli."""
    graph, _ = _imports()
    stages = ["init", "forward", "costs", "explain", "solve", "weights", "stream", "report", "draw", "propagate",
              "analysis"]
    above = {"symshape.graph", "symshape.spec", "symshape.cli", "symshape"}
    for stage in stages:
        reached = nx.descendants(graph, f"symshape.{stage}")
        assert not reached & above, f"{stage} imports {sorted(reached & above)}"


def test_the_symbolic_analysis_does_not_import_z3():
    import subprocess
    import sys

    code = ("import sys, symshape as ss\n"
            "g = ss.Sequential(ss.Conv2d(1, 6, 5), ss.ReLU(), ss.MaxPool2d(2), ss.Flatten(), ss.Linear(384, 120))"
            ".infer('B, 1, H, W')\n"
            "print(g.constraints, 'z3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False"), out
