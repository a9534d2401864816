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


@pytest.mark.parametrize("layer, fn, shape", [
    (lambda: ss.Reshape([2, -1]), lambda x: x.reshape(2, -1), (2, 3, 4)),
    (lambda: ss.Reshape([4, 3, 2]), lambda x: x.reshape(4, 3, 2), (2, 3, 4)),
    (lambda: ss.Reshape("-1"), lambda x: x.reshape(-1), (2, 3, 4)),
    (lambda: ss.Permute([2, 0, 1]), lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    (lambda: ss.Permute([0, -1, 1]), lambda x: x.permute(0, -1, 1), (2, 3, 4)),
    (lambda: ss.Transpose(0, -1), lambda x: x.transpose(0, -1), (2, 3, 4)),
    (lambda: ss.Unflatten(1, [3, -1]), lambda x: x.unflatten(1, (3, -1)), (2, 12, 4)),
    (lambda: ss.Unflatten(-1, [2, 2]), lambda x: x.unflatten(-1, (2, 2)), (2, 3, 4)),
    (lambda: ss.Mean(), lambda x: x.mean(), (2, 3, 4)),
    (lambda: ss.Mean(1), lambda x: x.mean(1), (2, 3, 4)),
    (lambda: ss.Mean([0, -1], keepdim=True), lambda x: x.mean((0, -1), keepdim=True), (2, 3, 4)),
    (lambda: ss.Sum(-2), lambda x: x.sum(-2), (2, 3, 4)),
    (lambda: ss.Sum([1, 2], True), lambda x: x.sum((1, 2), True), (2, 3, 4)),
])
def test_tensor_ops_match_torch(layer, fn, shape):
    check_layer(layer(), torch.nn.Sequential(_Fn(fn)), shape)


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("layer, fn, shape", [
    (lambda: ss.Split([1, 2, 3], 1), lambda x: torch.split(x, [1, 2, 3], 1), (2, 6, 2)),
    (lambda: ss.Split([3, 1], -1), lambda x: torch.split(x, [3, 1], -1), (2, 6, 4)),
    (lambda: ss.Chunk(3, 1), lambda x: torch.chunk(x, 3, 1), (2, 7, 2)),
    (lambda: ss.Chunk(2), lambda x: torch.chunk(x, 2), (6, 3)),
])
def test_split_and_chunk_outputs_match_torch(layer, fn, shape):
    import numpy as np

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    model = ss.Sequential(layer())
    graph = model.infer(shape)
    expected = fn(torch.from_numpy(x))
    assert [tuple(s) for s in graph.output_shapes] == [tuple(e.shape) for e in expected]
    got = graph.forward({}, x)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e.numpy())


@pytest.mark.parametrize("a, b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
                                  ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2)), ((7, 3, 4), (7, 4, 2))])
def test_matmul_matches_torch(a, b):
    check_layer(ss.MatMul(), torch.matmul, a, b)


def test_reshape_symbolic_and_pins():
    g = ss.Sequential(ss.Reshape(["B", "S", 4, -1])).infer("B, S, 32")
    assert str(g.output_shapes[0]) == "(B, S, 4, 8)"
    g = ss.Sequential(ss.Reshape(["B", 4, 8])).infer("B, D")
    assert g.fixed_sizes == {"D": 32}
    g = ss.Sequential(ss.Reshape(["B", -1, 16])).infer("B, T, 8")
    assert str(g.output_shapes[0]) == "(B, floor(T/2), 16)"
    assert [str(c) for c in g.constraints] == ["T % 2 == 0"]
    x = __import__("numpy").zeros((2, 6, 8), dtype="float32")
    assert g.forward({}, x).shape == (2, 3, 16)


def test_reshape_errors():
    with pytest.raises(ss.ShapeMismatchError, match=r"shape is a multiple of 10 \(2, -1, 5\) but its input \(2, 3, 4\) from input x has 24 elements"):
        ss.Sequential(ss.Reshape([2, -1, 5])).infer((2, 3, 4))
    with pytest.raises(ss.ShapeMismatchError, match=r"shape is 12\*B, not a multiple of 5\*B but its input \(B, 3, 4\)"):
        ss.Sequential(ss.Reshape(["B", -1, 5])).infer("B, 3, 4")
    with pytest.raises(ss.ShapeMismatchError, match=r"shape is 25 but its input \(2, 3, 4\) from input x has 24 elements there"):
        ss.Sequential(ss.Reshape([5, 5])).infer((2, 3, 4))
    with pytest.raises(ss.SpecError, match="only one entry of shape may be -1"):
        ss.Reshape([-1, -1])
    with pytest.raises(ss.ShapeMismatchError, match=r"dims is \[0, 0, 1\], not a permutation"):
        ss.Sequential(ss.Permute([0, 0, 1])).infer((2, 3, 4))
    with pytest.raises(ss.ShapeMismatchError, match=r"the size of chunk 3 is 0 \(must be at least 1\)"):
        ss.Sequential(ss.Chunk(4, 1)).infer((2, 6))
    with pytest.raises(ss.ShapeMismatchError, match=r"the contracted dim is 4 on input 0 \(3, 4\) from input x0 but its input 1 \(5, 2\) from input x1 has 5"):
        x0, x1 = ss.Input((3, 4), name="x0"), ss.Input((5, 2), name="x1")
        ss.Model([x0, x1], ss.MatMul()(x0, x1)).infer()


@pytest.mark.parametrize("relation, rhs, conditions, inside, outside", [
    (">", 7, ["H >= 32"], 32, 31),  # floor(H/4) > 7
    ("<=", 7, ["H <= 31"], 31, 32),
    (">=", "floor(W/4)", ["floor(H / 4) >= floor(W / 4)"], 40, 20),
    ("==", 8, ["H >= 32", "H <= 35"], 35, 36),
    ("!=", 8, ["H >= 36 or (H >= 1 and H <= 31)"], 36, 33),
])
def test_guard_states_its_branch_as_a_condition(relation, rhs, conditions, inside, outside):
    """A traced branch on the sizes: symbolic, a condition in its simplest form; at sizes, a conflict that
    names the branch and the fix; the values pass through."""
    guard = ss.Guard(lhs="floor(H/4)", relation=relation, rhs=rhs, reason="the branch at model.py:12")
    g = ss.Sequential(guard).infer("H, W")
    assert [str(c) for c in g.constraints] == conditions
    x = __import__("numpy").random.default_rng(0).random((inside, 32), dtype="float32")
    assert (g.bind(H=inside, W=32).forward({}, x) == x).all()
    assert not g.valid(H=outside, W=32)
    with pytest.raises(ss.ShapeMismatchError, match=r"the branch at model\.py:12 is traced where floor\(H / 4\) "
                                                    r".* but here it reads \d+ .* \d+\. torch runs other code"):
        g.bind(H=outside, W=32)


def test_guard_arguments_are_checked():
    with pytest.raises(ss.SpecError, match=r"relation must be one of >=, >, <=, <, ==, !=, got '=>'"):
        ss.Guard(lhs="H", relation="=>", rhs=4)
    with pytest.raises(ss.SpecError, match=r"lhs='H \+' is not a size expression"):
        ss.Guard(lhs="H +", relation=">=", rhs=4)
