import pytest
import torch
from harness import check_layer

import symshape as ss


@pytest.mark.parametrize("op, args, shape", [
    ("ReLU", (), (3, 4, 5)),
    ("Sigmoid", (), (3, 7)),
    ("Tanh", (), (2, 2, 2)),
    ("GELU", (), (4, 9)),
    ("GELU", ("tanh",), (4, 9)),
    ("Softmax", (-1,), (3, 5)),
    ("Softmax", (1,), (2, 4, 3)),
    ("Softmax", (), (2, 4, 3)),  # dim=None: torch's legacy choice (0 for rank 3)
    ("Softmax", (), (2, 4)),
    ("Dropout", (0.3,), (6, 7)),
    ("Dropout", (), (2, 3, 4)),
    ("ReLU6", (), (3, 8)),
    ("LeakyReLU", (), (3, 8)),
    ("LeakyReLU", (0.2,), (2, 3, 4)),
    ("ELU", (), (3, 8)),
    ("ELU", (0.5,), (3, 8)),
    ("SELU", (), (3, 8)),
    ("SiLU", (), (3, 8)),
    ("Mish", (), (3, 8)),
    ("Hardswish", (), (3, 8)),
    ("Hardsigmoid", (), (3, 8)),
    ("Softplus", (), (3, 8)),
    ("Softplus", (2.0, 1.0), (3, 8)),
    ("LogSoftmax", (-1,), (3, 5)),
    ("LogSoftmax", (), (2, 4, 3)),
    ("PReLU", (), (2, 3, 4)),
    ("PReLU", (3, 0.1), (2, 3, 4)),
    ("PReLU", (4,), (2, 4)),
    ("Dropout1d", (0.2,), (2, 3, 4)),
    ("Dropout2d", (), (2, 3, 4, 4)),
])
def test_activation_matches_torch(op, args, shape):
    check_layer(getattr(ss, op)(*args), getattr(torch.nn, op)(*args), shape)


def test_activation_arguments_are_validated():
    with pytest.raises(ss.SpecError, match="p must be a probability"):
        ss.Dropout(1.5)
    with pytest.raises(ss.SpecError, match="approximate must be"):
        ss.GELU("fast")
    with pytest.raises(ss.SpecError, match=r"ReLU: .*argument"):
        ss.ReLU(True, 3)


def test_softmax_dim_out_of_range():
    with pytest.raises(ss.ShapeMismatchError, match=r"dim is 3 but its input \(2, 4\) from input x has rank 2"):
        ss.Sequential(ss.Softmax(3)).infer((2, 4))


def test_activations_keep_large_inputs_finite():
    import numpy as np

    x = np.array([[-200.0, -30.0, 0.0, 30.0, 200.0]], dtype=np.float32)
    for op in ["Softplus", "Mish", "SiLU", "ELU", "SELU", "LogSoftmax", "Sigmoid"]:
        layer = getattr(ss, op)(*((1,) if op == "LogSoftmax" else ()))
        got = ss.Sequential(layer)(x.copy())
        expected = getattr(torch.nn, op)(*((1,) if op == "LogSoftmax" else ()))(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, err_msg=op)


def test_prelu_channels_must_match():
    with pytest.raises(ss.ShapeMismatchError, match=r"num_parameters is 3 but its input \(2, 4, 5\) from input x has 4 channels"):
        ss.Sequential(ss.PReLU(3)).infer((2, 4, 5))
