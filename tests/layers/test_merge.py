import pytest
import torch
from harness import check_layer

import symshape as ss


@pytest.mark.parametrize("shapes", [[(2, 3), (2, 3)], [(2, 3, 4), (3, 1)], [(1, 4), (5, 1), (5, 4)]])
def test_add_and_mul_broadcast_like_torch(shapes):
    check_layer(ss.Add(), lambda *xs: sum(xs[1:], xs[0]), *shapes)
    check_layer(ss.Mul(), lambda *xs: torch.stack(torch.broadcast_tensors(*xs)).prod(0), *shapes)


@pytest.mark.parametrize("dim, shapes", [(0, [(2, 3), (4, 3)]), (1, [(2, 3, 5), (2, 1, 5), (2, 2, 5)]),
                                         (-1, [(2, 3), (2, 7)])])
def test_concat_matches_torch_cat(dim, shapes):
    check_layer(ss.Concat(dim), lambda *xs: torch.cat(xs, dim), *shapes)


def test_add_mismatch_names_both_branches():
    x = ss.Input("B, 3, 8, 8", name="x")
    a = ss.Conv2d(3, 64, 3, padding=1)(x, name="conv_a")
    b = ss.Conv2d(3, 32, 3, padding=1)(x, name="conv_b")
    model = ss.Model(x, ss.Add()(a, b, name="sum"))
    with pytest.raises(ss.ShapeMismatchError,
                       match=r"sum \(Add\): dim -3 is 64 on input 0 \(B, 64, 8, 8\) from conv_a \(Conv2d\) but "
                             r"its input 1 \(B, 32, 8, 8\) from conv_b \(Conv2d\) has 32"):
        model.infer()


def test_add_broadcasts_symbols_and_concat_adds_symbolic_sizes():
    x, y = ss.Input("B, D", name="x"), ss.Input("B, E", name="y")
    g = ss.Model([x, y], [ss.Add()(x, y), ss.Concat(1)(x, y)]).infer()
    assert [str(c) for c in g.constraints] == ["E == D or D == 1 or E == 1"]  # torch broadcasting
    assert [str(s) for s in g.output_shapes] == ["(B, Max(D, E))", "(B, D + E)"]


def test_concat_needs_equal_ranks():
    x, y = ss.Input((2, 3), name="x"), ss.Input((2, 3, 1), name="y")
    with pytest.raises(ss.ShapeMismatchError, match="rank of input 1 is 2"):
        ss.Model([x, y], ss.Concat(1)(x, y)).infer()
