"""Pictures of the computation graph: DOT, GraphML, SVG and PNG, shapes on the edges.

DOT and GraphML are written as text (networkx's GraphML writer); SVG and PNG are drawn with
matplotlib, top to bottom, one row per topological generation.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from . import dims
from .analysis import Analysis
from .errors import SpecError
from .files import atomic_write

FORMATS = (".dot", ".svg", ".png", ".graphml")


def _node_label(graph: Analysis, name: str) -> list[str]:
    data = graph.node(name)
    if data["kind"] == "input":
        return [name, f"input {dims.format_shape(data['shape'])}"]
    lines = [name, data["op"]]
    if data["owner"]:
        lines.append(f"shares {data['owner']}")
    lines += [f"{k} {dims.format_shape(s.shape)}" for k, s in data["params"].items() if not s.buffer]
    return lines


def _edge_label(shapes: list) -> str:
    return " | ".join("?" if s is None else dims.format_shape(s) for s in shapes)


def labelled_graph(graph: Analysis) -> nx.DiGraph:
    """A copy of the graph with plain string attributes only (``label`` on nodes and edges)."""
    g = nx.DiGraph()
    for name in graph.graph.nodes:
        data = graph.node(name)
        g.add_node(name, label="\n".join(_node_label(graph, name)), kind=data["kind"],
                   op=data.get("op", "input"))
    for u, v, data in graph.graph.edges(data=True):
        g.add_edge(u, v, label=_edge_label(data["shapes"]))
    return g


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Analysis) -> str:
    g = labelled_graph(graph)
    lines = [f"digraph {_quote(graph.model.name or 'model')} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f8", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for name, data in g.nodes(data=True):
        extra = ', fillcolor="#dcecff"' if data["kind"] == "input" else ""
        lines.append(f"  {_quote(name)} [label={_quote(data['label'])}{extra}];")
    for u, v, data in g.edges(data=True):
        lines.append(f"  {_quote(u)} -> {_quote(v)} [label={_quote(data['label'])}];")
    return "\n".join(lines + ["}"]) + "\n"


def _draw(graph: Analysis, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = labelled_graph(graph)
    rows = list(nx.topological_generations(g))
    width = max(len(r) for r in rows)
    pos = {}
    for y, row in enumerate(rows):
        for x, name in enumerate(row):
            pos[name] = ((x - (len(row) - 1) / 2) * 3.2, -y * 1.6)
    fig, ax = plt.subplots(figsize=(max(6.0, 3.4 * width), max(3.0, 1.25 * len(rows))))
    ax.set_axis_off()
    for u, v, data in g.edges(data=True):
        (x0, y0), (x1, y1) = pos[u], pos[v]
        ax.annotate("", xy=(x1, y1 + 0.38), xytext=(x0, y0 - 0.38),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 1})
        ax.text((x0 + x1) / 2 + 0.08, (y0 + y1) / 2, data["label"], fontsize=7, color="#333399",
                ha="left", va="center")
    for name, data in g.nodes(data=True):
        x, y = pos[name]
        color = "#dcecff" if data["kind"] == "input" else "#f4f4f8"
        ax.text(x, y, data["label"], ha="center", va="center", fontsize=7.5, family="monospace",
                bbox={"boxstyle": "round,pad=0.35", "facecolor": color, "edgecolor": "#888888"})
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 2.0, max(xs) + 2.0)
    ax.set_ylim(-1.6 * (len(rows) - 1) - 0.8, 0.8)
    fig.savefig(path, format=path.suffix.lstrip("."), bbox_inches="tight", dpi=110)
    plt.close(fig)


def write_graph(graph: Analysis, path: str | Path) -> None:
    """Write the picture or graph file chosen by the extension of ``path``, atomically."""
    p = Path(path)
    fmt = p.suffix.lower()
    if fmt not in FORMATS:
        raise SpecError(f"{p}: the graph is written as {', '.join(FORMATS)} (chosen by the extension)")

    def write(tmp: Path) -> None:
        if fmt == ".dot":
            tmp.write_text(to_dot(graph), encoding="utf-8")
        elif fmt == ".graphml":
            nx.write_graphml(labelled_graph(graph), tmp)
        else:
            _draw(graph, tmp)

    atomic_write(p, write)
