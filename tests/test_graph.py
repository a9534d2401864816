"""The graph, the solver and bind(): wiring, pinning, constraints and every error at once."""

from collections import OrderedDict

import networkx as nx
import numpy as np
import pytest
import torch

import symshape as ss

B, D, E, H, T = (ss.sym(n) for n in ["B", "D", "E", "H", "T"])


def test_sequential_names_and_graph_attributes():
    net = ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10))
    g = net.infer("B, D")
    assert isinstance(g.graph, nx.DiGraph)
    assert list(nx.topological_sort(g.graph)) == ["x", "0", "1", "2"]
    node = g.graph.nodes["0"]
    assert node["op"] == "LazyLinear" and node["input_shapes"] == [(B, D)] and node["output_shapes"] == [(B, 256)]
    assert node["args"]["in_features"] == D and set(node["params"]) == {"weight", "bias"}
    assert g.graph.edges["0", "1"]["shapes"] == [(B, 256)]
    assert g.num_params == 256 * D + 2826


def test_ordered_dict_and_nested_sequential_names_follow_torch():
    inner = ss.Sequential(ss.Linear(4, 8), ss.ReLU())
    net = ss.Sequential(OrderedDict([("encoder", inner), ("head", ss.Linear(8, 2))]))
    g = net.infer("B, 4")
    assert list(g.param_shapes) == ["encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias"]
    torch_net = torch.nn.Sequential(OrderedDict([("encoder", torch.nn.Sequential(torch.nn.Linear(4, 8),
                                                                                  torch.nn.ReLU())),
                                                 ("head", torch.nn.Linear(8, 2))]))
    assert list(torch_net.state_dict()) == list(g.param_shapes)
    assert net["head"].out_features == 2 and len(net) == 2 and net[0] is inner


def test_fixed_first_layer_resolves_everything_immediately():
    g = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.LazyLinear(10)).infer("B, D")
    assert g.fixed_sizes == {"D": 20}
    assert g.param_shapes == {"0.weight": (256, 20), "0.bias": (256,), "2.weight": (10, 256), "2.bias": (10,)}
    assert g.symbols == ["B"]
    assert set(g.materialize(seed=0)) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_pins_through_expressions_and_reports_impossible_ones():
    g = ss.Sequential(ss.Linear(64, 3)).infer("B, 2*T")
    assert g.fixed_sizes == {"T": 32}
    with pytest.raises(ss.ShapeMismatchError, match=r"no whole positive T gives that \(T would be 64/3\)"):
        ss.Sequential(ss.Linear(64, 3)).infer("B, 3*T")


def test_every_mismatch_is_reported_at_once():
    net = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.Linear(100, 10), ss.Linear(7, 3))
    with pytest.raises(ss.ShapeMismatchError) as info:
        net.infer("B, D")
    assert [c.node for c in info.value.conflicts] == ["2", "3"]
    assert "2 shape errors" in str(info.value) and "Sizes the model fixes: D = 20 (by 0 (Linear) in_features)" \
        in str(info.value)


def test_non_strict_infer_collects_errors():
    g = ss.Sequential(ss.Linear(3, 4), ss.Linear(5, 6)).infer("B, 3", strict=False)
    assert len(g.errors) == 1 and g.errors[0].to_json()["node"] == "1"
    assert g.output_shapes == [(B, 6)]


def test_bind_partial_and_rechecked():
    g = ss.Sequential(ss.LazyConv2d(8, 3), ss.Flatten(), ss.LazyLinear(5)).infer("B, C, H, W")
    assert g.symbols == ["B", "C", "H", "W"]
    partial = g.bind(H=10)
    assert partial.symbols == ["B", "C", "W"]
    full = partial.bind(W=6, C=3, B=2)
    assert full.is_concrete and full.param_shapes["2.weight"] == (5, 8 * 8 * 4)
    with pytest.raises(ss.ShapeMismatchError, match=r"the output size on dim 3 is 0 \(must be at least 1\)"):
        g.bind(W=2)


def test_bind_errors():
    g = ss.Sequential(ss.Linear(20, 4)).infer("B, D")
    with pytest.raises(ss.SpecError, match=r"no size named 'X'; its sizes are B, D"):
        g.bind(X=3)
    with pytest.raises(ss.ShapeMismatchError, match=r"0 \(Linear\): in_features is 20 but its input \(B, 30\)"):
        g.bind(D=30)
    with pytest.raises(ss.SpecError, match="B must be a positive integer"):
        g.bind(B=0)
    assert g.bind(D=20).fixed_sizes == {"D": 20}


def test_functional_branches_multiple_inputs_and_outputs():
    x = ss.Input("B, 3, H, W", name="x")
    y = ss.Input("B, 5", name="meta")
    h = ss.Conv2d(None, 16, 3, padding=1)(x)
    s = ss.Add()(h, ss.Conv2d(None, 16, 1)(x))
    pooled = ss.Flatten()(ss.AdaptiveAvgPool2d(1)(s))
    joined = ss.Concat(1)(pooled, y)
    model = ss.Model(inputs=[x, y], outputs=[ss.Linear(21, 2)(joined, name="head"), s])
    g = model.infer()
    assert list(g.outputs) == ["head", "add"]
    assert g.output_shapes == [(B, 2), (B, 16, H, ss.sym("W"))]
    assert [n.name for n in model.nodes] == ["conv2d", "conv2d_1", "add", "adaptiveavgpool2d", "flatten",
                                            "concat", "head"]
    rng = np.random.default_rng(0)
    out, feat = g.forward(g.bind(H=5, W=4).materialize(seed=0), rng.standard_normal((2, 3, 5, 4)).astype(np.float32),
                          rng.standard_normal((2, 5)).astype(np.float32))
    assert out.shape == (2, 2) and feat.shape == (2, 16, 5, 4)


def test_parameter_tying_stores_once_and_checks_both_uses():
    x1, x2 = ss.Input("B, T, D", name="a"), ss.Input("B, S, E", name="b")
    shared = ss.LazyLinear(8)
    model = ss.Model([x1, x2], [shared(x1, name="enc"), shared(x2, name="enc_again")])
    g = model.infer()
    assert list(g.param_shapes) == ["enc.weight", "enc.bias"]
    assert g.graph.nodes["enc_again"]["owner"] == "enc" and g.graph.nodes["enc_again"]["params"] == {}
    assert g.fixed_sizes == {"E": D}  # tying pins the second input's features to the first's
    with pytest.raises(ss.ShapeMismatchError, match=r"enc_again \(LazyLinear\): in_features is 4 but"):
        model.infer(a="B, T, 4", b="B, S, 6")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 7, 4)).astype(np.float32)
    params = g.bind(D=4).materialize(seed=0)
    ya, yb = g.forward(params, a, b)
    np.testing.assert_allclose(yb, b @ params["enc.weight"].T + params["enc.bias"], rtol=1e-5)


def test_uninitialized_parameter_repr_then_eager_call():
    net = ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10))
    assert repr(net[0].weight) == "<UninitializedParameter shape=(256, in_features)>"
    assert repr(net[2].bias) == "<UninitializedParameter shape=(10,)>"
    y = net(np.random.rand(2, 20).astype(np.float32))
    assert y.shape == (2, 10) and net[0].weight.shape == (256, 20) and net[0].in_features == 20
    w = net[0].weight.copy()
    net(np.random.rand(3, 20).astype(np.float32))
    np.testing.assert_array_equal(net[0].weight, w)  # materialized once, as in torch
    with pytest.raises(ss.ShapeMismatchError, match="in_features is 20 but its input"):
        net(np.random.rand(2, 30).astype(np.float32))


def test_single_layer_eager_call():
    layer = ss.LazyConv2d(4, 3)
    y = layer(np.zeros((1, 2, 5, 5), dtype=np.float32))
    assert y.shape == (1, 4, 3, 3) and layer.weight.shape == (4, 2, 3, 3)


def test_forward_checks_inputs_and_params_all_at_once():
    g = ss.Sequential(ss.Linear(4, 3), ss.Linear(3, 2)).infer("B, 4")
    params = g.materialize(seed=0)
    with pytest.raises(ss.ShapeMismatchError, match=r"x \(input\): rank is 2 \(B, 4\) but the array has shape \(4,\)"):
        g.forward(params, np.zeros(4, dtype=np.float32))
    with pytest.raises(ss.ShapeMismatchError, match=r"x \(input\): shape is \(2, 4\) but the array has shape \(2, 5\)"):
        g.forward(params, np.zeros((2, 5), dtype=np.float32))
    bad = dict(params, extra=np.zeros(1))
    bad["1.weight"] = np.zeros((3, 3))
    del bad["0.bias"]
    with pytest.raises(ss.SpecError, match=r"the parameters given does not fit the model \(3 differences\):\n"
                                           r"  - missing 0\.bias \(3,\)\n  - 1\.weight has shape \(3, 3\), the model "
                                           r"needs \(2, 3\)\n  - unexpected extra"):
        g.forward(bad, np.zeros((2, 4), dtype=np.float32))  # one checker for files and forward()


def test_forward_checks_dtypes():
    x = ss.Input("2, 4", name="x")  # declared float32 (the default of Input and of spec files)
    g = ss.Model(x, ss.Linear(4, 3)(x, name="0")).infer()
    params = g.materialize(seed=0)
    with pytest.raises(ss.ShapeMismatchError, match=r"x \(input\): dtype is float32 \(as declared\) but the array is "
                                                    r"int64\. Give a float array, or declare the input as"):
        g.forward(params, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ss.ShapeMismatchError, match=r"the array is complex64"):
        g.forward(params, np.zeros((2, 4), dtype=np.complex64))
    with pytest.raises(ss.SpecError, match=r"0\.weight has dtype int64, the model needs a float dtype"):
        g.forward(dict(params, **{"0.weight": params["0.weight"].astype(np.int64)}), np.zeros((2, 4), np.float32))
    assert ss.Sequential(ss.Linear(4, 3)).infer("2, 4").node("x")["dtype"] is None  # undeclared: any kind
    x = ss.Input("B, T", name="ids", dtype="int64")
    g = ss.Model(x, ss.Embedding(10, 3)(x)).infer()
    params = g.materialize(seed=0)
    assert g.forward(params, np.array([[1, 2, 3]])).shape == (1, 3, 3)  # int64 token ids
    with pytest.raises(ss.ShapeMismatchError, match=r"ids \(input\): dtype is int64 \(as declared\) but the array is "
                                                    r"float32"):
        g.forward(params, np.array([[1, 2, 3]], dtype=np.float32))


def test_model_wiring_errors():
    x = ss.Input("B, 4", name="x")
    other = ss.Input("B, 4", name="other")
    with pytest.raises(ss.SpecError, match="depend on input 'other', which is not listed"):
        ss.Model(x, ss.Add()(x, other))
    with pytest.raises(ss.SpecError, match="the name 'x' is used twice"):
        ss.Model(x, ss.ReLU()(x, name="x"))
    with pytest.raises(ss.SpecError, match="Add takes two or more inputs, got 1"):
        ss.Add()(x)
    with pytest.raises(ss.SpecError, match="Sequential: Add at '0' takes two or more inputs, got 1; use the functional API"):
        ss.Sequential(ss.Add())
    with pytest.raises(ss.SpecError, match=r"give the shape of input 'x'"):
        ss.Sequential(ss.ReLU()).infer()


def test_reserved_sympy_names_are_ordinary_sizes():
    g = ss.Sequential(ss.LazyLinear(3)).infer("N, S, E")
    assert str(g.param_shapes["0.weight"]) == "(3, E)"
    assert g.bind(E=2, N=1, S=1).is_concrete


def test_models_and_graphs_copy_and_pickle():
    import copy
    import pickle

    net = ss.Sequential(ss.LazyLinear(8), ss.ReLU(), ss.Identity(3, a=1), ss.LazyLinear(2))
    assert repr(copy.deepcopy(net)[0].weight) == "<UninitializedParameter shape=(8, in_features)>"
    assert pickle.loads(pickle.dumps(net)).infer("B, D").num_params == net.infer("B, D").num_params
    net(np.zeros((2, 5), dtype=np.float32))
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again[0].weight, net[0].weight)
    g = ss.Sequential(ss.LazyConv2d(4, 3)).infer("B, C, H, W")
    restored = pickle.loads(pickle.dumps(g))
    assert restored.bind(C=3, H=5, W=5).param_shapes == g.bind(C=3, H=5, W=5).param_shapes
