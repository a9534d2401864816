"""Graph pictures: DOT, GraphML, SVG and PNG show names, ops, parameter shapes and edge shapes."""

import networkx as nx
import pytest

import symshape as ss
from symshape.draw import to_dot, write_graph


@pytest.fixture()
def graph():
    x = ss.Input("B, 3, H, W", name="x")
    h = ss.Conv2d(3, 8, 3, padding=1)(x, name="conv")
    return ss.Model(x, ss.Add()(h, ss.LazyConv2d(8, 1)(x, name="proj"), name="sum")).infer()


def test_dot_has_labels_and_symbolic_edge_shapes(graph):
    dot = to_dot(graph)
    assert '"conv" [label="conv\\nConv2d\\nweight (8, 3, 3, 3)\\nbias (8,)"]' in dot
    assert '"conv" -> "sum" [label="(B, 8, H, W)"]' in dot


def test_bound_shapes_on_edges(graph, tmp_path):
    write_graph(graph.bind(H=16, W=8, B=1), tmp_path / "g.dot")
    assert '[label="(1, 8, 16, 8)"]' in (tmp_path / "g.dot").read_text()


def test_graphml_round_trips_through_networkx(graph, tmp_path):
    write_graph(graph, tmp_path / "g.graphml")
    g = nx.read_graphml(tmp_path / "g.graphml")
    assert set(g.nodes) == {"x", "conv", "proj", "sum"}
    assert g.edges["proj", "sum"]["label"] == "(B, 8, H, W)"


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_pictures(graph, tmp_path, suffix, magic):
    path = tmp_path / f"g{suffix}"
    write_graph(graph, path)
    assert path.read_bytes().startswith(magic)
    if suffix == ".svg":
        assert "weight (8, 3, 3, 3)" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
