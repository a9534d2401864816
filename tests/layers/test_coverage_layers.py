"""The torch.nn modules added for coverage (issue #12): parity with torch, symbolic shapes, misuse messages."""

import numpy as np
import pytest
import torch
from harness import Named, check_layer, check_model, check_shape

import symshape as ss

PAD = []
for _family in ("ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"):
    for _n in (1, 2, 3):
        _value = (0.5,) if _family == "ConstantPad" else ()
        _shape = (2, 3) + (4, 5, 3)[:_n]
        for _padding in (2, (1, 2, 0, 1, 2, 0)[:2 * _n], (-1, 2, 1, -1, 0, 1)[:2 * _n]):
            PAD += [(f"{_family}{_n}d", (_padding, *_value), {}, [_shape]),
                    (f"{_family}{_n}d", (_padding, *_value), {}, [_shape[1:]])]

CASES = PAD + [
    ("ConstantPad1d", ((1, 0), -2.0), {}, [(2, 3, 4, 5)]),  # constant padding takes any rank
    ("ZeroPad2d", ((1, 0, 2, 1),), {}, [(4, 5)]),
    # activations and eval-mode dropouts
    ("GLU", (), {}, [(2, 3, 6)]),
    ("GLU", (1,), {}, [(2, 4, 3)]),
    ("Hardtanh", (), {}, [(2, 5)]),
    ("Hardtanh", (-0.5, 2.0), {}, [(2, 5)]),
    ("Hardtanh", (), {"min_value": -0.2}, [(3, 4)]),
    ("Softsign", (), {}, [(3, 4)]),
    ("Softmin", (1,), {}, [(3, 4)]),
    ("Softmin", (0,), {}, [(3, 4, 2)]),
    ("Softmax2d", (), {}, [(2, 3, 4, 4)]),
    ("Softmax2d", (), {}, [(3, 4, 4)]),
    ("LogSigmoid", (), {}, [(3, 40)]),
    ("Tanhshrink", (), {}, [(3, 4)]),
    ("Softshrink", (), {}, [(3, 4)]),
    ("Softshrink", (1.0,), {}, [(3, 4)]),
    ("Hardshrink", (), {}, [(3, 4)]),
    ("Threshold", (0.1, 20.0), {}, [(3, 4)]),
    ("CELU", (), {}, [(3, 4)]),
    ("CELU", (0.5,), {}, [(3, 4)]),
    ("RReLU", (), {}, [(3, 4)]),
    ("RReLU", (0.1, 0.5), {}, [(3, 4)]),
    ("AlphaDropout", (0.2,), {}, [(3, 4)]),
    ("FeatureAlphaDropout", (), {}, [(2, 3, 4)]),
    ("Dropout3d", (), {}, [(2, 3, 4, 2, 2)]),
    # pixel and channel shuffles, sliding blocks
    ("PixelShuffle", (2,), {}, [(2, 8, 3, 4)]),
    ("PixelShuffle", (3,), {}, [(9, 2, 3)]),
    ("PixelShuffle", (2,), {}, [(2, 2, 8, 3, 4)]),
    ("PixelUnshuffle", (2,), {}, [(2, 3, 4, 6)]),
    ("PixelUnshuffle", (3,), {}, [(2, 6, 9)]),
    ("ChannelShuffle", (2,), {}, [(2, 6, 3, 4)]),
    ("ChannelShuffle", (3,), {}, [(2, 6, 5)]),
    ("Unfold", (3,), {}, [(2, 3, 6, 7)]),
    ("Unfold", ((2, 3),), {"dilation": (1, 2), "padding": 1, "stride": (2, 1)}, [(3, 6, 7)]),
    ("Fold", ((6, 7), 3), {}, [(2, 27, 20)]),
    ("Fold", ((6, 7), (2, 3)), {"dilation": (1, 2), "padding": 1, "stride": (2, 1)}, [(12, 20)]),
    # distances
    ("CosineSimilarity", (), {}, [(3, 5), (3, 5)]),
    ("CosineSimilarity", (-1,), {}, [(2, 3, 5), (3, 5)]),
    ("CosineSimilarity", (0,), {}, [(4,), (4,)]),
    ("PairwiseDistance", (), {}, [(3, 5), (3, 5)]),
    ("PairwiseDistance", (1.0,), {"keepdim": True}, [(3, 5), (1, 5)]),
    ("PairwiseDistance", (3,), {}, [(5,), (5,)]),
    ("PairwiseDistance", (float("inf"),), {}, [(2, 5), (2, 5)]),
    ("PairwiseDistance", (0,), {}, [(2, 5), (2, 5)]),
    # normalization
    ("RMSNorm", (8,), {}, [(2, 5, 8)]),
    ("RMSNorm", ([5, 8],), {"eps": 1e-3}, [(2, 5, 8)]),
    ("RMSNorm", (8,), {"elementwise_affine": False}, [(3, 8)]),
    ("InstanceNorm3d", (3,), {}, [(2, 3, 4, 3, 2)]),
    ("InstanceNorm3d", (3,), {"affine": True}, [(3, 4, 3, 2)]),
    ("LazyInstanceNorm3d", (), {}, [(2, 3, 4, 3, 2)]),
    ("SyncBatchNorm", (3,), {}, [(2, 3, 4)]),
    ("SyncBatchNorm", (3,), {"affine": False}, [(2, 3)]),
    ("SyncBatchNorm", (3,), {"bias": False}, [(2, 3, 2, 2, 2)]),
    ("CrossMapLRN2d", (5,), {}, [(2, 9, 3, 3)]),
    ("CrossMapLRN2d", (3,), {"alpha": 0.1, "beta": 0.5, "k": 2}, [(2, 4, 3, 3)]),
    ("CrossMapLRN2d", (4,), {"alpha": 0.1}, [(2, 9, 3, 3)]),
    ("CrossMapLRN2d", (7,), {"alpha": 0.5}, [(2, 3, 2, 2)]),
]


@pytest.mark.filterwarnings("ignore:Implicit dimension choice", "ignore:keyword argument")
@pytest.mark.parametrize("op, args, kwargs, shapes", CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_matches_torch(op, args, kwargs, shapes):
    check_layer(getattr(ss, op)(*args, **kwargs), getattr(torch.nn, op)(*args, **kwargs), *shapes)


@pytest.mark.parametrize("op, padding, shape", [
    ("ReflectionPad1d", 3, (1, 2, 3)), ("ReflectionPad1d", 3, (1, 2, 4)),
    ("ReflectionPad2d", (0, 0, 4, 0), (1, 4, 5)), ("CircularPad1d", 4, (1, 2, 4)), ("CircularPad1d", 5, (1, 2, 4)),
    ("CircularPad1d", (-1, 3), (1, 2, 4)), ("ConstantPad1d", (-2, -1), (1, 2, 4)), ("ReplicationPad2d", 9, (2, 3, 2)),
    ("ReplicationPad1d", 1, (2, 3, 4, 5)),
])
def test_padding_accepts_what_torch_runs(op, padding, shape):
    args = (padding, 0.0) if op.startswith("Constant") else (padding,)
    check_shape(getattr(ss, op)(*args), getattr(torch.nn, op)(*args), shape)


SWEEP = [
    (lambda: (ss.ReflectionPad2d((2, 1, 0, 3)), torch.nn.ReflectionPad2d((2, 1, 0, 3))), 2),
    (lambda: (ss.CircularPad1d(3), torch.nn.CircularPad1d(3)), 1),
    (lambda: (ss.ConstantPad2d(-1, 0.0), torch.nn.ConstantPad2d(-1, 0.0)), 2),
    (lambda: (ss.PixelShuffle(2), torch.nn.PixelShuffle(2)), 2),
    (lambda: (ss.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2)), 2),
    (lambda: (ss.ChannelShuffle(3), torch.nn.ChannelShuffle(3)), 1),
    (lambda: (ss.GLU(1), torch.nn.GLU(1)), 1),
    (lambda: (ss.Unfold(3, stride=2), torch.nn.Unfold(3, stride=2)), 2),
    (lambda: (ss.LPPool2d(2, 3, stride=2, ceil_mode=True), torch.nn.LPPool2d(2, 3, stride=2, ceil_mode=True)), 2),
    (lambda: (ss.UpsamplingNearest2d(scale_factor=1.5), torch.nn.UpsamplingNearest2d(scale_factor=1.5)), 2),
    (lambda: (ss.RMSNorm(4), torch.nn.RMSNorm(4)), 1),
    (lambda: (ss.Softmax2d(), torch.nn.Softmax2d()), 1),
]


@pytest.mark.parametrize("make, spatial", SWEEP)
def test_accepts_exactly_what_torch_runs(make, spatial):
    """Over small sizes and ranks 2 to 4: symshape accepts a shape iff torch runs on it (and gives no empty
    tensor), with torch's output shape."""
    layer, module = make()
    for rank in (2, 3, 4):
        for sizes in ([1, 2, 3, 4, 5, 6] if spatial == 1 else [1, 2, 3, 4, 6]):
            for last in (1, 2, 3, 4, 6):
                shape = (2,) * (rank - spatial) + (sizes,) * (spatial - 1) + (last,)
                if _torch_gives_empty(module, shape):  # symshape's sizes are at least 1
                    with pytest.raises(ss.ShapeMismatchError, match="must be at least 1"):
                        ss.Sequential(layer).infer(shape)
                    continue
                check_shape(layer, module, shape)


def _torch_gives_empty(module, shape):
    try:
        with torch.no_grad():
            return 0 in module(torch.zeros(shape)).shape
    except (RuntimeError, ValueError, IndexError):
        return False


def test_symbolic_shapes():
    B, C, H, W, L = (ss.sym(n) for n in "BCHWL")
    cases = [
        (ss.ZeroPad2d((1, 2, 3, 4)), "B, C, H, W", [(B, C, H + 7, W + 3)], []),
        (ss.ReflectionPad1d(2), "B, C, L", [(B, C, L + 4)], ["L >= 3"]),
        (ss.CircularPad1d((-1, 2)), "B, C, L", [(B, C, L + 1)], ["L >= 3"]),
        (ss.PixelShuffle(2), "B, 4*C, H, W", [(B, C, 2 * H, 2 * W)], []),
        (ss.PixelUnshuffle(2), "B, C, 2*H, 2*W", [(B, 4 * C, H, W)], []),
        (ss.GLU(), "B, 2*C", [(B, C)], []),
        (ss.Unfold(3, padding=1), "B, C, H, W", [(B, 9 * C, H * W)], []),
        (ss.RMSNorm(None), "B, L, C", [(B, L, C)], []),
    ]
    for layer, shape, outputs, constraints in cases:
        g = ss.Sequential(layer).infer(shape)
        assert g.output_shapes == outputs, layer
        assert sorted(map(str, g.constraints)) == constraints, layer
    assert ss.Sequential(ss.RMSNorm(None)).infer("B, L, C").param_shapes == {"0.weight": (C,)}
    g = ss.Sequential(ss.ChannelShuffle(3)).infer("B, C, H, W")
    assert len(g.constraints) == 1 and g.bind(C=6).output_shapes == [(B, 6, H, W)]
    with pytest.raises(ss.ShapeMismatchError, match="not a multiple of 3"):
        g.bind(C=4)
    g = ss.Model([x := ss.Input("B, D", name="x"), y := ss.Input("B, D", name="y")], ss.CosineSimilarity()(x, y))
    assert g.infer().output_shapes == [(B,)]


@pytest.mark.parametrize("layer, shape, message", [
    (ss.ReflectionPad2d(3), (1, 2, 3, 8), r"the input size on dim 2 is 3 \(must be at least 4\) but reflection "
                                          r"padding 3 needs an input size above it\. Use a smaller padding"),
    (ss.CircularPad1d(5), (1, 2, 4), r"circular padding 5 wraps around at most once"),
    # torch would return an empty tensor; symshape's sizes are at least 1
    (ss.ConstantPad1d(-2, 0.0), (1, 2, 4), r"the output size on dim 2 is 0 \(must be at least 1\)"),
    (ss.ZeroPad2d(1), (5,), r"input rank is at least 2 \(\(\*, H, W\)\) but .* has rank 1"),
    (ss.PixelShuffle(2), (1, 6, 3, 3), r"the channels \(dim -3\) is 6, not a multiple of 4 but .* must have a "
                                       r"multiple of upscale_factor\^2 = 4"),
    (ss.PixelUnshuffle(2), (1, 3, 4, 5), r"the size of dim -1 is 5, not a multiple of 2"),
    (ss.ChannelShuffle(4), (1, 6, 3), r"the channels \(dim 1\) is 6, not a multiple of 4 but groups is 4"),
    (ss.GLU(1), (2, 5), r"the size of dim 1 is 5, not a multiple of 2 but GLU splits"),
    (ss.Softmax2d(), (2, 3), r"input rank is 3 or 4 \(\(N, C, H, W\) or \(C, H, W\)\) but .* has rank 2"),
    (ss.Unfold(5), (1, 2, 4, 8), r"the number of blocks along spatial dim 0 is 0 \(must be at least 1\)"),
    (ss.Fold((6, 7), 3), (2, 27, 21), r"the number of blocks L \(dim -1\) is 20 \(4 x 5 for output_size \(6, 7\)\) "
                                      r"but .* has 21\. Use L = 20"),
    (ss.Fold(4, 2), (2, 10, 9), r"the channels \(dim -2\) is 10, not a multiple of 4"),
    (ss.RMSNorm(8), (2, 6), r"normalized_shape\[0\] is 8 but its input \(2, 6\)"),
    (ss.SyncBatchNorm(4), (2, 3, 5), r"num_features is 4 but .* has 3"),
    (ss.CrossMapLRN2d(3), (2, 3, 4), r"input rank is 4 \(\(N, C, H, W\)\) but .* has rank 3"),
])
def test_misuse_messages(layer, shape, message):
    with pytest.raises(ss.ShapeMismatchError, match=message):
        ss.Sequential(layer).infer(shape)


def test_distance_inputs_must_broadcast():
    x, y = ss.Input((3, 5), name="x"), ss.Input((3, 4), name="y")
    with pytest.raises(ss.ShapeMismatchError, match=r"dim -1 is 5 on input 0 .* has 4"):
        ss.Model([x, y], ss.PairwiseDistance()(x, y)).infer()


@pytest.mark.parametrize("make, message", [
    (lambda: ss.ZeroPad2d((1, 2, 3)), r"ZeroPad2d: padding must be an int or an even number of ints"),
    (lambda: ss.ConstantPad1d(1, "x"), r"ConstantPad1d: value must be a number"),
    (lambda: ss.Hardtanh(1.0, -1.0), r"Hardtanh: max_val must be greater than min_val"),
    (lambda: ss.Softshrink(-1), r"Softshrink: lambd must be at least 0"),
    (lambda: ss.CELU(0), r"CELU: alpha must not be 0"),
    (lambda: ss.RReLU(0.5, 0.1), r"RReLU: upper must be at least lower"),
    (lambda: ss.PixelShuffle(0), r"PixelShuffle: upscale_factor must be a positive int"),
    (lambda: ss.Fold(4, (2, 2, 2)), r"Fold: kernel_size must be an int or 2 ints"),
    (lambda: ss.PairwiseDistance(p=-1), r"PairwiseDistance: p must be a non-negative number"),
    (lambda: ss.RMSNorm(8, eps="x"), r"RMSNorm: eps must be a number"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ss.SpecError, match=message):
        make()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes, shapes", [((3, 4, 5), [(2, 3), (2, 4)]), ((3, 4, 5), [(3,), (4,)]),
                                           ((None, None, 5), [(6, 2, 3), (6, 2, 4)])])
def test_bilinear_matches_torch(sizes, shapes, bias):
    torch_sizes = (shapes[0][-1], shapes[1][-1], sizes[2])
    check_layer(ss.Bilinear(*sizes, bias=bias), Named("bilinear", torch.nn.Bilinear(*torch_sizes, bias=bias)), *shapes)


def test_bilinear_symbolic_and_misuse():
    x, y = ss.Input("B, D1", name="x"), ss.Input("B, D2", name="y")
    g = ss.Model([x, y], ss.Bilinear(None, None, 7)(x, y)).infer()
    D1, D2 = ss.sym("D1"), ss.sym("D2")
    assert g.param_shapes == {"bilinear.weight": (7, D1, D2), "bilinear.bias": (7,)}
    x, y = ss.Input((2, 3), name="x"), ss.Input((4, 5), name="y")
    with pytest.raises(ss.ShapeMismatchError, match=r"(?s)batch dim 0 of input 1 is 2, as on .* but .* has 4\. "
                                                     r"Bilinear does not broadcast.*in2_features is 4 but"):
        ss.Model([x, y], ss.Bilinear(3, 4, 7)(x, y)).infer()


@pytest.mark.parametrize("op, args, kwargs, shape", [
    ("LPPool1d", (2, 3), {}, (2, 3, 10)),
    ("LPPool1d", (1, 3), {"stride": 2, "ceil_mode": True}, (2, 3, 10)),
    ("LPPool2d", (2, 3), {"stride": 2}, (2, 3, 7, 8)),
    ("LPPool2d", (3, (2, 3)), {"ceil_mode": True}, (2, 3, 7, 8)),
    ("LPPool2d", (1.5, 2), {}, (3, 6, 6)),
    ("LPPool3d", (2, 2), {}, (1, 2, 4, 5, 4)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "return_indices": True}, (2, 3, 9, 10)),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "dilation": (2, 1), "return_indices": True}, (1, 2, 11, 7)),
    ("MaxPool2d", (2,), {"return_indices": True}, (3, 8, 8)),
    ("MaxPool1d", (3,), {"stride": 2, "ceil_mode": True, "return_indices": True}, (2, 3, 10)),
    ("MaxPool3d", (2,), {"return_indices": True, "padding": 1}, (1, 2, 4, 5, 6)),
    ("AdaptiveMaxPool2d", ((3, 5),), {"return_indices": True}, (2, 3, 7, 11)),
    ("AdaptiveMaxPool2d", ((None, 2),), {"return_indices": True}, (2, 3, 7, 11)),
    ("AdaptiveMaxPool2d", (3,), {"return_indices": True}, (3, 7, 8)),
    ("AdaptiveMaxPool1d", (4,), {"return_indices": True}, (2, 3, 10)),
    ("AdaptiveMaxPool3d", (2,), {"return_indices": True}, (1, 2, 5, 4, 3)),
    ("UpsamplingNearest2d", (), {"scale_factor": 2}, (2, 3, 4, 5)),
    ("UpsamplingNearest2d", ((5, 7),), {}, (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (), {"scale_factor": 1.5}, (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2}, (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", ((7, 3),), {}, (2, 3, 4, 5)),
])
def test_pooling_and_upsampling_match_torch(op, args, kwargs, shape):
    check_layer(getattr(ss, op)(*args, **kwargs), getattr(torch.nn, op)(*args, **kwargs), shape)


class PoolUnpool(torch.nn.Module):
    def __init__(self, n: int, kernel_size: int, **kwargs):
        super().__init__()
        self.pool = getattr(torch.nn, f"MaxPool{n}d")(kernel_size, return_indices=True, **kwargs)
        self.unpool = getattr(torch.nn, f"MaxUnpool{n}d")(kernel_size, **kwargs)

    def forward(self, x):
        return self.unpool(*self.pool(x))


@pytest.mark.parametrize("n, kernel_size, kwargs, shape", [
    (2, 2, {}, (2, 3, 8, 8)), (2, 3, {"stride": 2, "padding": 1}, (2, 3, 9, 9)), (1, 2, {}, (2, 3, 8)),
    (3, 2, {}, (1, 2, 4, 4, 4)), (2, 2, {}, (3, 6, 6)),
])
def test_max_unpool_inverts_max_pool_as_torch(n, kernel_size, kwargs, shape):
    x = ss.Input(shape, name="x")
    values, indices = getattr(ss, f"MaxPool{n}d")(kernel_size, return_indices=True, **kwargs)(x, name="pool")
    y = getattr(ss, f"MaxUnpool{n}d")(kernel_size, **kwargs)(values, indices, name="unpool")
    array = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    graph, _ = check_model(ss.Model([x], y), PoolUnpool(n, kernel_size, **kwargs), array)
    assert graph.graph.nodes["pool"]["output_dtypes"] == ["float32", "int64"]


def test_unpool_in_a_spec_takes_the_pool_indices(tmp_path):
    spec = tmp_path / "unpool.yaml"
    spec.write_text("inputs:\n  x: [B, 3, H, W]\nlayers:\n"
                    "  - {name: pool, op: MaxPool2d, kernel_size: 2, return_indices: true}\n"
                    "  - {name: unpool, op: MaxUnpool2d, kernel_size: 2, in: [pool, 'pool:1']}\n")
    g = ss.load_spec(spec).infer()
    B, H, W = ss.sym("B"), ss.sym("H"), ss.sym("W")
    assert g.output_shapes == [(B, 3, 2 * (H // 2), 2 * (W // 2))]
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4)).astype(np.float32)
    y = g.bind(B=1, H=4, W=4).forward({}, x)
    expected = torch.nn.MaxUnpool2d(2)(*torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x)))
    np.testing.assert_array_equal(y, expected.numpy())


def test_pool_unpool_symbolic_and_misuse():
    g = ss.Sequential(ss.LPPool2d(2, 3, stride=2)).infer("B, C, H, W")
    B, C, H, W = (ss.sym(n) for n in "BCHW")
    assert g.output_shapes == [(B, C, ss.parse_dim("(H - 3) // 2 + 1"), ss.parse_dim("(W - 3) // 2 + 1"))]
    x = ss.Input("B, C, H, W", name="x")
    values, indices = ss.MaxPool2d(2, return_indices=True)(x, name="pool")
    g = ss.Model([x], ss.MaxUnpool2d(2)(values, indices)).infer()
    assert g.output_shapes == [(B, C, 2 * (H // 2), 2 * (W // 2))]
    x, i = ss.Input((1, 2, 4, 4), name="x"), ss.Input((1, 2, 4, 3), name="i", dtype="int64")
    with pytest.raises(ss.ShapeMismatchError, match=r"dim 3 of the indices is 4, as on the values but its input 1 "
                                                     r"\(1, 2, 4, 3\) from input i has 3\. Pass the indices"):
        ss.Model([x, i], ss.MaxUnpool2d(2)(x, i)).infer()
    x, i = ss.Input((1, 1, 2), name="x"), ss.Input((1, 1, 2), name="i", dtype="int64")
    graph = ss.Model([x, i], ss.MaxUnpool1d(2)(x, i)).infer()
    with pytest.raises(ss.ShapeError, match=r"MaxUnpool1d: index 9 is out of range for an output plane of 4"):
        graph.forward({}, np.ones((1, 1, 2), np.float32), np.array([[[0, 9]]]))
    with pytest.raises(ss.SpecError, match=r"LPPool2d: norm_type must be a positive number"):
        ss.LPPool2d(0, 2)


def test_embedding_bag_matches_torch():
    rng = np.random.default_rng(0)
    for kwargs in [{}, {"mode": "sum"}, {"mode": "max"}, {"padding_idx": 2}, {"mode": "max", "padding_idx": 2},
                   {"max_norm": 1.0}]:
        x = rng.integers(0, 5, (4, 3))
        x[1] = 2  # with padding_idx=2: an empty bag
        bags = ss.Input(x.shape, name="x", dtype="int64")
        check_model(ss.Model([bags], ss.EmbeddingBag(5, 3, **kwargs)(bags, name="0")),
                    torch.nn.Sequential(torch.nn.EmbeddingBag(5, 3, **kwargs)), x)
        ids = rng.integers(0, 5, (7,))
        for last in (False, True):
            offsets = np.array([0, 2, 2, 5, 7] if last else [0, 2, 2, 5])
            a, b = ss.Input(ids.shape, name="x", dtype="int64"), ss.Input(offsets.shape, name="o", dtype="int64")
            model = ss.Model([a, b], ss.EmbeddingBag(5, 3, include_last_offset=last, **kwargs)(a, b))
            module = Named("embeddingbag", torch.nn.EmbeddingBag(5, 3, include_last_offset=last, **kwargs))
            check_model(model, module, ids, offsets)


def test_embedding_bag_shapes_and_misuse():
    assert ss.Sequential(ss.EmbeddingBag("V", 8)).infer("B, N").output_shapes == [(ss.sym("B"), 8)]
    ids, offsets = ss.Input("L", name="ids", dtype="int64"), ss.Input("B", name="offsets", dtype="int64")
    g = ss.Model([ids, offsets], ss.EmbeddingBag(10, 8, include_last_offset=True)(ids, offsets)).infer()
    assert g.output_shapes == [(ss.sym("B") - 1, 8)] and [str(c) for c in g.constraints] == ["B >= 2"]
    with pytest.raises(ss.ShapeMismatchError, match=r"input rank is 2 \(\(B, N\): B bags of N ids; 1-d ids take "
                                                     r"offsets\) but .* has rank 1"):
        ss.Sequential(ss.EmbeddingBag(10, 8)).infer("L")
    with pytest.raises(ss.ShapeError, match=r"offsets must start at 0"):
        ss.Model([ids, offsets], ss.EmbeddingBag(10, 8)(ids, offsets)).infer().bind(L=3, B=2).forward(
            {"embeddingbag.weight": np.ones((10, 8), np.float32)}, np.array([1, 2, 3]), np.array([1, 2]))
    with pytest.raises(ss.SpecError, match=r"EmbeddingBag: mode must be 'sum', 'mean' or 'max'"):
        ss.EmbeddingBag(10, 8, mode="min")
