"""Elementwise arithmetic, comparisons, logical ops, Where, MaskedFill and Cast against torch: shapes,
dtypes (torch's type promotion) and values; symbolic shapes; broadcasting and dtype errors."""

import numpy as np
import pytest
import torch
from harness import check_layer

import symshape as ss

RNG = np.random.default_rng(0)


def array(shape, dtype):
    if dtype == "bool":
        return RNG.random(shape) > 0.5
    if dtype.startswith("int"):
        values = RNG.integers(1, 6, size=shape) * RNG.choice([-1, 1], size=shape)  # no zeros: integer division
        return values.astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def compare(layer, fn, *arrays):
    """symshape's recorded dtype, forward dtype and values equal torch's; when torch refuses the dtypes,
    symshape's analysis refuses them too."""
    xs = [ss.Input(a.shape, name=f"x{i}", dtype=str(a.dtype)) for i, a in enumerate(arrays)]
    model = ss.Model(xs, layer(*xs, name="op"))
    try:
        expected = fn(*[torch.from_numpy(a) for a in arrays])
    except (RuntimeError, NotImplementedError) as exc:
        with pytest.raises(ss.SpecError):
            model.infer()
        return str(exc)
    graph = model.infer()
    assert graph.output_shapes == [tuple(expected.shape)]
    assert graph.graph.nodes["op"]["output_dtypes"] == [str(expected.dtype).removeprefix("torch.")]
    got = graph.forward({}, *arrays)
    assert got.dtype == expected.numpy().dtype and got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.astype(np.float64), expected.double().numpy(), rtol=1e-4, atol=1e-6)
    return None


BINARY = [
    (lambda: ss.Add(), torch.add), (lambda: ss.Add(alpha=2), lambda a, b: torch.add(a, b, alpha=2)),
    (lambda: ss.Add(alpha=0.5), lambda a, b: torch.add(a, b, alpha=0.5)),
    (lambda: ss.Sub(), torch.sub), (lambda: ss.RSub(), torch.rsub), (lambda: ss.Mul(), torch.mul),
    (lambda: ss.Div(), torch.div), (lambda: ss.Div(rounding_mode="floor"), lambda a, b: torch.div(a, b, rounding_mode="floor")),
    (lambda: ss.Div(rounding_mode="trunc"), lambda a, b: torch.div(a, b, rounding_mode="trunc")),
    (lambda: ss.Maximum(), torch.maximum), (lambda: ss.Minimum(), torch.minimum),
    (lambda: ss.Eq(), torch.eq), (lambda: ss.Ne(), torch.ne), (lambda: ss.Lt(), torch.lt), (lambda: ss.Le(), torch.le),
    (lambda: ss.Gt(), torch.gt), (lambda: ss.Ge(), torch.ge), (lambda: ss.LogicalAnd(), torch.logical_and),
    (lambda: ss.LogicalOr(), torch.logical_or), (lambda: ss.LogicalXor(), torch.logical_xor),
]
DTYPE_PAIRS = [("float32", "float32"), ("int64", "int64"), ("int64", "float32"), ("bool", "bool"), ("bool", "int64"),
               ("float32", "float64"), ("int32", "int64"), ("bool", "float32")]


@pytest.mark.parametrize("make, fn", BINARY)
@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids="-".join)
def test_binary_ops_promote_and_compute_like_torch(make, fn, dtypes):
    compare(make(), fn, array((2, 3, 4), dtypes[0]), array((3, 1), dtypes[1]))


def test_bool_subtraction_is_refused_as_in_torch():
    message = compare(ss.Sub(), torch.sub, array((2,), "bool"), array((2,), "bool"))
    assert "bool" in message
    m = ss.Input("B", name="m", dtype="bool")
    with pytest.raises(ss.SpecError, match=r"sub \(Sub\): subtraction with a bool tensor is not supported"):
        ss.Model(m, ss.Sub(other=1)(m)).infer()


SCALAR = [
    (ss.Add(other=2), lambda x: x + 2), (ss.Add(other=2.5), lambda x: x + 2.5), (ss.Add(other=True), lambda x: x + True),
    (ss.Add(other=1, alpha=3), lambda x: torch.add(x, 1, alpha=3)), (ss.Mul(other=0.5), lambda x: x * 0.5),
    (ss.Mul(other=3), lambda x: x * 3), (ss.Sub(other=1), lambda x: x - 1), (ss.RSub(other=1), lambda x: 1 - x),
    (ss.RSub(other=1.0), lambda x: torch.rsub(x, 1.0)), (ss.Div(other=2), lambda x: x / 2),
    (ss.Div(other=-3, rounding_mode="floor"), lambda x: torch.div(x, -3, rounding_mode="floor")),
    (ss.Div(other=2.5, rounding_mode="trunc"), lambda x: torch.div(x, 2.5, rounding_mode="trunc")),
    (ss.Pow(exponent=2), lambda x: x ** 2), (ss.Pow(exponent=0.5), lambda x: x ** 0.5),
    (ss.Pow(exponent=-1), lambda x: x ** -1), (ss.Pow(exponent=3.0), lambda x: torch.pow(x, 3.0)),
    (ss.Maximum(other=0), lambda x: torch.clamp(x, min=0)), (ss.Minimum(other=0.5), lambda x: torch.clamp(x, max=0.5)),
    (ss.Gt(other=0), lambda x: x > 0), (ss.Eq(other=2.0), lambda x: x == 2.0), (ss.Le(other=True), lambda x: x <= True),
    (ss.Ne(other=1), lambda x: x != 1),
]


@pytest.mark.parametrize("layer, fn", SCALAR, ids=lambda v: repr(v) if isinstance(v, ss.Layer) else "")
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16", "int32"])
def test_scalar_other_follows_torch_promotion(layer, fn, dtype):
    compare(layer, fn, array((2, 3), dtype))


UNARY = [
    (ss.Neg(), torch.neg), (ss.Abs(), torch.abs), (ss.Sqrt(), torch.sqrt), (ss.Rsqrt(), torch.rsqrt),
    (ss.Exp(), torch.exp), (ss.Log(), torch.log), (ss.Sin(), torch.sin), (ss.Cos(), torch.cos),
    (ss.Reciprocal(), torch.reciprocal), (ss.Erf(), torch.erf), (ss.LogicalNot(), torch.logical_not),
    (ss.Clamp(-1, 1), lambda x: torch.clamp(x, -1, 1)), (ss.Clamp(min=0.5), lambda x: torch.clamp(x, min=0.5)),
    (ss.Clamp(max=2), lambda x: torch.clamp(x, max=2)), (ss.Cast("int64"), lambda x: x.to(torch.int64)),
    (ss.Cast("bool"), lambda x: x.to(torch.bool)), (ss.Cast("torch.float16"), lambda x: x.half()),
    (ss.Cast(torch.float64), lambda x: x.double()),
]


@pytest.mark.parametrize("layer, fn", UNARY, ids=lambda v: repr(v) if isinstance(v, ss.Layer) else "")
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float64"])
def test_unary_ops_match_torch(layer, fn, dtype):
    x = array((3, 4), dtype)
    compare(layer, fn, x * 3 if dtype == "float32" else x)


@pytest.mark.parametrize("layer, fn", [(ss.Sub(), torch.sub), (ss.Div(), torch.div), (ss.Pow(), torch.pow),
                                       (ss.Maximum(), torch.maximum), (ss.Lt(), torch.lt)])
@pytest.mark.parametrize("shapes", [[(2, 3), (2, 3)], [(2, 3, 4), (3, 1)], [(1, 4), (5, 1)], [(), (3,)]])
def test_binary_ops_broadcast_like_torch(layer, fn, shapes):
    check_layer(layer, fn, *shapes)


def test_where_promotes_input_and_other_and_takes_scalars():
    cond, f, i = array((2, 1, 4), "bool"), array((3, 4), "float32"), array((2, 3, 1), "int64")
    compare(ss.Where(), torch.where, cond, f, f)
    compare(ss.Where(), torch.where, cond, i, f)
    compare(ss.Where(other=0.0), lambda c, x: torch.where(c, x, 0.0), cond, i)
    compare(ss.Where(input=-1), lambda c, y: torch.where(c, -1, y), cond, i)
    compare(ss.Where(input=1, other=0), lambda c: torch.where(c, 1, 0), cond)
    compare(ss.Where(input=1.0, other=0), lambda c: torch.where(c, 1.0, 0), cond)
    assert "boolean" in compare(ss.Where(), torch.where, i, f, f)


def test_where_condition_must_be_bool():
    c, x = ss.Input("B, T", name="c", dtype="int64"), ss.Input("B, T", name="x")
    with pytest.raises(ss.SpecError, match=r"where \(Where\): condition must be a bool tensor .* got int64"):
        ss.Model([c, x], ss.Where(other=0.0)(c, x)).infer()


def test_masked_fill_broadcasts_and_keeps_the_dtype():
    compare(ss.MaskedFill(float("-inf")), lambda x, m: x.masked_fill(m, float("-inf")),
            array((3, 1), "float32"), array((3, 4), "bool"))
    compare(ss.MaskedFill("-inf"), lambda x, m: x.masked_fill(m, float("-inf")),
            array((2, 3, 4), "float32"), array((4,), "bool"))
    compare(ss.MaskedFill(0.7), lambda x, m: x.masked_fill(m, 0.7), array((2, 3), "int64"), array((2, 3), "bool"))
    assert "boolean" in compare(ss.MaskedFill(0.0), lambda x, m: x.masked_fill(m, 0.0),
                                array((2, 3), "float32"), array((2, 3), "int64"))


def test_causal_attention_mask_as_in_nanogpt():
    """att.masked_fill(tril(ones(T, T)) == 0, -inf).softmax(-1) * (1/sqrt(d)) with T symbolic."""
    x = ss.Input("B, H, T, T", name="att")
    mask = ss.Eq(other=0)(ss.Tril()(ss.Ones(["T", "T"])()))
    scores = ss.Mul(other=0.125)(ss.Softmax(dim=-1)(ss.MaskedFill(float("-inf"))(x, mask)))
    graph = ss.Model(x, scores).infer()
    assert str(graph.output_shapes[0]) == "(B, H, T, T)"
    att = array((2, 3, 5, 5), "float32")
    t = torch.from_numpy(att)
    expected = t.masked_fill(torch.tril(torch.ones(5, 5)) == 0, float("-inf")).softmax(-1) * 0.125
    np.testing.assert_allclose(graph.forward({}, att), expected.numpy(), rtol=1e-5, atol=1e-7)


def test_symbolic_shapes_broadcast_and_scalars_keep_the_shape():
    x = ss.Input("B, T, C", name="x")
    assert str(ss.Model(x, ss.Add(other=2)(x)).infer().output_shapes[0]) == "(B, T, C)"
    a, b = ss.Input("B, 1, T", name="a"), ss.Input("1, H, T", name="b")
    g = ss.Model([a, b], [ss.Ge()(a, b), ss.Where()(ss.Lt()(a, b), a, b)]).infer()
    assert [str(s) for s in g.output_shapes] == ["(B, H, T)", "(B, H, T)"]
    assert g.graph.nodes["ge"]["output_dtypes"] == ["bool"]


def test_broadcasting_mismatch_names_both_inputs():
    a, b = ss.Input("B, 3", name="a"), ss.Input("B, 4", name="b")
    with pytest.raises(ss.ShapeMismatchError, match=r"div \(Div\): dim -1 is 3 on input 0 \(B, 3\) from input a but "
                                                      r"its input 1 \(B, 4\) from input b has 4"):
        ss.Model([a, b], ss.Div()(a, b, name="div")).infer()


def test_arity_depends_on_the_scalar_operand():
    x, y = ss.Input("B", name="x"), ss.Input("B", name="y")
    with pytest.raises(ss.SpecError, match=r"Add takes 1 input\(s\), got 2"):
        ss.Add(other=2)(x, y)
    with pytest.raises(ss.SpecError, match=r"Sub takes 2 input\(s\), got 3"):
        ss.Sub()(x, y, x)
    with pytest.raises(ss.SpecError, match=r"Where takes 2 input\(s\), got 3"):
        ss.Where(other=0)(x, y, x)
    assert ss.Model([x, y], ss.Add()(x, y, x)).infer().output_shapes == [(ss.sym("B"),)]


@pytest.mark.parametrize("make, message", [
    (lambda: ss.Add(other="two"), "Add: other must be a number, got 'two'"),
    (lambda: ss.Div(rounding_mode="round"), "rounding_mode must be None, 'trunc' or 'floor'"),
    (lambda: ss.Clamp(), "at least one of min or max"),
    (lambda: ss.Cast("float8"), "Cast: dtype must be one of"),
    (lambda: ss.MaskedFill(None), "MaskedFill: value must be a number"),
])
def test_bad_arguments_are_spec_errors(make, message):
    with pytest.raises(ss.SpecError, match=message):
        make()


def test_integer_dtype_errors_follow_torch():
    i = ss.Input("B", name="i", dtype="int64")
    with pytest.raises(ss.SpecError, match=r"pow \(Pow\): integers to negative integer powers are not allowed"):
        ss.Model(i, ss.Pow(exponent=-2)(i)).infer()
    with pytest.raises(ss.SpecError, match=r"add \(Add\): for integral input tensors \(int64\), alpha must not be a floating point number"):
        ss.Model(i, ss.Add(other=1, alpha=0.5)(i)).infer()
    m = ss.Input("B", name="m", dtype="bool")
    with pytest.raises(ss.SpecError, match=r"neg \(Neg\): not supported for a bool tensor"):
        ss.Model(m, ss.Neg()(m)).infer()


def test_scalar_ops_in_a_spec_round_trip(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("inputs: {x: [B, T]}\n"
                    "layers:\n"
                    "  - {name: scaled, op: Mul, other: 0.5}\n"
                    "  - {name: shifted, op: Add, other: 1, alpha: 2}\n"
                    "  - {name: big, op: Gt, other: 1.5}\n"
                    "  - {name: filled, op: MaskedFill, value: -inf, in: [shifted, big]}\n")
    model = ss.load_spec(path)
    ss.save_spec(model, tmp_path / "again.json")
    again = ss.load_spec(tmp_path / "again.json")
    x = array((2, 3), "float32")
    t = torch.from_numpy(x) * 0.5 + 2
    expected = t.masked_fill(t > 1.5, float("-inf")).numpy()
    for m in (model, again):
        np.testing.assert_array_equal(m.infer().forward({}, x), expected)


def test_scalar_add_after_a_convolution_runs_in_place_before_relu():
    layer = torch.nn.Conv2d(2, 3, 3)
    model = ss.Sequential(ss.Conv2d(2, 3, 3), ss.Add(other=1.0), ss.ReLU())
    graph = model.infer((1, 2, 6, 6))
    params = graph.materialize(seed=0)
    layer.load_state_dict({k.removeprefix("0."): torch.from_numpy(v) for k, v in params.items()})
    x = array((1, 2, 6, 6), "float32")
    expected = torch.relu(layer(torch.from_numpy(x)) + 1.0).detach().numpy()
    np.testing.assert_allclose(graph.forward(params, x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [ss.Add(other=2, alpha=3), ss.Where(other=0.5), ss.Div(rounding_mode="floor"),
                                   ss.Clamp(max=1), ss.Cast("int32"), ss.MaskedFill("-inf"), ss.Pow(exponent=2)])
def test_layers_copy_and_pickle_with_their_arity(layer):
    import copy
    import pickle

    for again in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert repr(again) == repr(layer) and again.n_inputs == layer.n_inputs
