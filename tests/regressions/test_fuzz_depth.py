"""Disagreements the deepened layer fuzzer (issue 17: inputs fitted to each layer, symbolic conditions at
random sizes) found, each compared with torch as the fuzzer does."""

import numpy as np
import pytest
import torch
from fuzz_layers import compare

import symshape as ss

CASES = [
    # torch's multilabel_soft_margin_loss sums the input's last dim (any rank >= 1) and divides by its size
    ("MultiLabelSoftMarginLoss", {"reduction": "none"}, [(3, 6, 5), (3, 6, 5)]),
    ("MultiLabelSoftMarginLoss", {"reduction": "mean"}, [(5, 1), (5, 4)]),
    # triplet losses: any rank, each pair broadcast (pairwise_distance)
    ("TripletMarginLoss", {"reduction": "none"}, [(5, 5, 1), (5, 5, 1), (5, 5, 1)]),
    ("TripletMarginLoss", {"reduction": "none", "swap": True}, [(6, 3, 6), (6, 1, 6), (6, 3, 1)]),
    ("TripletMarginWithDistanceLoss", {"reduction": "none"}, [(2, 1), (2, 6), (2, 1)]),
    # cosine embedding: x1 and x2 broadcast, and so do their cosines and the target
    ("CosineEmbeddingLoss", {"reduction": "none"}, [(1, 1), (3, 1), (3,)]),
    ("CosineEmbeddingLoss", {"reduction": "none"}, [(6,), (1,), ()]),
]


@pytest.mark.parametrize("op, kwargs, shapes", CASES)
def test_fuzz_case_agrees_with_torch(op, kwargs, shapes):
    assert compare(op, kwargs, shapes) is None


def test_loss_shape_follows_torch():
    a, p, n = torch.randn(6, 3, 6), torch.randn(6, 1, 6), torch.randn(6, 3, 1)
    expected = torch.nn.TripletMarginLoss(reduction="none", swap=True)(a, p, n).shape
    xs = [ss.Input(tuple(t.shape), name=f"x{i}") for i, t in enumerate((a, p, n))]
    out = ss.LAYERS["TripletMarginLoss"](reduction="none", swap=True)(*xs)
    assert tuple(ss.Model(inputs=xs, outputs=[out]).infer().output_shapes[0]) == tuple(expected)


def test_ctc_blank_is_a_class_index_at_symbolic_class_counts():
    xs = [ss.Input("T, N, C", name="lp"), ss.Input("N, S", name="t", dtype="int64"),
          ss.Input("N", name="il", dtype="int64"), ss.Input("N", name="tl", dtype="int64")]
    out = ss.LAYERS["CTCLoss"](blank=3)(*xs)
    graph = ss.Model(inputs=xs, outputs=[out]).infer()
    assert not graph.valid(C=3) and graph.valid(C=4)
    with pytest.raises(RuntimeError):  # torch: blank must be in label range
        torch.nn.CTCLoss(blank=3)(torch.randn(2, 1, 3).log_softmax(-1), torch.ones(1, 1, dtype=torch.long),
                                  torch.tensor([2]), torch.tensor([1]))
    assert np.isfinite(torch.nn.CTCLoss(blank=3)(torch.randn(2, 1, 4).log_softmax(-1), torch.ones(1, 1, dtype=torch.long),
                                                 torch.tensor([2]), torch.tensor([1])).item())


@pytest.mark.parametrize("shapes", [[(4, 1), (4, 5)], [(5,), (4, 5)], [(4, 5), (4, 1)], [(4, 5), (5,)]])
def test_soft_margin_target_broadcasts_to_the_input_only(shapes):
    assert compare("SoftMarginLoss", {"reduction": "none"}, shapes) is None


@pytest.mark.parametrize("op", ["InstanceNorm3d", "BatchNorm3d"])
def test_norm_without_parameters_or_buffers_ignores_a_zero_num_features(op):
    kwargs = {"num_features": 0, "eps": 1.0, "affine": False, "track_running_stats": False}
    assert compare(op, kwargs, (1, 1, 2, 5, 1)) is None
    assert compare(op, kwargs, (3, 2, 2, 5, 1)) is None


@pytest.mark.parametrize("channels", [0, -2, -3])
def test_group_norm_without_affine_ignores_a_zero_or_negative_num_channels(channels):
    kwargs = {"num_groups": 2, "num_channels": channels, "affine": False}
    assert compare("GroupNorm", kwargs, (4, 2, 2, 2, 2)) is None


def test_a_lazy_sublayer_is_not_compared_as_an_argument_verdict():
    """The 60,000-case run: TransformerEncoder's encoder_layer with d_model=None (symshape infers it, torch has
    no lazy d_model) was reported as torch refusing arguments that symshape accepts."""
    layer = ("TransformerEncoderLayer", {"d_model": None, "nhead": 1, "dim_feedforward": 16, "bias": False})
    assert compare("TransformerEncoder", {"encoder_layer": layer, "num_layers": 2}, [(1, 4, 4)]) is None


def test_a_hidden_width_of_zero_is_the_zero_size_exclusion():
    """dim_feedforward=0: torch computes with an empty hidden tensor, symshape's sizes are >= 1."""
    verdict = compare("TransformerEncoderLayer", {"d_model": 6, "nhead": 3, "dim_feedforward": 0}, (3, 6))
    assert verdict is not None and verdict[0] == "excluded:zero-size"


def test_ctc_targets_beyond_the_classes_are_refused_not_an_internal_error():
    """The layer fuzzer: a label >= C ended in an IndexError (torch reads past its classes)."""
    log_probs = np.log(np.full((3, 3, 2), 0.5, dtype=np.float32))
    targets, lengths = np.array([[1, 2, 1, 0, 0, 0]] * 3), np.array([3, 3, 3])
    with pytest.raises(ss.ShapeError, match=r"targets must be class indices in \[0, 2\) \(C = 2\), got values "
                                             r"from 1 to 2"):
        ss.LAYERS["CTCLoss"]().forward({}, log_probs, targets, lengths, np.array([2, 2, 2]))
