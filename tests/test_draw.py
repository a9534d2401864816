"""Graph pictures: DOT (clusters for blocks, colours by family), GraphML, SVG and PNG by graphviz with
text as text, and the matplotlib fallback, which draws every edge without crossing a box it does not touch."""

import os
import re
import stat
from pathlib import Path

import networkx as nx
import pytest

import symshape as ss
from symshape import draw
from symshape.draw import _arc_levels, block_tree, to_dot, write_graph

EXAMPLES = Path(__file__).parents[1] / "examples"
DOCS = Path(__file__).parents[1] / "docs"
needs_dot = pytest.mark.skipif(not draw.have_dot(), reason="graphviz's dot is not installed (apt-get install graphviz)")


@pytest.fixture()
def graph():
    x = ss.Input("B, 3, H, W", name="x")
    h = ss.Conv2d(3, 8, 3, padding=1)(x, name="conv")
    return ss.Model(x, ss.Add()(h, ss.LazyConv2d(8, 1)(x, name="proj"), name="sum")).infer()


def test_dot_has_labels_and_symbolic_edge_shapes(graph):
    dot = to_dot(graph)
    assert 'conv [label="conv\\nConv2d\\nweight (8, 3, 3, 3)\\nbias (8,)" fillcolor="#ffe0b3"]' in dot
    assert 'conv -> sum [label="(B, 8, H, W)"]' in dot
    assert 'sum [label="sum\\nAdd" fillcolor="#e8dcf5"]' in dot  # merge family, another colour


def test_blocks_are_nested_clusters():
    dot = to_dot(ss.load_spec(EXAMPLES / "resnet18.yaml").infer())
    assert dot.index("subgraph cluster_layer1 {") < dot.index('subgraph "cluster_layer1.0" {') \
        < dot.index('"layer1.0.conv1" [')
    assert block_tree(["a.b.c", "a.b.d", "a.e", "f"]) == {"": ["a", "f"], "a": ["a.b", "a.e"], "a.b": ["a.b.c", "a.b.d"]}


def test_bound_shapes_on_edges(graph, tmp_path):
    write_graph(graph.bind(H=16, W=8, B=1), tmp_path / "g.dot")
    assert '[label="(1, 8, 16, 8)"]' in (tmp_path / "g.dot").read_text()


def test_graphml_round_trips_through_networkx(graph, tmp_path):
    write_graph(graph, tmp_path / "g.graphml")
    g = nx.read_graphml(tmp_path / "g.graphml")
    assert set(g.nodes) == {"x", "conv", "proj", "sum"}
    assert g.edges["proj", "sum"]["label"] == "(B, 8, H, W)"


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_pictures_by_graphviz(graph, tmp_path, suffix, magic):
    path = tmp_path / f"g{suffix}"
    write_graph(graph, path)
    assert path.read_bytes().startswith(magic)
    if suffix == ".svg":  # text stays text: searchable, selectable
        svg = path.read_text()
        assert ">weight (8, 3, 3, 3)</text>" in svg and ">(B, 8, H, W)</text>" in svg
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_written_files_follow_the_umask_and_keep_an_existing_mode(graph, tmp_path):
    old = os.umask(0o022)
    try:
        write_graph(graph, tmp_path / "g.dot")
        assert stat.S_IMODE((tmp_path / "g.dot").stat().st_mode) == 0o644
        (tmp_path / "g.dot").chmod(0o640)
        write_graph(graph, tmp_path / "g.dot")
        assert stat.S_IMODE((tmp_path / "g.dot").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_arc_levels_never_overlap():
    spans = [(0, 5), (1, 3), (3, 6), (5, 7), (2, 4)]
    levels = _arc_levels(spans)
    for i, (a, b) in enumerate(spans):
        for j, (c, d) in enumerate(spans):
            if i < j and levels[i] == levels[j]:
                assert b <= c or d <= a


def _segments(svg: str) -> tuple[list, list]:
    """Boxes (x0, y0, x1, y1: closed paths but the background) and line segments of a matplotlib SVG."""
    boxes, lines = [], []
    for d in re.findall(r'<path d="([^"]*)"', svg):
        points = [tuple(map(float, p)) for p in re.findall(r"(-?[\d.]+) (-?[\d.]+)", d)]
        if d.rstrip().endswith("z"):
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if min(xs) > 0 or min(ys) > 0:
                boxes.append((min(xs), min(ys), max(xs), max(ys)))
        else:
            lines += list(zip(points, points[1:]))
    return boxes, lines


def test_fallback_draws_skip_connections_beside_the_chain(tmp_path, monkeypatch):
    """Without dot: every edge of the U-Net is drawn, and no line crosses a box's interior."""
    monkeypatch.setattr(draw, "have_dot", lambda: False)
    unet = ss.load_spec(EXAMPLES / "unet.yaml").infer()
    write_graph(unet, tmp_path / "unet.svg")
    svg = (tmp_path / "unet.svg").read_text()
    boxes, lines = _segments(svg)
    nodes = unet.graph.number_of_nodes()
    assert len(boxes) == nodes
    assert len(lines) >= 2 * unet.graph.number_of_edges()  # each edge: a line and an arrow head at least
    assert "(B, 16, H, W)" in svg  # text stays text
    for (x0, y0), (x1, y1) in lines:
        for bx0, by0, bx1, by1 in boxes:
            for t in (0.25, 0.5, 0.75):  # points along the segment, inside no box
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                assert not (bx0 + 1 < px < bx1 - 1 and by0 + 1 < py < by1 - 1), ((x0, y0), (x1, y1))


@needs_dot
def test_pictures_in_docs_show_resnet50_and_unet():
    """The PNGs in docs/ are made here (by graphviz), so they show what symshape draws today."""
    for name in ("resnet50", "unet"):
        path = DOCS / f"graph-{name}.png"
        write_graph(ss.load_spec(EXAMPLES / f"{name}.yaml").infer(), path)
        assert path.read_bytes().startswith(b"\x89PNG")
