import numpy as np
import pytest
import torch
from harness import check_layer, check_model

import symshape as ss


@pytest.mark.parametrize("op, args, kwargs, shape", [
    ("BatchNorm2d", (3,), {}, (2, 3, 5, 4)),
    ("BatchNorm2d", (4,), {"affine": False, "eps": 1e-3}, (2, 4, 3, 3)),
    ("BatchNorm2d", (4,), {"track_running_stats": False}, (3, 4, 3, 3)),
    ("BatchNorm1d", (5,), {}, (4, 5)),
    ("BatchNorm1d", (5,), {"momentum": None}, (4, 5, 7)),
    ("LazyBatchNorm2d", (), {}, (2, 6, 3, 3)),
    ("LazyBatchNorm1d", (), {"affine": False}, (2, 6, 3)),
    ("BatchNorm2d", (3,), {"bias": False}, (2, 3, 2, 2)),
    ("BatchNorm3d", (3,), {}, (2, 3, 2, 3, 4)),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 3, 4)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 7)),
    ("InstanceNorm1d", (3,), {"affine": True}, (3, 7)),
    ("InstanceNorm2d", (4,), {"affine": True, "track_running_stats": True}, (2, 4, 5, 5)),
    ("InstanceNorm2d", (4,), {"eps": 1e-3}, (2, 4, 5, 6)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 7)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 5)),
    ("LayerNorm", (8,), {}, (2, 5, 8)),
    ("LayerNorm", ([5, 8],), {"eps": 1e-3}, (2, 5, 8)),
    ("LayerNorm", (8,), {"elementwise_affine": False}, (3, 8)),
    ("LayerNorm", (8,), {"bias": False}, (3, 8)),
    ("GroupNorm", (2, 6), {}, (2, 6, 5)),
    ("GroupNorm", (3, 6), {"affine": False}, (2, 6, 4, 4)),
    ("GroupNorm", (1, 4), {"bias": False}, (2, 4, 3, 3)),
    ("LocalResponseNorm", (3,), {}, (2, 6, 4, 4)),
    ("LocalResponseNorm", (4,), {"alpha": 0.01, "beta": 0.5, "k": 2.0}, (2, 6, 5)),
])
def test_batchnorm_matches_torch(op, args, kwargs, shape):
    check_layer(getattr(ss, op)(*args, **kwargs), getattr(torch.nn, op)(*args, **kwargs), shape)


def test_batchnorm_eval_uses_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    model, module = ss.Sequential(ss.BatchNorm2d(3)), torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    graph, params = check_model(model, module, x)
    params["0.running_mean"] = rng.standard_normal(3).astype(np.float32)
    params["0.running_var"] = rng.uniform(0.5, 2, 3).astype(np.float32)
    params["0.weight"] = rng.standard_normal(3).astype(np.float32)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    module.eval()
    np.testing.assert_allclose(graph.forward(params, x), module(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    assert params["0.num_batches_tracked"].dtype == np.int64 and params["0.num_batches_tracked"].shape == ()


def test_batchnorm_channel_mismatch_suggests_lazy():
    with pytest.raises(ss.ShapeMismatchError, match=r"num_features is 3 but .* has 8\. Use num_features=8 or "
                                                     r"LazyBatchNorm2d\(\)"):
        ss.Sequential(ss.BatchNorm2d(3)).infer((1, 8, 2, 2))


def test_layernorm_lazy_and_symbolic():
    g = ss.Sequential(ss.LayerNorm(None)).infer("B, T, D")
    assert g.param_shapes == {"0.weight": (ss.sym("D"),), "0.bias": (ss.sym("D"),)}
    with pytest.raises(ss.ShapeMismatchError, match=r"normalized_shape\[0\] is 8 but its input \(2, 5, 6\) from input x has 6 on dim 2"):
        ss.Sequential(ss.LayerNorm(8)).infer((2, 5, 6))


def test_groupnorm_groups_must_divide_channels():
    with pytest.raises(ss.ShapeMismatchError, match=r"num_channels is 6, not a multiple of 4"):
        ss.Sequential(ss.GroupNorm(4, None)).infer((2, 6, 3))
