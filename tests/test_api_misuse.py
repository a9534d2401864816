"""Misuse of the Python API: every wrong argument is a symshape error (SpecError / ShapeError) whose message
names the call or the argument, never a stray AttributeError, KeyError or TypeError from deep inside."""

import numpy as np
import pytest
import torch

import symshape as ss

LENET = "examples/lenet.yaml"


@pytest.fixture(scope="module")
def lenet():
    g = ss.load_spec(LENET).infer()
    b = g.bind(B=2)
    return g, b, b.materialize(seed=0), np.zeros((2, 1, 28, 28), np.float32)


PROBES = {  # name: (call on (graph, bound, weights, x), a regex the message must match)
    "infer a number": (lambda g, b, w, x: ss.load_spec(LENET).infer(5), r"infer: input 'x': 5 is not a shape"),
    "infer an empty size": (lambda g, b, w, x: ss.load_spec(LENET).infer("B,,"), r"empty string is not a size"),
    "bind a word": (lambda g, b, w, x: g.bind(B="two"), r"B must be a positive integer"),
    "bind a fraction": (lambda g, b, w, x: g.bind(B=2.5), r"B=2.5: 2.5 is not a size"),
    "bind None": (lambda g, b, w, x: g.bind(B=None), r"B=None"),
    "forward without params": (lambda g, b, w, x: b.forward(None, x), r"forward\(\): params must be a dict"),
    "forward with a list of params": (lambda g, b, w, x: b.forward([1, 2], x), r"params must be a dict .* got list"),
    "forward with a param missing": (lambda g, b, w, x: b.forward(dict(list(w.items())[1:]), x),
                                     r"missing conv1.weight"),
    "forward with int weights": (lambda g, b, w, x: b.forward({k: v.astype(np.int64) for k, v in w.items()}, x),
                                 r"conv1.weight has dtype int64"),
    "forward a complex input": (lambda g, b, w, x: b.forward(w, x.astype(np.complex64)), r"the array is complex64"),
    "forward a bool input": (lambda g, b, w, x: b.forward(w, x.astype(bool)), r"the array is bool"),
    "forward two inputs to one": (lambda g, b, w, x: b.forward(w, x, x), r"takes 1 input\(s\) \(x\), got 2"),
    "forward a wrong name": (lambda g, b, w, x: b.forward(w, y=x), r"unexpected or repeated input 'y'"),
    "materialize a word seed": (lambda g, b, w, x: b.materialize(seed="a"), r"seed must be a non-negative int"),
    "materialize a negative seed": (lambda g, b, w, x: b.materialize(seed=-1), r"seed must be a non-negative int"),
    "materialize an unknown dtype": (lambda g, b, w, x: b.materialize(dtype="float7"), r"dtype must be one of"),
    "materialize an int dtype": (lambda g, b, w, x: b.materialize(dtype=np.int32), r"got 'int32'"),
    "materialize only an unknown name": (lambda g, b, w, x: b.materialize(only=["nope"]), r"only names 'nope'"),
    "materialize only a string": (lambda g, b, w, x: b.materialize(only="conv1.weight"), r"list of names"),
    "materialize an unknown initializer": (lambda g, b, w, x: b.materialize(init={"*": "nope"}),
                                           r"unknown initializer 'nope'"),
    "explain a number": (lambda g, b, w, x: g.explain(5), r"explain\(\): expected a name"),
    "explain an unknown name": (lambda g, b, w, x: g.explain("nope"), r"'nope' is no parameter, layer or input"),
    "solve a broken expression": (lambda g, b, w, x: g.solve("B+", equals=3), r"target 'B\+' is not a size"),
    "solve a broken wish": (lambda g, b, w, x: g.solve("B", equals="3+"), r"equals= '3\+' is not a size"),
    "solve without a wish": (lambda g, b, w, x: g.solve("B"), r"say what the target must be"),
    "node of an unknown name": (lambda g, b, w, x: g.node("nope"), r"node\(\): 'nope' is no layer or input"),
    "costs in an unknown dtype": (lambda g, b, w, x: g.costs("float7"), r"costs\(\): dtype must be one of"),
    "save_spec of a number": (lambda g, b, w, x: ss.save_spec(5, "/tmp/never.yaml"), r"expected a symshape Model"),
    "save_weights of a number": (lambda g, b, w, x: ss.save_weights(5, "/tmp/never.npz"), r"params must be a dict"),
    "save_weights to a number": (lambda g, b, w, x: ss.save_weights(w, 5), r"expected a file path"),
    "load_spec of a number": (lambda g, b, w, x: ss.load_spec(5), r"load_spec\(\): expected a file path"),
    "load_spec of a missing file": (lambda g, b, w, x: ss.load_spec("/tmp/never-there.yaml"), r"does not exist"),
    "load_weights of a missing file": (lambda g, b, w, x: ss.load_weights("/tmp/never-there.npz"),
                                       r"does not exist"),
    "a layer with a fractional size": (lambda g, b, w, x: ss.Linear(2.5, 3), r"in_features=2.5 is not a size"),
    "Input of a number": (lambda g, b, w, x: ss.Input(5), r"5 is not a shape"),
    "Model without outputs": (lambda g, b, w, x: ss.Model([ss.Input("B, 4")], []), r"at least one output"),
    "Model with a number as output": (lambda g, b, w, x: ss.Model([ss.Input("B, 4")], 5),
                                      r"outputs must be a symbolic tensor or a list"),
    "a layer called on a number": (lambda g, b, w, x: ss.ReLU()(5), r"call a layer on symbolic tensors"),
    "Sequential of a number": (lambda g, b, w, x: ss.Sequential(5), r"entry '0' is int, not a layer"),
    "from_torch of a number": (lambda g, b, w, x: ss.from_torch(5, {"x": "B, 4"}), r"expected a torch.nn.Module"),
    "from_torch with a bad shape": (lambda g, b, w, x: ss.from_torch(torch.nn.Linear(4, 2), {"x": 5}),
                                    r"input 'x': 5 is not a shape"),
    "bind_from_arrays without the input": (lambda g, b, w, x: g.bind_from_arrays({}), r"no array for input 'x'"),
    "bind_from_arrays of a list": (lambda g, b, w, x: g.bind_from_arrays({"x": [1, 2]}), r"must be a numpy array"),
    "bind_from_arrays of a number": (lambda g, b, w, x: g.bind_from_arrays(5), r"arrays must be a dict"),
}


@pytest.mark.parametrize("probe", PROBES, ids=list(PROBES))
def test_misuse_is_a_symshape_error_with_a_message(lenet, probe):
    call, message = PROBES[probe]
    with pytest.raises(ss.ShapeError, match=message):
        call(*lenet)
