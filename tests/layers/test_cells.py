"""RNNCell, LSTMCell and GRUCell against torch."""

import numpy as np
import pytest
import torch
from harness import check_layer, check_model
from torch.utils.flop_counter import FlopCounterMode

import symshape as ss


class LSTMCellCall(torch.nn.Module):
    """torch's LSTMCell as child ``cell``, its ``hx=(h, c)`` given as two inputs, as symshape's layer takes it."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.cell = torch.nn.LSTMCell(*args, **kwargs)

    def forward(self, x, h=None, c=None):
        return self.cell(x, None if h is None else (h, c))


class CellCall(torch.nn.Module):
    def __init__(self, cls, *args, **kwargs):
        super().__init__()
        self.cell = cls(*args, **kwargs)

    def forward(self, x, h=None):
        return self.cell(x, h)


CASES = [  # (symshape class, torch module factory, kwargs)
    ("RNNCell", lambda **kw: CellCall(torch.nn.RNNCell, 5, 7, **kw), {}),
    ("RNNCell", lambda **kw: CellCall(torch.nn.RNNCell, 5, 7, **kw), {"nonlinearity": "relu", "bias": False}),
    ("GRUCell", lambda **kw: CellCall(torch.nn.GRUCell, 5, 7, **kw), {}),
    ("GRUCell", lambda **kw: CellCall(torch.nn.GRUCell, 5, 7, **kw), {"bias": False}),
    ("LSTMCell", lambda **kw: LSTMCellCall(5, 7, **kw), {}),
    ("LSTMCell", lambda **kw: LSTMCellCall(5, 7, **kw), {"bias": False}),
]


@pytest.mark.parametrize("op, module, kwargs", CASES)
@pytest.mark.parametrize("batch", [(3,), ()])
@pytest.mark.parametrize("with_state", [False, True])
def test_cells_match_torch(op, module, kwargs, batch, with_state):
    layer = getattr(ss, op)(5, 7, **kwargs)
    states = [(*batch, 7)] * (layer.n_inputs[1] - 1) if with_state else []
    if not states:  # one input: check_layer wraps both in a Sequential named "0"
        x = ss.Input((*batch, 5), name="x")
        out = layer(x, name="cell")
        rng = np.random.default_rng(0)
        check_model(ss.Model(x, list(out) if isinstance(out, tuple) else out), module(**kwargs),
                    rng.standard_normal((*batch, 5)).astype(np.float32))
    else:
        inputs = [ss.Input(s, name=n) for s, n in zip([(*batch, 5), *states], ("x", "h", "c"))]
        out = layer(*inputs, name="cell")
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal(i.producer.shape).astype(np.float32) for i in inputs]
        check_model(ss.Model(inputs, list(out) if isinstance(out, tuple) else out), module(**kwargs), *arrays,
                    check_init=False)


def test_lazy_input_size_in_a_sequential():
    check_layer(ss.GRUCell(None, 6), torch.nn.GRUCell(4, 6), (2, 4))


def test_symbolic_shapes_and_macs():
    x, h, c = ss.Input("B, D", name="x"), ss.Input("B, 16", name="h"), ss.Input("B, 16", name="c")
    g = ss.Model([x, h, c], list(ss.LSTMCell(None, 16)(x, h, c, name="cell"))).infer()
    B, D = ss.sym("B"), ss.sym("D")
    assert g.output_shapes == [(B, 16), (B, 16)]
    assert g.param_shapes == {"cell.weight_ih": (64, D), "cell.weight_hh": (64, 16), "cell.bias_ih": (64,),
                              "cell.bias_hh": (64,)}
    assert g.costs().macs == 64 * B * D + 1024 * B
    cell = torch.nn.LSTMCell(5, 16)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        cell(torch.zeros(3, 5), (torch.zeros(3, 16), torch.zeros(3, 16)))
    assert counter.get_total_flops() == 2 * g.bind(B=3, D=5).costs().macs


def test_misuse_messages():
    x = ss.Input((3, 2, 5), name="x")
    with pytest.raises(ss.ShapeMismatchError, match=r"cell \(RNNCell\): input rank is 1 or 2 \(\(N, input_size\) "
                                                   r"or \(input_size\)\) but its input \(3, 2, 5\)"):
        ss.Model(x, ss.RNNCell(5, 7)(x, name="cell")).infer()
    x, h = ss.Input((3, 5), name="x"), ss.Input((4, 7), name="h")
    with pytest.raises(ss.ShapeMismatchError, match=r"cell \(GRUCell\): dim 0 of initial state 1 is 3 \(expected "
                                                   r"\(3, 7\)\) but its input 1 \(4, 7\) from input h has 4"):
        ss.Model([x, h], ss.GRUCell(5, 7)(x, h, name="cell")).infer()
    with pytest.raises(ss.SpecError, match=r"LSTMCell takes 1 or 3 input\(s\), got 2"):
        ss.LSTMCell(5, 7)(x, h)
    with pytest.raises(ss.SpecError, match=r"RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        ss.RNNCell(5, 7, nonlinearity="sigmoid")
    with pytest.raises(ss.ShapeMismatchError, match=r"input_size is 6 but its input \(3, 5\) from input x has 5"):
        ss.Model(x, ss.RNNCell(6, 7)(x, name="cell")).infer()
