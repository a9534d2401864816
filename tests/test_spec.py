"""Spec files: loading, blocks, sharing, references, and the save -> load round trip."""

import json
from pathlib import Path

import pytest

import symshape as ss

EXAMPLES = Path(__file__).parents[1] / "examples"


def summary(graph):
    return ([(n.name, n.layer.op, n.inputs, n.owner) for n in graph.model.nodes], graph.param_shapes,
            graph.buffer_shapes, graph.output_shapes, graph.constraints)


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_gives_the_same_graph(name, suffix, tmp_path):
    model = ss.load_spec(EXAMPLES / f"{name}.yaml")
    ss.save_spec(model, tmp_path / f"saved{suffix}")
    again = ss.load_spec(tmp_path / f"saved{suffix}")
    assert summary(again.infer()) == summary(model.infer())
    ss.save_spec(again, tmp_path / f"twice{suffix}")
    assert (tmp_path / f"saved{suffix}").read_text() == (tmp_path / f"twice{suffix}").read_text()


def test_dict_spec_with_sharing_multiple_outputs_and_int64_input():
    model = ss.load_spec({
        "inputs": {"a": "B, D", "b": {"shape": ["B", "E"], "dtype": "int64"}},
        "layers": [
            {"name": "enc", "op": "LazyLinear", "out_features": 8, "in": "a"},
            {"name": "enc_b", "share": "enc", "in": "b"},
            {"name": "sum", "op": "Add", "in": ["enc", "enc_b"]},
        ],
        "outputs": ["sum", "enc"],
    })
    g = model.infer()
    assert model.inputs[1].dtype == "int64"
    assert list(g.param_shapes) == ["enc.weight", "enc.bias"]
    assert list(g.outputs) == ["sum", "enc"]
    assert g.fixed_sizes == {"E": ss.sym("D")}


def test_blocks_nest_and_name_like_torchvision():
    spec = {
        "inputs": {"x": [2, 4]},
        "blocks": {
            "pair": {"args": {"width": None}, "layers": [
                {"name": "a", "op": "LazyLinear", "out_features": "$width"},
                {"name": "b", "op": "Linear", "in_features": "$width", "out_features": "2*$width"}]},
            "stage": {"args": {"width": 3}, "layers": [
                {"name": "0", "block": "pair", "width": "$width"},
                {"name": "1", "block": "pair", "width": "2*$width"}]},
        },
        "layers": [{"name": "layer1", "block": "stage"}, {"name": "head", "op": "LazyLinear", "out_features": 1}],
    }
    g = ss.load_spec(spec).infer()
    assert list(g.param_shapes)[:4] == ["layer1.0.a.weight", "layer1.0.a.bias", "layer1.0.b.weight", "layer1.0.b.bias"]
    assert g.param_shapes["layer1.1.b.weight"] == (12, 6)
    assert g.param_shapes["head.weight"] == (1, 12)


def test_block_outputs_and_instance_references():
    spec = {
        "inputs": {"x": ["B", 4]},
        "blocks": {"two": {"layers": [{"name": "p", "op": "Linear", "in_features": 4, "out_features": 3},
                                      {"name": "q", "op": "Linear", "in_features": 4, "out_features": 5, "in": "x"}],
                           "outputs": ["p", "q"]}},
        "layers": [{"name": "blk", "block": "two"},
                   {"name": "cat", "op": "Concat", "dim": 1, "in": ["blk", "blk:1"]}],
    }
    g = ss.load_spec(spec).infer()
    assert g.output_shapes == [(ss.sym("B"), 8)]
    assert g.graph.nodes["cat"]["inputs"] == ("blk.p", "blk.q")


def test_yaml_keeps_sympy_reserved_and_yaml11_boolean_names(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("inputs:\n  x: [N, Y, on]\nlayers:\n  - {op: LazyLinear, out_features: 2, bias: false}\n")
    g = ss.load_spec(path).infer()
    assert str(g.param_shapes["0.weight"]) == "(2, on)" and g.inputs["x"][0] == ss.sym("N")


def test_json_spec_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"inputs": {"x": [1, 2]}, "layers": [{"op": "Linear"}]})[:-3])
    with pytest.raises(ss.SpecError, match=r"bad\.json: not valid JSON \(line 1, column \d+"):
        ss.load_spec(path)


def test_file_order_is_networkx_lexicographical_topological_sort():
    """The entries' order, computed without networkx, is networkx's sort by file position; None for a cycle."""
    import random

    import networkx as nx

    from symshape.spec import _file_order

    draw = random.Random(0)
    for _ in range(300):
        names = [f"n{i}" for i in draw.sample(range(100), draw.randint(1, 20))]
        order = draw.sample(names, len(names))  # an order the reads respect, unless they may be cyclic
        cyclic = draw.random() < 0.2
        reads = {}
        for n in names:
            pool = names if cyclic else order[:order.index(n)]
            reads[n] = set(draw.sample(pool, min(len(pool), draw.randint(0, 3))))
        g = nx.DiGraph()
        g.add_nodes_from(names)
        g.add_edges_from((s, n) for n in names for s in reads[n])
        position = {n: i for i, n in enumerate(names)}
        try:
            expected = list(nx.lexicographical_topological_sort(g, key=position.__getitem__))
        except nx.NetworkXUnfeasible:
            expected = None
        assert _file_order(reads) == expected, reads
