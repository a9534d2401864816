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
