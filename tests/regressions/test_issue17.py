"""Regressions of issue 17 (an independent differential fuzzer): each case as torch 2.13 decides it."""

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import symshape as ss
from symshape import stream
from symshape.cli import main

sys.path.insert(0, str(Path(__file__).parents[1]))
from harness import check_layer, check_model, to_torch_state  # noqa: E402


def torch_runs(module: torch.nn.Module, *shapes: tuple[int, ...]) -> tuple | None:
    """The output shape torch gives, or None when it refuses."""
    try:
        with torch.no_grad():
            out = module(*[torch.randn(s) for s in shapes])
    except (RuntimeError, ValueError, IndexError):
        return None
    return tuple(out.shape)


def symshape_runs(layer: ss.Layer, shape: tuple[int, ...]) -> tuple | None:
    try:
        return tuple(ss.Sequential(layer).infer(shape).output_shapes[0])
    except ss.ShapeMismatchError:
        return None


# 1. float scale factors: floor(double(L) * s), symbolically and once bound
@pytest.mark.parametrize("length, scale", [(10, 0.7), (3, 1 / 3), (7, 1.3), (295, 201 / 59)])
def test_1_upsample_float_scale_rounds_like_torch(length, scale):
    expected = torch_runs(torch.nn.Upsample(scale_factor=scale), (1, 2, length))
    assert symshape_runs(ss.Upsample(scale_factor=scale), (1, 2, length)) == expected
    bound = ss.Sequential(ss.Upsample(scale_factor=scale)).infer("N, C, L").bind(N=1, C=2, L=length)
    assert tuple(bound.output_shapes[0]) == expected
    assert expected[-1] == math.floor(float(length) * scale)


# 2. an output size of 0 is refused, symbolically too
def test_2_upsample_output_size_zero_is_refused():
    assert torch_runs(torch.nn.Upsample(scale_factor=0.5), (1, 2, 1)) is None
    with pytest.raises(ss.ShapeMismatchError, match="the output size on dim 2 is 0 .must be at least 1"):
        ss.Sequential(ss.Upsample(scale_factor=0.5)).infer((1, 2, 1))
    g = ss.Sequential(ss.Upsample(scale_factor=0.5)).infer("N, C, L")
    assert not g.valid(L=1) and g.valid(L=2)


# 3. forward values where the output keeps the input size (torch copies) or doubles it
@pytest.mark.parametrize("kwargs, shape", [
    ({"scale_factor": 1.3, "mode": "linear"}, (2, 3, 3)),
    ({"scale_factor": 1.2, "mode": "bilinear"}, (1, 2, 3, 4)),
    ({"scale_factor": 2.0000001, "mode": "nearest"}, (1, 2, 5)),
    ({"scale_factor": 1.0000001, "mode": "nearest"}, (1, 2, 5)),
    ({"scale_factor": (1.3, 2.0000001), "mode": "bilinear"}, (1, 2, 3, 4)),
])
def test_3_upsample_same_and_double_size_values(kwargs, shape):
    check_layer(ss.Upsample(**kwargs), torch.nn.Upsample(**kwargs), shape)


# 4. padded ceil-mode pools with padding + stride > dilation*(kernel-1)+1
@pytest.mark.parametrize("length", [4, 5, 6, 7])
def test_4_padded_ceil_mode_pool_symbolic_then_bound(length):
    expected = torch_runs(torch.nn.MaxPool1d(2, stride=2, padding=1, ceil_mode=True), (1, 1, length))
    g = ss.Sequential(ss.MaxPool1d(2, stride=2, padding=1, ceil_mode=True)).infer("N, C, L")
    assert tuple(g.bind(N=1, C=1, L=length).output_shapes[0]) == expected


# 5. AvgPool3d (and LPPool3d, which pools with it) wants the unpadded input to hold a kernel
@pytest.mark.parametrize("shape", [(1, 1, 2, 3, 3), (1, 1, 3, 3, 3), (1, 2, 3, 3), (1, 1, 3, 2, 5)])
def test_5_avgpool3d_input_smaller_than_kernel(shape):
    assert symshape_runs(ss.AvgPool3d(3, padding=1), shape) == torch_runs(torch.nn.AvgPool3d(3, padding=1), shape)
    assert symshape_runs(ss.LPPool3d(2, 3, stride=1), shape) == torch_runs(torch.nn.LPPool3d(2, 3, stride=1), shape)
    assert symshape_runs(ss.MaxPool3d(3, padding=1), shape) == torch_runs(torch.nn.MaxPool3d(3, padding=1), shape)


# 6. pool padding: at most half of the undilated kernel
@pytest.mark.parametrize("kernel, dilation, padding", [(3, 2, 2), (3, 2, 1), (2, 3, 1), (4, 1, 2), (5, 3, 3)])
def test_6_maxpool_padding_limit_ignores_dilation(kernel, dilation, padding):
    try:
        torch.nn.MaxPool1d(kernel, stride=1, padding=padding, dilation=dilation)(torch.randn(1, 1, 20))
        torch_ok = True
    except RuntimeError:
        torch_ok = False
    try:
        ss.Sequential(ss.MaxPool1d(kernel, stride=1, padding=padding, dilation=dilation)).infer((1, 1, 20))
        ok = True
    except ss.SpecError:
        ok = False
    assert ok == torch_ok


# 7-9. statistics over one value: torch refuses in eval mode too
@pytest.mark.parametrize("make, shape", [
    (lambda m: m.InstanceNorm1d(3), (2, 3, 1)),
    (lambda m: m.InstanceNorm2d(3), (3, 1, 1)),
    (lambda m: m.InstanceNorm1d(3), (2, 3, 2)),
    (lambda m: m.BatchNorm1d(3, track_running_stats=False), (1, 3)),
    (lambda m: m.BatchNorm2d(3, track_running_stats=False), (1, 3, 1, 1)),
    (lambda m: m.BatchNorm1d(3, track_running_stats=False), (2, 3)),
    (lambda m: m.BatchNorm1d(3), (1, 3)),  # running statistics: fine in eval mode
    (lambda m: m.GroupNorm(3, 3), (1, 3)),
    (lambda m: m.GroupNorm(3, 3), (1, 3, 1, 1)),
    (lambda m: m.GroupNorm(1, 3), (1, 3)),
    (lambda m: m.GroupNorm(3, 3), (2, 3)),
])
def test_7_8_9_norms_refuse_one_value_per_channel(make, shape):
    module = make(torch.nn).eval()
    expected = torch_runs(module, shape)
    assert symshape_runs(make(ss), shape) == expected
    if expected is not None:
        check_layer(make(ss), make(torch.nn), shape)


def test_7_one_value_is_a_condition_of_symbolic_sizes():
    g = ss.Sequential(ss.BatchNorm1d(3, track_running_stats=False)).infer("N, 3")
    assert not g.valid(N=1) and g.valid(N=2)
    with pytest.raises(ss.ShapeMismatchError, match="Expected more than 1|more than 1 value per channel"):
        ss.Sequential(ss.BatchNorm1d(3, track_running_stats=False)).infer((1, 3))


# 10. without parameters or buffers torch ignores the size argument
@pytest.mark.parametrize("make, shape", [
    (lambda m: m.BatchNorm1d(5, affine=False, track_running_stats=False), (4, 3)),
    (lambda m: m.BatchNorm2d(7, affine=False, track_running_stats=False), (2, 3, 2, 2)),
    (lambda m: m.GroupNorm(3, 9, affine=False), (2, 6, 4)),
    (lambda m: m.InstanceNorm1d(9), (2, 3, 4)),
])
def test_10_norms_without_parameters_ignore_their_size(make, shape):
    check_layer(make(ss), make(torch.nn), shape, check_init=False)


def test_10_sizes_still_checked_with_parameters():
    with pytest.raises(ss.ShapeMismatchError, match="num_features"):
        ss.Sequential(ss.BatchNorm1d(5, track_running_stats=False)).infer((4, 3))


# 11. proj_size < hidden_size, for a symbolic hidden size too
def test_11_proj_size_checked_against_a_bound_hidden_size():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        torch.nn.LSTM(3, 4, proj_size=8)
    g = ss.Sequential(ss.LSTM(3, "H", proj_size=8)).infer("L, N, 3")
    assert not g.valid(H=4) and g.valid(H=9)
    with pytest.raises(ss.ShapeMismatchError, match="hidden_size is 4 .must be at least 9. but proj_size is 8"):
        g.bind(H=4)


# 12. dropout outside [0, 1]
def test_12_transformer_dropout_out_of_range():
    with pytest.raises(ValueError):
        torch.nn.TransformerEncoderLayer(4, 2, dropout=7.0)
    with pytest.raises(ss.SpecError, match="dropout probability has to be between 0 and 1"):
        ss.TransformerEncoderLayer(4, 2, dropout=7.0)


# 13. lazy layers fed an input of the wrong rank report the rank, not a TypeError
@pytest.mark.parametrize("layer, shape", [
    (lambda: ss.LazyBatchNorm1d(), (2, 3, 4, 5)),
    (lambda: ss.Linear(None, 4), ()),
    (lambda: ss.LSTM(None, 4), (2, 3, 4, 5)),
    (lambda: ss.GRU(None, 4), (5,)),
    (lambda: ss.LSTMCell(None, 4), (2, 3, 4)),
    (lambda: ss.TransformerEncoderLayer(None, 2), (2,)),
    (lambda: ss.LazyInstanceNorm2d(), (3,)),
])
def test_13_lazy_layer_on_wrong_rank(layer, shape):
    with pytest.raises(ss.ShapeMismatchError, match="input rank is"):
        ss.Sequential(layer()).infer(shape)


def test_13_lazy_attention_on_wrong_rank():
    q = ss.Input("L, N, E", name="q")
    v = ss.Input("S, E, F, G", name="v")
    with pytest.raises(ss.ShapeMismatchError):
        ss.Model([q, v], ss.MultiheadAttention(None, 2)(q, q, v)).infer()


# 14. sizes named only inside Reshape / Unflatten / Split arguments can be bound
@pytest.mark.parametrize("layer, shape, expected", [
    (lambda: ss.Reshape(["B", "K", -1]), "B, 8", (2, 4, 2)),
    (lambda: ss.Unflatten(1, ["K", -1]), "B, 8", (2, 4, 2)),
    (lambda: ss.Split(["K", 4], dim=1), "B, 8", (2, 4)),
])
def test_14_bind_a_size_named_in_arguments(layer, shape, expected):
    g = ss.Sequential(layer()).infer(shape).bind(B=2, K=4)
    assert tuple(g.output_shapes[0]) == expected and g.is_concrete


def test_14_cli_bind(tmp_path, capsys):
    spec = tmp_path / "r.yaml"
    spec.write_text("inputs: {x: [B, D]}\nlayers:\n  - {name: r, op: Reshape, shape: [B, K, -1]}\n")
    assert main(["check", str(spec), "--bind", "K=4,D=8"]) == 0
    assert "r: (B, 4, 2)" in capsys.readouterr().out


# 15. Concat of one tensor is that tensor (torchvision's DenseNet)
class _CatOne(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x], 1)


def test_15_concat_of_one_tensor():
    check_layer(ss.Concat(1), _CatOne(), (2, 3, 4))


# 16. the streaming writer never follows a link planted at a predictable temporary name
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_16_streaming_writer_ignores_planted_symlink(tmp_path, suffix):
    graph = ss.Sequential(ss.Linear(4, 3)).infer("B, 4")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / f"w{suffix}"
    planted = tmp_path / f".{target.name}.{os.getpid()}.tmp"  # the old writer's name
    planted.symlink_to(victim)
    files = stream.write_weights(graph, target, seed=0)
    assert files == [target] and victim.read_text() == "precious"
    assert planted.is_symlink() and not target.is_symlink()
    loaded = ss.load_weights(target, graph)
    assert all(np.array_equal(loaded[k], v) for k, v in graph.materialize(seed=0).items())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([victim.name, target.name, planted.name])


# 17. a Reshape implying a nonlinear divisibility returns within seconds (the solver has a budget)
def test_17_nonlinear_divisibility_returns(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("inputs: {x: [B, H, W]}\nlayers:\n  - {name: r, op: Reshape, shape: [-1, 12*C]}\n")
    code = textwrap.dedent(f"""
        from symshape.cli import main
        raise SystemExit(main(["check", {str(spec)!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    assert "internal error" not in result.stderr


# 18. condition summaries state exactly the sizes torch accepts
def test_18_summary_of_two_branch_widths_is_exact():
    x = ss.Input("B, 1, W", name="x")
    a = ss.Conv1d(1, 2, 3, stride=4, bias=False)(x)
    b = ss.Conv1d(1, 2, 3, stride=3, bias=False)(x)
    g = ss.Model([x], ss.Concat(1)(a, b)).infer(strict=False)

    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv1d(1, 2, 3, stride=4, bias=False)
            self.b = torch.nn.Conv1d(1, 2, 3, stride=3, bias=False)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1)

    W = ss.sym("W")
    for w in range(1, 30):
        torch_ok = torch_runs(Two(), (1, 1, w)) is not None
        assert all(c.holds({W: w}) for c in g.constraints) == torch_ok, w
    assert sorted(w for w in range(1, 30) if torch_runs(Two(), (1, 1, w))) == [3, 4, 5, 7, 8, 11]


# 19. Conv + BatchNorm fusion on an unbatched input (BatchNorm1d reads the conv's length as channels)
def test_19_no_fusion_across_an_unbatched_conv_output():
    conv, norm = ss.Conv1d(2, 5, 3), ss.BatchNorm1d(5)
    model = ss.Sequential(conv, norm)
    torch_model = torch.nn.Sequential(torch.nn.Conv1d(2, 5, 3), torch.nn.BatchNorm1d(5)).eval()
    x = np.random.default_rng(0).standard_normal((2, 7)).astype(np.float32)  # (C_in, L): L_out = 5 = C_out
    graph = model.infer(x.shape)
    params = graph.materialize(seed=0)
    rng = np.random.default_rng(1)
    for name in ("1.weight", "1.bias", "1.running_mean"):
        params[name] = rng.standard_normal(5).astype(np.float32)
    params["1.running_var"] = rng.uniform(0.5, 2, 5).astype(np.float32)
    torch_model.load_state_dict(to_torch_state(params))
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(graph.forward(params, x), expected, rtol=1e-4, atol=1e-5)


def test_19_fusion_still_exact_on_a_batched_input():
    check_model(ss.Sequential(ss.Conv1d(2, 5, 3), ss.BatchNorm1d(5)),
                torch.nn.Sequential(torch.nn.Conv1d(2, 5, 3), torch.nn.BatchNorm1d(5)).eval(),
                np.random.default_rng(0).standard_normal((3, 2, 7)).astype(np.float32))


# 20. --bind decides at the bound sizes: a branch of length 1 broadcasts in torch
def test_20_bind_where_a_bound_size_broadcasts(tmp_path, capsys):
    spec = tmp_path / "b.yaml"
    spec.write_text("inputs: {x: [B, L], y: [B, M]}\nlayers:\n  - {name: s, op: Add, in: [x, y]}\n")
    assert torch.add(torch.randn(2, 5), torch.randn(2, 1)).shape == (2, 5)
    assert main(["check", str(spec), "--bind", "M=1,L=5"]) == 0
    assert "s: (B, 5)" in capsys.readouterr().out


# 21. tests/fuzz_layers.py findings: one case of each kind of disagreement, compared as the fuzzer does
from fuzz_layers import compare  # noqa: E402

FUZZ_CASES = [
    ("LazyConv2d", {"out_channels": 1, "kernel_size": 3, "groups": 2}, (5, 4)),  # wrong rank: internal error
    ("LazyConv1d", {"out_channels": 2, "kernel_size": 2, "stride": 3, "padding": 3}, (1, 5, 4, 4, 1)),
    ("ConstantPad2d", {"padding": (1, 2), "value": 1}, (3, 5)),  # F.pad takes any even number of ints
    ("ConstantPad1d", {"padding": 2, "value": None}, (3,)),  # value None pads with 0
    ("ZeroPad3d", {"padding": (1, 2)}, (2,)),
    ("ZeroPad2d", {"padding": (1, 2, 3, 4, 5, 6)}, (4, 2, 5)),
    ("LayerNorm", {"normalized_shape": 2, "eps": -0.5}, (1, 2)),  # a negative eps runs (NaN where var < 0.5)
    ("InstanceNorm1d", {"num_features": 1, "eps": 0.0}, (4, 1, 4)),
    ("BatchNorm1d", {"num_features": 2, "eps": -0.5}, (4, 2)),  # batch_norm: eps must be non-negative
    ("LazyInstanceNorm2d", {"eps": 1.5}, (2, 3, 4)),  # lazy: num_features = input.shape[1], a spatial size
    ("LazyInstanceNorm2d", {"eps": 1.5}, (3, 3, 4)),
    ("SyncBatchNorm", {"num_features": 1, "affine": False, "track_running_stats": False}, (2, 5, 3, 2)),
    ("GroupNorm", {"num_groups": 2, "num_channels": 3, "affine": False}, (1, 2, 4)),  # checked on construction
    ("Conv2d", {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "groups": 3}, (1, 1, 4, 2)),  # likewise
    ("ReflectionPad3d", {"padding": (1, 2)}, (5, 4)),  # reflect/replicate: 2, 4 or 6 ints whatever the class
    ("ReplicationPad1d", {"padding": (1, 2, 0, 1)}, (2, 3, 5, 4)),
    ("ReflectionPad2d", {"padding": (1, 2)}, (2, 3, 5, 4)),  # 2 ints on a 4-d input: torch refuses
    ("CircularPad2d", {"padding": (1, 2)}, (3, 1, 5)),  # circular: the class's ranks F.pad takes for them
    ("CircularPad2d", {"padding": (1, 2)}, (2, 3, 1, 5)),
    ("CircularPad1d", {"padding": (1, 2, 0, 1)}, (2, 3, 5)),
]


@pytest.mark.parametrize("op, kwargs, shape", FUZZ_CASES)
def test_21_fuzz_layers_case_agrees_with_torch(op, kwargs, shape):
    assert compare(op, kwargs, shape) is None


@pytest.mark.parametrize("layer", [
    "{op: LazyConvTranspose1d, out_channels: 1, kernel_size: 1}", "{op: LazyConvTranspose2d, out_channels: 2, "
    "kernel_size: 1}", "{op: LazyConvTranspose3d, out_channels: 1, kernel_size: 1}", "{op: LazyConv1d, "
    "out_channels: 1, kernel_size: 1}", "{op: LazyBatchNorm1d}", "{op: LazyInstanceNorm2d}"])
def test_13_lazy_layer_on_wrong_rank_through_the_cli(layer, tmp_path, capsys):
    """The layer fuzzer's CLI stage: a lazy layer (transposed convolution, batch norm) on an input of the
    wrong rank ended the CLI's summary in an internal error (parameters of an unknown size); now the rank
    error, exit 1."""
    spec = tmp_path / "lazy.yaml"
    spec.write_text(f"inputs: {{x: [1, 1, 5, 1, 1, 1]}}\nlayers:\n  - {{name: c, {layer[1:]}\noutputs: [c]\n")
    assert main(["check", str(spec)]) == 1
    assert "input rank is" in capsys.readouterr().err
