import numpy as np
import pytest
import torch
from harness import check_layer

import symshape as ss


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _slice(x, dim, start, end, step):
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, end, step)
    return x[tuple(index)]


@pytest.mark.parametrize("dim, start, end, step", [
    (1, None, None, 1), (1, 2, 5, 1), (1, -3, None, 1), (1, None, -2, 1), (1, 1, 100, 2), (-1, -100, 3, 1),
    (0, 1, None, 3), (2, 0, 5, 2), (-2, -5, -1, 2), (1, 6, 7, 1),
])
def test_slice_matches_torch(dim, start, end, step):
    check_layer(ss.Slice(dim, start, end, step), _Fn(lambda x: _slice(x, dim, start, end, step)), (4, 7, 5))


def test_empty_slice_is_a_model_error():
    with pytest.raises(ss.ShapeMismatchError, match=r"slice length on dim 1 is 0 \(must be at least 1\) but its "
                                                    r"input \(2, 3\) from input x has 3 there, sliced \[5:\]"):
        ss.Model(x := ss.Input((2, 3), name="x"), ss.Slice(1, 5)(x)).infer()


def _bert_positions():
    table, x = ss.Input("1, 512, C", name="table"), ss.Input("B, T, C", name="x")
    return ss.Model([table, x], ss.Add()(x, ss.Slice(1, 0, "T")(table)))


def test_slice_to_a_symbolic_length_is_exact_and_adding_it_needs_the_bound():
    table = ss.Input("1, 512, C", name="table")
    g = ss.Model(table, ss.Slice(1, 0, "T")(table)).infer()
    assert str(g.output_shapes[0]) == "(1, Min(512, T), C)"
    g = _bert_positions().infer()
    assert [str(c) for c in g.constraints] == ["T <= 512"]
    assert g.valid(T=512) and not g.valid(T=513)
    with pytest.raises(ss.ShapeMismatchError, match=r"dim -2 is 600 .* has 512"):
        g.bind(T=600)


def test_symbolic_slice_runs_after_binding():
    rng = np.random.default_rng(0)
    table, x = rng.standard_normal((1, 512, 4)).astype(np.float32), rng.standard_normal((2, 9, 4)).astype(np.float32)
    y = _bert_positions().infer().forward({}, table, x)
    np.testing.assert_array_equal(y, x + table[:, :9])


@pytest.mark.parametrize("start, end, expected", [
    ("T - 1", None, "(B, 1, C)"), (-2, None, "(B, Min(2, T), C)"), ("C", None, "(B, Max(0, T - Min(C, T)), C)"),
    (None, "T - 1", "(B, T - 1, C)"), (None, -1, "(B, T - 1, C)"), (1, "T", "(B, T - 1, C)"),
])
def test_symbolic_bounds(start, end, expected):
    x = ss.Input("B, T, C", name="x")
    g = ss.Model(x, ss.Slice(1, start, end)(x)).infer(strict=False)
    assert str(g.output_shapes[0]) == expected


def test_symbolic_bound_of_unknown_sign_counts_from_the_start():
    x = ss.Input("B, T, C", name="x")
    g = ss.Model(x, ss.Slice(1, "T - 5")(x)).infer()
    assert "T >= 5" in [str(c) for c in g.constraints]


def test_rotary_halves_run_with_a_symbolic_start():
    x = ss.Input("B, T, D", name="x")
    m = ss.Model(x, [ss.Slice(-1, None, "D//2")(x), ss.Slice(-1, "D//2")(x)])
    a = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    lo, hi = m.infer().forward({}, a)
    np.testing.assert_array_equal(lo, a[..., :4])
    np.testing.assert_array_equal(hi, a[..., 4:])


@pytest.mark.parametrize("dim, index", [(1, 0), (1, -1), (0, 2), (-1, 3), (2, -5)])
def test_select_matches_torch(dim, index):
    check_layer(ss.Select(dim, index), _Fn(lambda x: x.select(dim, index)), (4, 7, 5))


def test_select_symbolic():
    x = ss.Input("B, T, C", name="x")
    assert str(ss.Model(x, ss.Select(1, 0)(x)).infer().output_shapes[0]) == "(B, C)"
    assert str(ss.Model(x, ss.Select(1, -1)(x)).infer().output_shapes[0]) == "(B, C)"
    assert [str(c) for c in ss.Model(x, ss.Select(1, 3)(x)).infer().constraints] == ["T >= 4"]


def test_select_out_of_range_names_the_layer():
    x = ss.Input((2, 3), name="x")
    with pytest.raises(ss.ShapeMismatchError, match=r"sel \(Select\): index is 3 but its input \(2, 3\) from input x "
                                                    r"has size 3 on dim 1\. Use an index from -3 to 2\."):
        ss.Model(x, ss.Select(1, 3)(x, name="sel")).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"index is -4"):
        ss.Model(x, ss.Select(-1, -4)(x)).infer()


@pytest.mark.parametrize("dim, start, length", [(1, 1, 3), (1, -4, 2), (0, 0, 4), (-1, 4, 1)])
def test_narrow_matches_torch(dim, start, length):
    check_layer(ss.Narrow(dim, start, length), _Fn(lambda x: x.narrow(dim, start, length)), (4, 7, 5))


def test_narrow_out_of_range_and_symbolic():
    x = ss.Input((2, 5), name="x")
    with pytest.raises(ss.ShapeMismatchError, match=r"start \+ length is 6 \(must be at most 5\)"):
        ss.Model(x, ss.Narrow(1, 2, 4)(x)).infer()
    t = ss.Input("1, 512", name="t")
    g = ss.Model(t, ss.Narrow(1, 0, "T")(t)).infer()
    assert str(g.output_shapes[0]) == "(1, T)" and [str(c) for c in g.constraints] == ["T <= 512"]


def _run_indexed(layer, fn, x_shape, index):
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    xi, ii = ss.Input(x_shape, name="x"), ss.Input(index.shape, name="i", dtype="int64")
    g = ss.Model([xi, ii], layer(xi, ii)).infer()
    expected = fn(torch.from_numpy(x), torch.from_numpy(index)).numpy()
    got = g.forward({}, x, index)
    assert tuple(g.output_shapes[0]) == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dim, index", [(0, [2, 0, 2]), (1, [6]), (-1, [4, 3, 2, 1, 0, 0])])
def test_index_select_matches_torch(dim, index):
    _run_indexed(ss.IndexSelect(dim), lambda x, i: torch.index_select(x, dim, i), (4, 7, 5), np.array(index))


@pytest.mark.parametrize("dim, shape", [(0, (3, 7, 5)), (1, (4, 2, 5)), (-1, (2, 3, 9)), (2, (4, 7, 1))])
def test_gather_matches_torch(dim, shape):
    index = np.random.default_rng(1).integers(0, (4, 7, 5)[dim], size=shape)
    _run_indexed(ss.Gather(dim), lambda x, i: torch.gather(x, dim, i), (4, 7, 5), index)


def test_gather_index_larger_than_the_input():
    x, i = ss.Input((4, 7), name="x"), ss.Input((5, 7), name="i", dtype="int64")
    with pytest.raises(ss.ShapeMismatchError, match=r"the index size on dim 0 is 5 \(must be at most 4\)"):
        ss.Model([x, i], ss.Gather(1)(x, i)).infer()


@pytest.mark.parametrize("dim, index", [(0, [[1, -1], [0, 2]]), (1, [5, -7, 0]), (-1, 3), (2, [[[0]]])])
def test_index_matches_torch(dim, index):
    def fn(x, i):
        return x[(slice(None),) * (dim % 3) + (i,)]
    _run_indexed(ss.Index(dim), fn, (4, 7, 5), np.array(index))


def test_index_symbolic_and_out_of_range_values():
    x, i = ss.Input("V, D", name="x"), ss.Input("B, T", name="i", dtype="int64")
    g = ss.Model([x, i], ss.Index(0)(x, i)).infer()
    assert str(g.output_shapes[0]) == "(B, T, D)"
    with pytest.raises(ss.ShapeError, match=r"index 9 is out of range for a dim of size 4"):
        g.forward({}, np.zeros((4, 3), np.float32), np.array([[9]]))


@pytest.mark.parametrize("dim, shapes", [(0, [(3, 1), (1, 7)]), (1, [(2, 3), (3,)]), (0, [(4,), (4,), (4,)])])
def test_index_with_broadcast_index_tensors_matches_torch(dim, shapes):
    x = np.random.default_rng(0).standard_normal((4, 7, 5)).astype(np.float32)
    sizes = x.shape[dim:dim + len(shapes)]
    indices = [np.random.default_rng(k).integers(-s, s, shape) for k, (s, shape) in enumerate(zip(sizes, shapes))]
    xi = ss.Input(x.shape, name="x")
    ins = [ss.Input(i.shape, name=f"i{k}", dtype="int64") for k, i in enumerate(indices)]
    g = ss.Model([xi, *ins], ss.Index(dim)(xi, *ins)).infer()
    expected = torch.from_numpy(x)[(slice(None),) * dim + tuple(torch.from_numpy(i) for i in indices)].numpy()
    assert tuple(g.output_shapes[0]) == expected.shape
    np.testing.assert_array_equal(g.forward({}, x, *indices), expected)


def test_index_tensors_that_do_not_broadcast_or_overrun_the_rank():
    x, i, j = ss.Input((4, 7), name="x"), ss.Input((3,), name="i", dtype="int64"), ss.Input((2,), name="j",
                                                                                           dtype="int64")
    with pytest.raises(ss.ShapeMismatchError, match="3"):
        ss.Model([x, i, j], ss.Index(0)(x, i, j)).infer()
    with pytest.raises(ss.ShapeMismatchError, match="at least 3"):
        ss.Model([x, i], ss.Index(0)(x, i, i, i)).infer()
