import numpy as np
import pytest
import torch
import torch.nn.functional as F

import symshape as ss

DTYPES = {"float32": np.float32, "int64": np.int64, "int32": np.int32, "bool": np.bool_}


def _array(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.standard_normal(shape).astype(np.float32)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(-3, 4, shape).astype(DTYPES[dtype])


def parity(layer, fn, *arrays):
    """Shapes, recorded dtypes and forward values (and dtypes) of ``layer`` against torch's ``fn``."""
    xs = [ss.Input(a.shape, name=f"x{i}", dtype=a.dtype.name) for i, a in enumerate(arrays)]
    out = layer(*xs, name="op")
    g = ss.Model(xs, list(out) if isinstance(out, tuple) else out).infer()
    expected = fn(*[torch.from_numpy(a) for a in arrays])
    expected = tuple(expected) if isinstance(expected, (tuple, list)) else (expected,)
    got = g.forward({}, *arrays)
    got = got if isinstance(got, tuple) else (got,)
    assert [tuple(s) for s in g.output_shapes] == [tuple(e.shape) for e in expected]
    assert g.node("op")["output_dtypes"] == [str(e.dtype).removeprefix("torch.") for e in expected]
    for a, e in zip(got, expected):
        assert a.shape == tuple(e.shape) and a.dtype == e.numpy().dtype, (a.dtype, e.dtype)
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-4, atol=1e-5)
    return g


def infer(layer, *shapes):
    xs = [ss.Input(s, name=f"x{i}") for i, s in enumerate(shapes)]
    return ss.Model(xs, layer(*xs, name="op")).infer()


@pytest.mark.parametrize("shape, size", [((3, 1, 5), [3, 4, 5]), ((3, 1, 5), [-1, 4, -1]), ((3, 1, 5), [2, 3, 4, 5]),
                                         ((1,), [6]), ((2, 1), [5, -1, 3])])
def test_expand_matches_torch(shape, size):
    parity(ss.Expand(size), lambda x: x.expand(*size), _array(shape))


def test_expand_symbolic_and_errors():
    assert str(infer(ss.Expand(["B", -1, -1]), "1, T, C").output_shapes[0]) == "(B, T, C)"
    assert str(infer(ss.Expand([4, "H", "T", -1]), "B, 1, T, D").output_shapes[0]) == "(4, H, T, D)"
    with pytest.raises(ss.ShapeMismatchError, match=r"op \(Expand\): size\[1\] is 4 but its input \(2, 3\) from input "
                                                    r"x0 has 3 on dim 1 \(not 1\)\. expand only repeats dims of size 1"):
        infer(ss.Expand([2, 4]), (2, 3))
    with pytest.raises(ss.ShapeMismatchError, match=r"size\[0\] is -1 but it is a new leading dim"):
        infer(ss.Expand([-1, 2, 3]), (2, 3))
    with pytest.raises(ss.SpecError, match=r"Expand: size entries are positive sizes or -1, got 0"):
        ss.Expand([0, 3])


@pytest.mark.parametrize("shape, repeats", [((2, 3), [2, 1]), ((2, 3), [1, 2, 3]), ((3,), [2]), ((2, 1, 3), [1, 4, 1])])
def test_repeat_matches_torch(shape, repeats):
    parity(ss.Repeat(repeats), lambda x: x.repeat(*repeats), _array(shape))


def test_repeat_symbolic_and_errors():
    assert str(infer(ss.Repeat([1, "K", 1, 1]), "B, H, T, D").output_shapes[0]) == "(B, H*K, T, D)"
    with pytest.raises(ss.ShapeMismatchError, match=r"the number of repeats is 1 but its input \(2, 3\)"):
        infer(ss.Repeat([2]), (2, 3))


@pytest.mark.parametrize("shape, repeats, dim", [((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3, 4), 2, -2), ((4,), 1, 0)])
def test_repeat_interleave_matches_torch(shape, repeats, dim):
    parity(ss.RepeatInterleave(repeats, dim), lambda x: torch.repeat_interleave(x, repeats, dim), _array(shape))


def test_repeat_interleave_gqa_symbolic():
    assert str(infer(ss.RepeatInterleave("G", 1), "B, H, T, D").output_shapes[0]) == "(B, G*H, T, D)"


@pytest.mark.parametrize("shape, dim", [((1, 3, 1, 4), None), ((1, 3, 1), 0), ((2, 3), 1), ((1, 3, 1), [0, -1]),
                                        ((1, 3, 1), -1), ((1,), None)])
def test_squeeze_matches_torch(shape, dim):
    parity(ss.Squeeze(dim), lambda x: x.squeeze() if dim is None else x.squeeze(dim if type(dim) is int else tuple(dim)),
           _array(shape))


def test_squeeze_keeps_symbolic_dims():
    assert str(infer(ss.Squeeze(), "B, 1, T, 1").output_shapes[0]) == "(B, T)"
    assert str(infer(ss.Squeeze(0), "B, 1").output_shapes[0]) == "(B, 1)"
    g = infer(ss.Squeeze(), "B, 1, T").bind(T=1)
    assert str(g.output_shapes[0]) == "(B,)"


@pytest.mark.parametrize("shape, dim", [((2, 3), 0), ((2, 3), 2), ((2, 3), -1), ((2, 3), -3), ((), 0)])
def test_unsqueeze_matches_torch(shape, dim):
    parity(ss.Unsqueeze(dim), lambda x: x.unsqueeze(dim), _array(shape))


def test_unsqueeze_out_of_range():
    with pytest.raises(ss.ShapeMismatchError, match=r"dim is 3 but its input \(2, 3\) from input x0 has rank 2\. "
                                                    r"Use a dim between -3 and 2\."):
        infer(ss.Unsqueeze(3), (2, 3))


@pytest.mark.parametrize("shifts, dims", [(1, None), (-2, 1), ([1, -3], [0, 2]), (7, -1)])
def test_roll_matches_torch(shifts, dims):
    parity(ss.Roll(shifts, dims), lambda x: torch.roll(x, shifts, dims), _array((3, 4, 5)))


def test_roll_misuse():
    with pytest.raises(ss.SpecError, match="shifts and dims must align"):
        ss.Roll([1, 2], [0])
    with pytest.raises(ss.ShapeMismatchError, match=r"dims is \[3\]"):
        infer(ss.Roll(1, 3), (3, 4))


@pytest.mark.parametrize("dims", [[0], [-1], [0, 2], 1])
def test_flip_matches_torch(dims):
    parity(ss.Flip(dims), lambda x: torch.flip(x, [dims] if type(dims) is int else dims), _array((3, 4, 5)))


def test_flip_duplicate_dims():
    with pytest.raises(ss.ShapeMismatchError, match=r"dims is \[2, -1\]"):
        infer(ss.Flip([2, -1]), (3, 4, 5))


PAD_CASES = [((2, 3, 5), (1, 1)), ((2, 3, 5), (-1, 2)), ((2, 3, 5), (5, 0)), ((2, 3, 5), (4, 0)), ((2, 3, 5), (6, 0)),
             ((5,), (1, 1)), ((2, 3, 5), (1, 1, 1, 1)), ((1, 2, 3, 5), (1, 2, 0, 1, 2, 1)), ((2, 3, 5), (-5, 0)),
             ((2, 3, 5), (-2, 3)), ((2, 3, 5), (-4, 4)), ((2, 3, 5), (0, 0, 0, 0, 1, 1)), ((2, 3, 5), (-3, 5)),
             ((1, 1, 2, 3, 5), (1, 1, 1, 1, 1, 1, 1, 1)), ((2, 3, 5), (2, -1, -1, 2))]


# circular padding wider than what is left after cropping: torch pads some inputs and fails on others
# ("some elements of the input tensor and the written-to tensor refer to a single memory location")
WRAPS_TWICE = {((2, 3, 5), (-4, 4)), ((2, 3, 5), (-3, 5))}


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", PAD_CASES)
def test_pad_matches_torch_or_both_refuse(mode, shape, pad):
    x = _array(shape)
    try:
        y = F.pad(torch.from_numpy(x), pad, mode=mode)
        # symshape sizes are positive: an empty result is refused, and so is wrapping around twice
        torch_ok = 0 not in y.shape and not (mode == "circular" and (shape, pad) in WRAPS_TWICE)
    except (RuntimeError, NotImplementedError):
        torch_ok = False
    try:
        layer = ss.Pad(list(pad), mode)
        infer(layer, shape)
    except (ss.ShapeMismatchError, ss.SpecError):
        assert not torch_ok, "symshape refuses what torch pads"
        return
    assert torch_ok, "symshape accepts what torch refuses"
    parity(layer, lambda t: F.pad(t, pad, mode=mode), x)


def test_pad_value_and_symbolic():
    parity(ss.Pad([1, 2], value=-1.5), lambda t: F.pad(t, (1, 2), value=-1.5), _array((2, 3)))
    g = infer(ss.Pad([1, 1, 2, 2], "reflect"), "N, C, H, W")
    assert str(g.output_shapes[0]) == "(N, C, H + 4, W + 2)"
    assert sorted(str(c) for c in g.constraints) == ["H >= 3", "W >= 2"]
    with pytest.raises(ss.SpecError, match="value is only for mode='constant'"):
        ss.Pad([1, 1], "reflect", 0.0)


def test_one_hot_matches_torch():
    x = np.array([[0, 3, 1], [2, 2, 4]], dtype=np.int64)
    parity(ss.OneHot(5), lambda t: F.one_hot(t, 5), x)
    assert str(ss.Model(i := ss.Input("B, T", dtype="int64"), ss.OneHot("V")(i)).infer().output_shapes[0]) == "(B, T, V)"


def test_one_hot_needs_num_classes():
    with pytest.raises(ss.SpecError, match="num_classes=-1 takes the class count from the data.*give num_classes"):
        ss.OneHot()
    g = ss.Model(i := ss.Input((3,), dtype="int64"), ss.OneHot(4)(i)).infer()
    with pytest.raises(ss.ShapeError, match="class 4 is out of range for num_classes=4"):
        g.forward({}, np.array([0, 1, 4]))


@pytest.mark.parametrize("dim, n", [(0, 2), (1, 3), (-1, 2), (2, 2), (-3, 2)])
def test_stack_matches_torch(dim, n):
    parity(ss.Stack(dim), lambda *ts: torch.stack(ts, dim), *[_array((2, 3), seed=i) for i in range(n)])


def test_stack_promotes_and_checks_shapes():
    parity(ss.Stack(), lambda *ts: torch.stack(ts), _array((2,), "int64"), _array((2,)))
    with pytest.raises(ss.ShapeMismatchError, match=r"dim 1 is 3 on input 0 \(2, 3\) from input x0 but its input 1 "
                                                    r"\(2, 4\) from input x1 has 4"):
        infer(ss.Stack(), (2, 3), (2, 4))
    assert str(infer(ss.Stack(1), "B, D", "B, D").output_shapes[0]) == "(B, 2, D)"


@pytest.mark.parametrize("dtype", ["float32", "int64", "int32", "bool"])
@pytest.mark.parametrize("dim", [0, -1])
def test_cumsum_matches_torch(dtype, dim):
    parity(ss.Cumsum(dim), lambda t: torch.cumsum(t, dim), _array((3, 4), dtype))


def test_view_is_reshape():
    parity(ss.View([4, -1]), lambda t: t.view(4, -1), _array((2, 3, 2)))


REDUCTIONS = [
    (lambda: ss.Max(1), lambda t: tuple(t.max(1))), (lambda: ss.Max(-1, True), lambda t: tuple(t.max(-1, True))),
    (lambda: ss.Max(), lambda t: t.max()), (lambda: ss.Min(0), lambda t: tuple(t.min(0))),
    (lambda: ss.Min(), lambda t: t.min()), (lambda: ss.Amax(), lambda t: t.amax()),
    (lambda: ss.Amax([0, 2], True), lambda t: t.amax((0, 2), True)), (lambda: ss.Amin(-1), lambda t: t.amin(-1)),
    (lambda: ss.Argmax(), lambda t: t.argmax()), (lambda: ss.Argmax(1), lambda t: t.argmax(1)),
    (lambda: ss.Argmax(None, True), lambda t: t.argmax(None, True)),
    (lambda: ss.Argmin(2, True), lambda t: t.argmin(2, True)), (lambda: ss.Prod(), lambda t: t.prod()),
    (lambda: ss.Prod(1, True), lambda t: t.prod(1, True)), (lambda: ss.Var(), lambda t: t.var()),
    (lambda: ss.Var(1, correction=0), lambda t: t.var(1, correction=0)),
    (lambda: ss.Std([0, 1], keepdim=True), lambda t: t.std((0, 1), keepdim=True)),
    (lambda: ss.Sum([]), lambda t: t.sum(dim=())), (lambda: ss.Mean([]), lambda t: t.mean(dim=())),
]


@pytest.mark.parametrize("layer, fn", REDUCTIONS)
def test_reductions_match_torch(layer, fn):
    parity(layer(), fn, _array((3, 4, 5)))


@pytest.mark.parametrize("layer, fn", [
    (lambda: ss.Sum(1), lambda t: t.sum(1)), (lambda: ss.Prod(0), lambda t: t.prod(0)),
    (lambda: ss.Max(1), lambda t: tuple(t.max(1))), (lambda: ss.Amax(), lambda t: t.amax()),
    (lambda: ss.Argmin(0), lambda t: t.argmin(0)),
])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_reduction_dtypes_on_integers(layer, fn, dtype):
    parity(layer(), fn, _array((3, 4), dtype))


def test_reductions_symbolic_and_errors():
    g = infer(ss.Max(1), "B, T, C")
    assert [str(s) for s in g.output_shapes] == ["(B, C)", "(B, C)"]
    assert g.node("op")["output_dtypes"] == ["float32", "int64"]
    with pytest.raises(ss.ShapeMismatchError, match=r"dim is 3 but its input \(2, 3, 4\)"):
        infer(ss.Argmax(3), (2, 3, 4))
    with pytest.raises(ss.SpecError, match="dim must be an int"):
        ss.Max([0, 1])


def _asserting(dim, size):
    def fn(x):
        torch._assert(x.shape[dim] == size, "size")
        return x
    return fn


def test_assert_size_passes_the_tensor_and_pins_the_size_as_torch_asserts():
    parity(ss.AssertSize(1, 4), _asserting(1, 4), _array((3, 4)))
    x = ss.Input("B, 3, H, W", name="x")
    g = ss.Model([x], ss.Flatten()(ss.AssertSize(2, 8, reason="traced at 8")(x))).infer()
    assert g.fixed_sizes == {"H": 8}
    assert [str(c) for c in g.constraints] == ["H == 8"]
    assert g.valid(H=8) and not g.valid(H=7)
    with pytest.raises(AssertionError):
        _asserting(2, 8)(torch.zeros(1, 3, 7, 5))
    with pytest.raises(ss.ShapeError, match=r"dim 2 is 8 .* has 7\. The model needs size 8 there \(traced at 8\)"):
        g.bind(H=7)
