import pytest
import torch
from harness import check_layer

import symshape as ss


@pytest.mark.parametrize("args, shape", [((), (2, 3, 4, 5)), ((0,), (2, 3, 4)), ((1, 2), (2, 3, 4, 5)),
                                         ((-3, -2), (2, 3, 4, 5)), ((2, 2), (2, 3, 4))])
def test_flatten_matches_torch(args, shape):
    check_layer(ss.Flatten(*args), torch.nn.Flatten(*args), shape)


def test_flatten_symbolic():
    g = ss.Sequential(ss.Flatten()).infer("B, C, H, W")
    assert str(g.output_shapes[0][1]) == "C*H*W"


def test_flatten_out_of_range():
    with pytest.raises(ss.ShapeMismatchError, match=r"start_dim/end_dim is 4\.\.-1 but its input \(2, 3\)"):
        ss.Sequential(ss.Flatten(4)).infer((2, 3))
