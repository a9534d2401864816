"""Losses against torch (values and reductions), their symbolic shapes and misuse messages."""

import numpy as np
import pytest
import torch
from harness import Named, check_model

import symshape as ss

RNG = np.random.default_rng(0)


def f(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def u(*shape):  # in (0, 1)
    return RNG.uniform(0.01, 0.99, shape).astype(np.float32)


def pm(*shape):  # 1 or -1
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def ids(classes, *shape):
    return RNG.integers(0, classes, shape)


CASES = [
    ("L1Loss", {}, [f(3, 4), f(3, 4)]),
    ("L1Loss", {"reduction": "none"}, [f(3, 4), f(1, 4)]),
    ("L1Loss", {"size_average": False}, [f(3, 4), f(3, 4)]),
    ("MSELoss", {"reduction": "sum"}, [f(3, 4), f(3, 4)]),
    ("MSELoss", {"reduce": False}, [f(3, 4), f(3, 4)]),
    ("SmoothL1Loss", {"beta": 0.5}, [f(3, 4), f(3, 4)]),
    ("SmoothL1Loss", {"beta": 0.0, "reduction": "none"}, [f(3, 4), f(3, 4)]),
    ("HuberLoss", {"delta": 0.5}, [f(3, 4), f(3, 4)]),
    ("SoftMarginLoss", {}, [f(3, 4), pm(3, 4)]),
    ("BCELoss", {}, [u(3, 4), u(3, 4)]),
    ("BCELoss", {"reduction": "none"}, [u(5), RNG.integers(0, 2, 5).astype(np.float32)]),
    ("BCEWithLogitsLoss", {}, [f(3, 4), u(3, 4)]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [f(3, 4), pm(3, 4)]),
    ("KLDivLoss", {"reduction": "batchmean"}, [np.log(u(3, 4)), u(3, 4)]),
    ("KLDivLoss", {"reduction": "none", "log_target": True}, [f(3, 4), f(3, 4)]),
    ("KLDivLoss", {"reduction": "sum"}, [f(3, 4), np.where(RNG.random((3, 4)) < .3, 0, u(3, 4)).astype(np.float32)]),
    ("PoissonNLLLoss", {}, [f(3, 4), u(3, 4) * 3]),
    ("PoissonNLLLoss", {"log_input": False, "full": True}, [u(3, 4), u(3, 4) * 3]),
    ("GaussianNLLLoss", {}, [f(3, 4), f(3, 4), u(3, 4)]),
    ("GaussianNLLLoss", {"full": True, "reduction": "none"}, [f(3, 4), f(3, 4), u(3)]),
    ("GaussianNLLLoss", {"reduction": "sum"}, [f(3, 4, 2), f(3, 4, 2), u(3, 1, 2)]),
    ("GaussianNLLLoss", {"eps": 0.5}, [f(3, 4), f(1, 4), u(3, 4)]),
    ("MarginRankingLoss", {"margin": 0.2}, [f(5), f(5), pm(5)]),
    ("MultiLabelSoftMarginLoss", {}, [f(3, 4), RNG.integers(0, 2, (3, 4)).astype(np.float32)]),
    ("MultiLabelSoftMarginLoss", {"reduction": "none"}, [f(3, 4), RNG.integers(0, 2, (1, 4)).astype(np.float32)]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [f(5, 3), f(5, 3), pm(5)]),
    ("CosineEmbeddingLoss", {"reduction": "none"}, [f(3), f(3), np.float32(-1.0)]),
    ("TripletMarginLoss", {}, [f(5, 3), f(5, 3), f(5, 3)]),
    ("TripletMarginLoss", {"swap": True, "p": 1.0, "reduction": "none"}, [f(5, 3), f(5, 3), f(5, 3)]),
    ("TripletMarginWithDistanceLoss", {}, [f(5, 3), f(5, 3), f(5, 3)]),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True, "reduction": "none"}, [f(5, 3), f(5, 3), f(5, 3)]),
    ("NLLLoss", {}, [f(4, 5), ids(5, 4)]),
    ("NLLLoss", {"ignore_index": 1, "reduction": "none"}, [f(4, 5, 3), ids(5, 4, 3)]),
    ("NLLLoss", {"ignore_index": 1}, [f(4, 5, 3), ids(5, 4, 3)]),
    ("NLLLoss", {}, [f(5), np.array(2)]),
    ("NLLLoss2d", {}, [f(2, 5, 3, 3), ids(5, 2, 3, 3)]),
    ("CrossEntropyLoss", {}, [f(4, 5), ids(5, 4)]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 2}, [f(4, 5, 3), ids(5, 4, 3)]),
    ("CrossEntropyLoss", {"label_smoothing": 0.2, "reduction": "sum"}, [f(4, 5), u(4, 5)]),  # probabilities
    ("CrossEntropyLoss", {"reduction": "none"}, [f(5), np.array(3)]),
    ("MultiMarginLoss", {}, [f(4, 5), ids(5, 4)]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "reduction": "none"}, [f(5), np.array(1)]),
    ("MultiLabelMarginLoss", {}, [f(3, 4), np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 1, 1]])]),
    ("MultiLabelMarginLoss", {"reduction": "none"}, [f(4), np.array([2, -1, 0, 0])]),
]


def _model(layer, arrays):
    xs = [ss.Input(np.shape(a), name=f"x{i}", dtype="int64" if np.asarray(a).dtype.kind == "i" else "float32")
          for i, a in enumerate(arrays)]
    return ss.Model(xs, layer(*xs))


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("op, kwargs, arrays", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_torch(op, kwargs, arrays):
    arrays = [np.asarray(a) for a in arrays]
    graph, _ = check_model(_model(getattr(ss, op)(**kwargs), arrays), getattr(torch.nn, op)(**kwargs), *arrays)
    assert graph.output_shapes == [() if kwargs.get("reduction", "mean") != "none" and "reduce" not in kwargs
                                   else graph.output_shapes[0]]


def test_loss_symbolic_shapes():
    N, C, H = ss.sym("N"), ss.sym("C"), ss.sym("H")

    def shapes(layer, *inputs, dtypes=()):
        xs = [ss.Input(s, name=f"x{i}", dtype=dtypes[i] if dtypes else "float32") for i, s in enumerate(inputs)]
        return ss.Model(xs, layer(*xs)).infer().output_shapes

    assert shapes(ss.MSELoss(), "N, C", "N, C") == [()]
    assert shapes(ss.MSELoss(reduction="none"), "N, C", "1, C") == [(N, C)]
    assert shapes(ss.CrossEntropyLoss(reduction="none"), "N, C, H", "N, H", dtypes=("float32", "int64")) == [(N, H)]
    assert shapes(ss.CrossEntropyLoss(reduction="none"), "N, C", "N, C") == [(N,)]
    assert shapes(ss.CosineEmbeddingLoss(reduction="none"), "N, C", "N, C", "N") == [(N,)]
    assert shapes(ss.GaussianNLLLoss(reduction="none"), "N, C", "N, C", "N") == [(N, C)]


@pytest.mark.parametrize("layer, inputs, message", [
    (ss.BCELoss(), [(3, 4), (1, 4)], r"dim 0 of the target is 3, as on the input but .* has 1\. BCELoss does not "
                                     r"broadcast"),
    (ss.MSELoss(), [(3, 4), (3, 5)], r"dim -1 is 4 on input 0 .* has 5"),
    (ss.CrossEntropyLoss(), [(4, 5), (4, 2, 2)], r"the target's rank is 1 \(class indices: the input's shape "
                                                  r"without C\) but .* has rank 3"),
    (ss.CrossEntropyLoss(), [(4, 5, 3), (4, 2)], r"dim 1 of the target is 3, as on the input but .* has 2"),
    (ss.GaussianNLLLoss(), [(3, 4), (3, 4), (3, 1, 1)], r"var's rank is 2 or 1 .* has rank 3"),
    (ss.GaussianNLLLoss(), [(3, 4, 2), (3, 4, 2), (1, 1, 2)], r"var's shape is the input's \(3, 4, 2\), with at "
                                                               r"most one dim 1"),
    (ss.TripletMarginLoss(), [(5, 3), (5, 3), (5, 4)], r"dim -1 is 3 on input 0 .* input 2 \(5, 4\) .* has 4"),
    (ss.MultiMarginLoss(), [(2, 3, 4), (2, 4)], r"input rank is 1 or 2 \(\(N, C\) or \(C,\)\)"),
])
def test_loss_misuse_messages(layer, inputs, message):
    xs = [ss.Input(s, name=f"x{i}") for i, s in enumerate(inputs)]
    with pytest.raises(ss.ShapeMismatchError, match=message):
        ss.Model(xs, layer(*xs)).infer()


@pytest.mark.parametrize("make, message", [
    (lambda: ss.MSELoss(reduction="avg"), r"MSELoss: reduction must be 'none', 'mean', 'sum', got 'avg'"),
    (lambda: ss.KLDivLoss(reduction="avg"), r"'batchmean'"),
    (lambda: ss.CrossEntropyLoss(weight=[1.0, 2.0]), r"CrossEntropyLoss: a weight tensor is not supported"),
    (lambda: ss.BCEWithLogitsLoss(pos_weight=[2.0]), r"a pos_weight tensor is not supported"),
    (lambda: ss.HuberLoss(delta=0), r"HuberLoss: delta must be above 0"),
    (lambda: ss.TripletMarginLoss(margin=0), r"TripletMarginLoss: margin must be above 0"),
    (lambda: ss.TripletMarginWithDistanceLoss(distance_function=abs), r"a Python callable is code"),
    (lambda: ss.CrossEntropyLoss(label_smoothing=1.5), r"label_smoothing must be at most 1"),
    (lambda: ss.MultiMarginLoss(p=3), r"MultiMarginLoss: p must be 1 or 2"),
])
def test_loss_bad_arguments(make, message):
    with pytest.raises(ss.SpecError, match=message):
        make()


def test_loss_data_errors():
    logits, target = ss.Input((2, 5), name="logits"), ss.Input((2,), name="target", dtype="int64")
    graph = ss.Model([logits, target], ss.CrossEntropyLoss()(logits, target)).infer()
    with pytest.raises(ss.ShapeError, match=r"CrossEntropyLoss: target 7 is out of range for 5 classes"):
        graph.forward({}, f(2, 5), np.array([1, 7]))
    with pytest.raises(ss.ShapeError, match=r"BCELoss: every input element must lie in \[0, 1\], got 2"):
        ss.BCELoss()(np.array([0.5, 2.0], np.float32), np.array([0.0, 1.0], np.float32))
    with pytest.raises(ss.ShapeError, match=r"GaussianNLLLoss: var has negative entries"):
        ss.GaussianNLLLoss()(f(2), f(2), np.array([1.0, -1.0], np.float32))


def _log_softmax(*shape):
    return torch.log_softmax(torch.from_numpy(f(*shape)), -1).numpy()


CTC_CASES = [
    ({}, [_log_softmax(12, 3, 5), ids(4, 3, 4) + 1, np.array([12, 10, 7]), np.array([4, 3, 2])]),
    ({"reduction": "none"}, [_log_softmax(12, 3, 5), ids(4, 3, 4) + 1, np.array([12, 10, 7]), np.array([4, 0, 2])]),
    ({"reduction": "sum", "blank": 2}, [_log_softmax(12, 3, 5), np.array([1, 1, 3, 0, 4, 4, 1]), np.array([12, 9, 5]),
                                        np.array([3, 2, 2])]),
    ({"reduction": "none"}, [_log_softmax(12, 3, 5), np.ones((3, 8), np.int64), np.array([12, 4, 12]),
                             np.array([8, 8, 6])]),  # the second cannot be aligned: inf
    ({"reduction": "none", "zero_infinity": True}, [_log_softmax(12, 3, 5), np.ones((3, 8), np.int64),
                                                    np.array([12, 4, 12]), np.array([8, 8, 6])]),
    ({"reduction": "none"}, [_log_softmax(12, 5), ids(4, 4) + 1, np.array(10), np.array(4)]),
]


@pytest.mark.parametrize("kwargs, arrays", CTC_CASES)
def test_ctc_loss_matches_torch(kwargs, arrays):
    check_model(_model(ss.CTCLoss(**kwargs), arrays), torch.nn.CTCLoss(**kwargs), *arrays)


def test_ctc_loss_shapes_and_misuse():
    def model(layer, *shapes):
        xs = [ss.Input(s, name=n, dtype="float32" if n == "log_probs" else "int64")
              for n, s in zip(("log_probs", "targets", "input_lengths", "target_lengths"), shapes)]
        return ss.Model(xs, layer(*xs))

    N = ss.sym("N")
    assert model(ss.CTCLoss(reduction="none"), "T, N, C", "N, S", "N", "N").infer().output_shapes == [(N,)]
    assert model(ss.CTCLoss(), "T, N, C", "L", "N", "N").infer().output_shapes == [()]
    with pytest.raises(ss.ShapeMismatchError, match=r"the length of input 3 is 3 \(N\) but .* has 2"):
        model(ss.CTCLoss(), (12, 3, 5), (3, 4), (3,), (2,)).infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"blank is 5, a class index but .* has 5 classes"):
        model(ss.CTCLoss(blank=5), (12, 3, 5), (3, 4), (3,), (3,)).infer()
    graph = model(ss.CTCLoss(), (12, 3, 5), (8,), (3,), (3,)).infer()
    with pytest.raises(ss.ShapeError, match=r"concatenated targets must hold sum\(target_lengths\) = 7 labels, got 8"):
        graph.forward({}, _log_softmax(12, 3, 5), np.ones(8, np.int64), np.array([12, 12, 12]), np.array([3, 2, 2]))


@pytest.mark.parametrize("args, kwargs, n, d", [
    ((16, 20, [5, 12]), {}, 7, 16),
    ((16, 20, [5]), {"head_bias": True, "div_value": 2.5}, 6, 16),
    ((None, 30, [4, 10, 20]), {"div_value": 2.0}, 9, 24),
])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_log_softmax_matches_torch(args, kwargs, n, d, batched):
    x, t = f(n, d), RNG.integers(0, args[1], (n,))
    x, t = (x, t) if batched else (x[0], np.asarray(t[0]))
    a, b = ss.Input(x.shape, name="x"), ss.Input(t.shape, name="t", dtype="int64")
    outs = ss.AdaptiveLogSoftmaxWithLoss(*args, **kwargs)(a, b, name="asm")
    module = Named("asm", torch.nn.AdaptiveLogSoftmaxWithLoss(d, *args[1:], **kwargs))
    graph, _ = check_model(ss.Model([a, b], list(outs)), module, x, t)
    assert graph.output_shapes == [(n,) if batched else (), ()]


def test_adaptive_log_softmax_shapes_and_misuse():
    a, b = ss.Input("N, D", name="x"), ss.Input("N", name="t", dtype="int64")
    g = ss.Model([a, b], list(ss.AdaptiveLogSoftmaxWithLoss(None, 100, [10, 50])(a, b, name="asm"))).infer()
    D = ss.sym("D")
    assert g.param_shapes == {"asm.head.weight": (12, D), "asm.tail.0.0.weight": (D // 4, D),
                              "asm.tail.0.1.weight": (40, D // 4), "asm.tail.1.0.weight": (D // 16, D),
                              "asm.tail.1.1.weight": (50, D // 16)}
    assert sorted(map(str, g.constraints)) == ["D >= 16"]
    with pytest.raises(ss.SpecError, match=r"cutoffs must be unique positive ints in increasing order"):
        ss.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3])
    a, b = ss.Input((4, 8), name="x"), ss.Input((5,), name="t", dtype="int64")
    with pytest.raises(ss.ShapeMismatchError, match=r"the target's batch size is 4, as on the input but .* has 5"):
        ss.Model([a, b], list(ss.AdaptiveLogSoftmaxWithLoss(8, 10, [5])(a, b))).infer()


@pytest.mark.parametrize("args, kwargs, x_shape, t_shape", [
    ((4, 5), {}, (6, 4), (6,)),
    ((4, 5), {"reduction": "none", "bias": True}, (6, 4), (6,)),
    ((None, 5), {"out_features": (3,), "bias": True, "label_smoothing": 0.1}, (6, 4), (6, 3)),
    ((4, 5), {"ignore_index": 2, "reduction": "sum"}, (6, 4), (6,)),
    ((4, 5), {}, (4,), ()),
])
def test_linear_cross_entropy_matches_torch(args, kwargs, x_shape, t_shape):
    x, t = f(*x_shape), np.asarray(RNG.integers(0, 5, t_shape))
    a, b = ss.Input(x.shape, name="x"), ss.Input(t.shape, name="t", dtype="int64")
    model = ss.Model([a, b], ss.LinearCrossEntropyLoss(*args, **kwargs)(a, b, name="lce"))
    check_model(model, Named("lce", torch.nn.LinearCrossEntropyLoss(4, *args[1:], **kwargs)), x, t)


def test_linear_cross_entropy_misuse():
    a, b = ss.Input((6, 4), name="x"), ss.Input((6,), name="t", dtype="int64")
    with pytest.raises(ss.ShapeMismatchError, match=r"input rank is 2 \(\(N, \*out_features\), class indices\) but "
                                                     r".* has rank 1"):
        ss.Model([a, b], ss.LinearCrossEntropyLoss(4, 5, out_features=(3,))(a, b)).infer()
    with pytest.raises(ss.SpecError, match=r"LinearCrossEntropyLoss: a weight tensor and options"):
        ss.LinearCrossEntropyLoss(4, 5, weight=[1.0] * 5)
