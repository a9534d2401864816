"""Pictures of the computation graph: DOT, GraphML, SVG and PNG, shapes on the edges.

SVG and PNG are laid out by graphviz's ``dot`` (the ``graphviz`` system package, driven through the
``graphviz`` Python binding): blocks (the dotted prefixes of layer names, ``layer1.0``) are drawn
as nested clusters, layers are coloured by op family, every edge carries its (symbolic) shape, and
SVG text stays text. Without ``dot``, a matplotlib drawing stands in: one layer a row in order,
edges between neighbours straight, every longer edge (a skip connection) on its own arc beside the
column, so that no edge passes through a box it does not touch.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx

from . import dims
from .analysis import Analysis
from .errors import SpecError
from .files import atomic_write

FORMATS = (".dot", ".svg", ".png", ".graphml", ".html")

# op family (the layers module a class lives in) -> fill colour
FAMILY_COLOURS = {
    "input": "#cfe2ff", "conv": "#ffe0b3", "linear": "#ffd6d6", "norm": "#d9f2d9", "activation": "#f2f2c4",
    "pool": "#d6ecf5", "merge": "#e8dcf5", "shape_ops": "#eeeeee", "recurrent": "#f5dce8",
    "attention": "#f9d5c2", "sdpa": "#f9d5c2", "transformer": "#f9d5c2", "embedding": "#dcd6f5",
    "block": "#e6e6ef",
}
OTHER_COLOUR = "#f4f4f8"
# a tensor read by more layers than this (Llama's rotary tables, a shared mask) is drawn again beside each
# reader, dashed and named: dot's layout of dozens of long edges across clusters takes minutes
FANOUT = 6
DOT_TIMEOUT = 300  # seconds


def family(graph: Analysis, name: str) -> str:
    """The op family of a node (``conv``, ``norm``, ...; ``input`` for an input)."""
    data = graph.node(name)
    return "input" if data["kind"] == "input" else type(data["layer"]).__module__.rsplit(".", 1)[-1]


def colour(graph: Analysis, name: str) -> str:
    return FAMILY_COLOURS.get(family(graph, name), OTHER_COLOUR)


def node_lines(graph: Analysis, name: str) -> list[str]:
    """A node's label: its name, its op (or input shape), whom it shares, its parameter shapes."""
    data = graph.node(name)
    if data["kind"] == "input":
        return [name, f"input {dims.format_shape(data['shape'])}"]
    lines = [name, data["op"]]
    if data["owner"]:
        lines.append(f"shares {data['owner']}")
    lines += [f"{k} {dims.format_shape(s.shape)}" for k, s in data["params"].items() if not s.buffer]
    return lines


def edge_label(shapes: list) -> str:
    return " | ".join("?" if s is None else dims.format_shape(s) for s in shapes)


def labelled_graph(graph: Analysis) -> nx.DiGraph:
    """A copy of the graph with plain string attributes only (``label`` on nodes and edges)."""
    g = nx.DiGraph()
    for name in graph.graph.nodes:
        data = graph.node(name)
        g.add_node(name, label="\n".join(node_lines(graph, name)), kind=data["kind"], op=data.get("op", "input"))
    for u, v, data in graph.graph.edges(data=True):
        g.add_edge(u, v, label=edge_label(data["shapes"]))
    return g


def block_tree(names: list[str]) -> dict[str, list[str]]:
    """Each block prefix (``""`` for the top) -> its direct children: sub-blocks and node names, in order."""
    children: dict[str, list[str]] = {"": []}
    known = set(names)
    for name in names:
        parts = name.split(".")
        parent = ""
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if prefix in known:  # a node named like a block prefix stays a node
                break
            if prefix not in children:
                children[prefix] = []
                children[parent].append(prefix)
            parent = prefix
        children[parent].append(name)
    return children


def _escape(text: str) -> str:
    """Text for a DOT label: backslashes doubled (``\\n`` is the line break the label uses)."""
    return text.replace("\\", "\\\\")


def folded(name: str, depth: int | None) -> str:
    """What a node is drawn as at ``depth``: itself, or the block (dotted prefix) it is folded into."""
    return name if depth is None else ".".join(name.split(".")[:depth])


def block_lines(graph: Analysis, prefix: str, members: list[str]) -> list[str]:
    count = dims.total(dims.prod(s.shape) for m in members for s in graph.node(m)["params"].values() if not s.buffer)
    kind = graph.model.block_kinds.get(prefix, "block")
    return [prefix, f"{kind}: {len(members)} layers"] + ([f"{count:,} params" if type(count) is int
                                                           else f"{count} params"] if count != 0 else [])


def digraph(graph: Analysis, ids: str | None = None, depth: int | None = None) -> Any:
    """The graph as a ``graphviz.Digraph``: clusters for blocks, colours by family, shapes on edges.
    With ``depth``, layers nested deeper are folded into one box per block. With ``ids`` (a prefix),
    SVG elements get ids (``{ids}n:NAME``, ``{ids}e:U->V``, ``{ids}c:BLOCK``) for the HTML page."""
    import graphviz

    g = graphviz.Digraph(name=graph.model.name or "model", strict=False)
    g.attr(rankdir="TB", nodesep="0.3", ranksep="0.35", fontname="Helvetica")
    g.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", margin="0.12,0.04")
    g.attr("edge", fontname="Helvetica", fontsize="9", color="#555555", fontcolor="#333399")
    members: dict[str, list[str]] = {}
    for name in graph.graph.nodes:
        members.setdefault(folded(name, depth), []).append(name)
    tree = block_tree(list(members))

    def ident(kind: str, name: str) -> dict[str, str]:
        return {"id": f"{ids}{kind}:{name}"} if ids is not None else {}

    labels: dict[tuple[str, str], list[str]] = {}
    for u, v, data in graph.graph.edges(data=True):
        fu, fv = folded(u, depth), folded(v, depth)
        if fu != fv:
            labels.setdefault((fu, fv), []).append(edge_label(data["shapes"]))
    fanout: dict[str, int] = {}
    for u, _ in labels:
        fanout[u] = fanout.get(u, 0) + 1
    parent = {child: prefix for prefix, children in tree.items() for child in children}
    stubs: dict[str, list[tuple[str, str]]] = {}  # block -> (source, consumer) drawn as a copy there
    for u, v in labels:
        if fanout[u] > FANOUT:
            stubs.setdefault(parent[v], []).append((u, v))

    def emit(into: Any, prefix: str) -> None:
        for child in tree.get(prefix, []):
            if child in tree and child not in members:
                with into.subgraph(name=f"cluster_{child}") as c:
                    kind = graph.model.block_kinds.get(child)
                    c.attr(label=f"{child} ({kind})" if kind else child, style="rounded,filled", fillcolor="#fafafa",
                           color="#bbbbbb", fontsize="10", labeljust="l", **ident("c", child))
                    emit(c, child)
                continue
            if child in graph.graph.nodes:
                lines, fill = node_lines(graph, child), colour(graph, child)
            else:
                lines, fill = block_lines(graph, child, members[child]), FAMILY_COLOURS["block"]
            into.node(child, label="\\n".join(map(_escape, lines)), fillcolor=fill, **ident("n", child))
        for u, v in stubs.get(prefix, []):
            into.node(f"{u}@{v}", label=_escape(u) + "\\n(drawn again: read by " + str(fanout[u]) + " layers)",
                      style="rounded,dashed", fontcolor="#555555", **ident("r", f"{u}@{v}"))

    emit(g, "")
    for (u, v), texts in labels.items():
        source = f"{u}@{v}" if fanout[u] > FANOUT else u
        g.edge(source, v, label=_escape(" | ".join(dict.fromkeys(texts))), **ident("e", f"{u}->{v}"))
    return g


def to_dot(graph: Analysis) -> str:
    return digraph(graph).source


def have_dot() -> bool:
    """Whether graphviz's ``dot`` program is installed (Debian: ``apt-get install graphviz``)."""
    return shutil.which("dot") is not None


def render(graph: Analysis, fmt: str, ids: str | None = None, depth: int | None = None,
           timeout: float = DOT_TIMEOUT) -> bytes:
    """The picture laid out by ``dot``, as SVG or PNG bytes; a SpecError if dot fails or takes too long."""
    source = digraph(graph, ids, depth).source.encode("utf-8")
    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=source, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SpecError(f"graphviz's dot did not lay out the {graph.graph.number_of_nodes()} nodes in {timeout:.0f} s; "
                        "write a .dot file, or an .html page (it also shows the graph with blocks folded)") from None
    if done.returncode != 0:
        raise SpecError(f"graphviz's dot failed: {done.stderr.decode(errors='replace').strip()[-500:]}")
    return done.stdout


def _arc_levels(spans: list[tuple[int, int]]) -> list[int]:
    """A level for each long edge (row span) so that arcs on one level never overlap."""
    ends: list[int] = []  # per level, the last row in use
    levels = []
    for start, end in spans:
        level = next((i for i, last in enumerate(ends) if last <= start), len(ends))
        if level == len(ends):
            ends.append(end)
        ends[level] = end
        levels.append(level)
    return levels


CHAR = {"box": 0.0625, "label": 0.05}  # inches per character at the fallback's font sizes (7.5 pt mono, 6.5 pt)


def _draw_fallback(graph: Analysis, path: Path) -> None:
    """The matplotlib picture used without ``dot``: truthful, not compact. One data unit is one inch,
    so text extents are known before drawing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    order = list(nx.topological_sort(graph.graph))
    row = {name: i for i, name in enumerate(order)}
    lines = {name: node_lines(graph, name) for name in order}
    half_h = {n: 0.12 + 0.075 * len(lines[n]) for n in order}
    half_w = {n: 0.08 + CHAR["box"] * max(map(len, lines[n])) / 2 for n in order}
    y, top = {}, 0.0
    for name in order:
        y[name] = top - half_h[name]
        top -= 2 * half_h[name] + 0.45
    edges = [(u, v, edge_label(d["shapes"])) for u, v, d in graph.graph.edges(data=True)]
    short = [e for e in edges if row[e[1]] - row[e[0]] == 1]
    long = sorted((e for e in edges if row[e[1]] - row[e[0]] > 1), key=lambda e: (row[e[0]], row[e[1]]))
    levels = _arc_levels([(row[u], row[v]) for u, v, _ in long])
    lane = 0.25 + max([half_w[n] for n in order] + [0.1 + CHAR["label"] * len(t) for _, _, t in short])
    right = lane + 0.35 * (max(levels, default=-1) + 1) + 0.3
    left = -max(half_w.values()) - 0.2
    plt.rcParams["svg.fonttype"] = "none"  # SVG text as text
    fig = plt.figure(figsize=(right - left, 0.3 - top))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(left, right)
    ax.set_ylim(top, 0.3)
    style = {"arrowstyle": "->", "mutation_scale": 10, "color": "#555555", "shrinkA": 0, "shrinkB": 0}
    for u, v, label in short:
        ax.add_patch(FancyArrowPatch((0.0, y[u] - half_h[u]), (0.0, y[v] + half_h[v]), **style))
        ax.text(0.1, (y[u] - half_h[u] + y[v] + half_h[v]) / 2, label, fontsize=6.5, color="#333399", va="center")
    for (u, v, label), level in zip(long, levels):  # out of the box sideways, along its own lane, back in
        x = lane + 0.35 * level
        ax.plot([half_w[u], x, x], [y[u], y[u], y[v]], color="#555555", lw=1)
        ax.add_patch(FancyArrowPatch((x, y[v]), (half_w[v], y[v]), **style))
        ax.text(x + 0.04, (y[u] + y[v]) / 2, label, fontsize=6.5, color="#333399", rotation=90, va="center")
    for name in order:
        ax.add_patch(matplotlib.patches.FancyBboxPatch(
            (-half_w[name], y[name] - half_h[name]), 2 * half_w[name], 2 * half_h[name],
            boxstyle="round,pad=0,rounding_size=0.05", facecolor=colour(graph, name), edgecolor="#888888"))
        ax.text(0.0, y[name], "\n".join(lines[name]), ha="center", va="center", fontsize=7.5, family="monospace")
    fig.savefig(path, format=path.suffix.lstrip("."), dpi=110)
    plt.close(fig)


def write_graph(graph: Analysis, path: str | Path) -> None:
    """Write the picture, page or graph file chosen by the extension of ``path``, atomically."""
    p = Path(path)
    fmt = p.suffix.lower()
    if fmt not in FORMATS:
        raise SpecError(f"{p}: the graph is written as {', '.join(FORMATS)} (chosen by the extension)")

    def write(tmp: Path) -> None:
        if fmt == ".dot":
            tmp.write_text(to_dot(graph), encoding="utf-8")
        elif fmt == ".graphml":
            nx.write_graphml(labelled_graph(graph), tmp)
        elif fmt == ".html":
            from .page import page

            tmp.write_text(page(graph), encoding="utf-8")
        elif have_dot():
            tmp.write_bytes(render(graph, fmt.lstrip(".")))
        else:
            _draw_fallback(graph, tmp)

    atomic_write(p, write)
