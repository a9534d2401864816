"""TransformerEncoder, TransformerDecoder and Transformer against torch; layer-valued arguments in specs."""

import numpy as np
import pytest
import torch
from harness import check_model
from test_attention_masks import Call, attn_mask, causal, padding_mask
from torch.utils.flop_counter import FlopCounterMode

import symshape as ss

RNG = np.random.default_rng(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's nested-tensor and fast-path notes


def floats(*shapes):
    return [RNG.standard_normal(s).astype(np.float32) for s in shapes]


def run(layer, module, arrays, names, node, **kw):
    inputs = [ss.Input(a.shape, name=n, dtype=str(a.dtype)) for a, n in zip(arrays, names)]
    return check_model(ss.Model(inputs, layer(*inputs, name=node)), module, *arrays, **kw)


ENCODER_CASES = [  # (layer kwargs, stack kwargs, src shape, masks)
    ({"batch_first": True}, {"norm": True}, (3, 5, 8), {"src_key_padding_mask": padding_mask(3, 5, lengths=[5, 3, 2])}),
    ({"batch_first": True}, {}, (3, 5, 8),  # not left aligned: torch's nested path is not taken
     {"src_key_padding_mask": np.array([[0, 1, 0, 0, 0], [0, 0, 0, 1, 1], [1, 0, 0, 0, 0]], bool)}),
    ({"batch_first": True}, {"mask_check": False}, (3, 5, 8),  # nested path on the first unpadded count
     {"src_key_padding_mask": np.array([[0, 1, 0, 0, 0], [0, 0, 0, 1, 1], [1, 0, 0, 0, 0]], bool)}),
    ({"batch_first": True}, {"enable_nested_tensor": False}, (3, 5, 8),
     {"src_key_padding_mask": padding_mask(3, 5, bool_mask=False, lengths=[5, 3, 2])}),
    ({"norm_first": True, "activation": "gelu"}, {"norm": True}, (5, 2, 8),
     {"mask": attn_mask((5, 5)), "src_key_padding_mask": padding_mask(2, 5)}),
    ({}, {"is_causal": True}, (5, 2, 8), {"mask": causal(5)}),
    ({"bias": False}, {"norm": True}, (5, 8), {}),
]


@pytest.mark.parametrize("layer_kwargs, stack_kwargs, shape, masks", ENCODER_CASES)
def test_transformer_encoder_matches_torch(layer_kwargs, stack_kwargs, shape, masks):
    stack_kwargs = dict(stack_kwargs)
    options = {k: stack_kwargs.pop(k) for k in ("is_causal",) if k in stack_kwargs}
    with_norm = stack_kwargs.pop("norm", False)
    bias = layer_kwargs.get("bias", True)
    layer = ss.TransformerEncoder(ss.TransformerEncoderLayer(8, 2, 16, **layer_kwargs), 2,
                                  ss.LayerNorm(8, bias=bias) if with_norm else None, **stack_kwargs, **options,
                                  **{n: True for n in masks})
    module = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **layer_kwargs), 2,
                                         torch.nn.LayerNorm(8, bias=bias) if with_norm else None, **stack_kwargs)
    run(layer, Call("encoder", module, 1, tuple(masks), **options), floats(shape) + list(masks.values()),
        ["src", *masks], "encoder", check_init=not masks)  # the (slow) init check on the case without masks


def test_padded_positions_are_zeros_on_torchs_nested_path():
    x, pad = floats((2, 4, 8))[0], padding_mask(2, 4, lengths=[4, 2])
    layer = ss.TransformerEncoder(ss.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1,
                                  src_key_padding_mask=True)
    inputs = [ss.Input(x.shape, name="x"), ss.Input(pad.shape, name="pad", dtype="bool")]
    graph = ss.Model(inputs, layer(*inputs, name="enc")).infer()
    out = graph.forward(graph.materialize(seed=0), x, pad)
    assert np.all(out[1, 2:] == 0) and np.all(out[0] != 0)


@pytest.mark.parametrize("layer_kwargs, masks, options", [
    ({}, {"tgt_mask": causal(4), "memory_key_padding_mask": padding_mask(2, 6)}, {}),
    ({"batch_first": True, "norm_first": True}, {"memory_mask": attn_mask((4, 6), bool_mask=False),
                                                 "tgt_key_padding_mask": padding_mask(2, 4)}, {}),
    ({}, {"tgt_mask": causal(4)}, {"tgt_is_causal": True}),
])
def test_transformer_decoder_matches_torch(layer_kwargs, masks, options):
    tgt, memory = ((2, 4, 8), (2, 6, 8)) if layer_kwargs.get("batch_first") else ((4, 2, 8), (6, 2, 8))
    layer = ss.TransformerDecoder(ss.TransformerDecoderLayer(8, 4, 12, **layer_kwargs), 2, ss.LayerNorm(8),
                                  **options, **{n: True for n in masks})
    module = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 4, 12, **layer_kwargs), 2,
                                         torch.nn.LayerNorm(8))
    run(layer, Call("decoder", module, 2, tuple(masks), **options), floats(tgt, memory) + list(masks.values()),
        ["tgt", "memory", *masks], "decoder", check_init="tgt_mask" in masks and not options)


@pytest.mark.parametrize("kwargs, src, tgt, masks", [
    ({}, (5, 2, 8), (4, 2, 8), {}),
    ({"batch_first": True, "norm_first": True, "activation": "gelu"}, (2, 5, 8), (2, 4, 8),
     {"tgt_mask": causal(4), "src_key_padding_mask": padding_mask(2, 5), "memory_key_padding_mask": padding_mask(2, 5)}),
    ({"bias": False}, (5, 8), (4, 8), {"src_mask": attn_mask((5, 5)), "memory_mask": attn_mask((4, 5))}),
    ({"batch_first": True}, (2, 5, 8), (2, 4, 8),  # torch's nested path: the memory is norm(0) where padded
     {"src_key_padding_mask": padding_mask(2, 5, lengths=[5, 3])}),
])
def test_transformer_matches_torch(kwargs, src, tgt, masks):
    """torch's Transformer re-initializes every parameter of more than one dim with xavier_uniform_."""
    layer = ss.Transformer(8, 2, 2, 1, 16, **kwargs, **{n: True for n in masks})
    module = torch.nn.Transformer(8, 2, 2, 1, 16, **kwargs)
    graph, _ = run(layer, Call("transformer", module, 2, tuple(masks)), floats(src, tgt) + list(masks.values()),
                   ["src", "tgt", *masks], "transformer", check_init=not masks)  # the init check once: it is slow
    assert graph.param_specs["transformer.encoder.layers.0.linear1.weight"].init == "xavier_uniform"
    assert "transformer.decoder.norm.weight" in graph.param_specs


def test_transformer_with_custom_encoder_mapping():
    custom = {"op": "TransformerEncoder", "num_layers": 1,
              "encoder_layer": {"op": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "dim_feedforward": 16}}
    layer = ss.Transformer(8, 2, num_decoder_layers=1, dim_feedforward=16, custom_encoder=custom)
    encoder = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 1)
    module = torch.nn.Transformer(8, 2, num_decoder_layers=1, dim_feedforward=16, custom_encoder=encoder)
    run(layer, Call("transformer", module, 2), floats((5, 2, 8), (3, 2, 8)), ["src", "tgt"], "transformer",
        check_init=False)


def test_symbolic_shapes_and_state_names():
    x = ss.Input("B, T, E", name="x")
    enc = ss.TransformerEncoder(ss.TransformerEncoderLayer(None, 4, 32, batch_first=True), 3, ss.LayerNorm(None))
    g = ss.Model(x, enc(x, name="encoder")).infer()
    E = ss.sym("E")
    assert g.output_shapes == [(ss.sym("B"), ss.sym("T"), E)]
    assert g.param_shapes["encoder.layers.2.self_attn.in_proj_weight"] == (3 * E, E)
    assert g.param_shapes["encoder.norm.weight"] == (E,)
    assert [c.relation for c in g.constraints] == ["%"]  # E divisible by nhead
    assert g.bind(E=16).num_params == 3 * (4 * 16 * 16 + 4 * 16 + 2 * 16 * 32 + 32 + 16 + 4 * 16) + 2 * 16


def test_spec_nested_layer_arguments_round_trip(tmp_path):
    spec = {"inputs": {"src": ["S", "B", 16], "tgt": ["T", "B", 16]},
            "layers": [{"name": "tr", "op": "Transformer", "in": ["src", "tgt"], "d_model": 16, "nhead": 4,
                        "num_decoder_layers": 1, "dim_feedforward": 32,
                        "custom_encoder": {"op": "TransformerEncoder", "num_layers": 2,
                                           "encoder_layer": {"op": "TransformerEncoderLayer", "d_model": 16,
                                                             "nhead": 4, "dim_feedforward": 32},
                                           "norm": {"op": "LayerNorm", "normalized_shape": 16}}}]}
    model = ss.load_spec(spec)
    names = list(model.infer().param_shapes)
    assert "tr.encoder.layers.1.linear2.bias" in names and "tr.encoder.norm.bias" in names
    ss.save_spec(model, tmp_path / "t.yaml")
    again = ss.load_spec(tmp_path / "t.yaml")
    assert list(again.infer().param_shapes) == names
    x = ss.Input("S, B, 16", name="x")
    built = ss.Model(x, ss.TransformerEncoder(ss.TransformerEncoderLayer(16, 4), 2)(x, name="enc"))
    ss.save_spec(built, tmp_path / "e.yaml")
    text = (tmp_path / "e.yaml").read_text()
    assert "encoder_layer: {op: TransformerEncoderLayer, d_model: 16, nhead: 4" in text
    assert list(ss.load_spec(tmp_path / "e.yaml").infer().param_shapes) == list(built.infer().param_shapes)


def test_spec_nested_layer_errors_name_the_key():
    spec = {"inputs": {"x": ["S", "B", 16]},
            "layers": [{"name": "enc", "op": "TransformerEncoder", "num_layers": 2,
                        "encoder_layer": {"op": "TransformerEncoderLayer", "d_model": 16, "nhead": 0}}]}
    with pytest.raises(ss.SpecError, match=r"layers\[0\] \(enc\): key 'encoder_layer': TransformerEncoder: "
                                           r"encoder_layer: TransformerEncoderLayer: nhead must be a positive int"):
        ss.load_spec(spec)
    spec["layers"][0]["encoder_layer"] = {"op": "Linear", "in_features": 16, "out_features": 16}
    with pytest.raises(ss.SpecError, match=r"encoder_layer must be a TransformerEncoderLayer mapping"):
        ss.load_spec(spec)


def test_stack_misuse_messages():
    with pytest.raises(ss.SpecError, match=r"TransformerEncoder: give the masks .* not to its encoder_layer"):
        ss.TransformerEncoder(ss.TransformerEncoderLayer(8, 2, src_mask=True), 2)
    with pytest.raises(ss.SpecError, match=r"TransformerEncoder: num_layers must be a positive int, got 0"):
        ss.TransformerEncoder(ss.TransformerEncoderLayer(8, 2), 0)
    with pytest.raises(ss.SpecError, match=r"TransformerDecoder: tgt_is_causal=True .* set tgt_mask=True"):
        ss.TransformerDecoder(ss.TransformerDecoderLayer(8, 2), 1, tgt_is_causal=True)
    x = ss.Input("S, B, 8", name="x")
    enc = ss.TransformerEncoder(ss.TransformerEncoderLayer(8, 2), 1, norm=ss.LayerNorm(6))
    with pytest.raises(ss.ShapeMismatchError, match=r"enc \(TransformerEncoder\): the norm's normalized_shape"):
        ss.Model(x, enc(x, name="enc")).infer()
    with pytest.raises(ss.SpecError, match=r"Transformer: TransformerEncoderLayer: dropout probability has to be "
                                           r"between 0 and 1, but got 2.0"):
        ss.Transformer(8, 2, dropout=2.0)
    s, t = ss.Input((5, 2, 8), name="s"), ss.Input((4, 3, 8), name="t")
    with pytest.raises(ss.ShapeMismatchError, match=r"the batch size of tgt.*the batch number of src and tgt"):
        ss.Model([s, t], ss.Transformer(8, 2, 1, 1, 16)(s, t, name="tr")).infer()


@pytest.mark.parametrize("make, shapes, attention", [  # attention: (L, S) of each attention block
    (lambda: (ss.TransformerEncoderLayer(16, 4, 32), torch.nn.TransformerEncoderLayer(16, 4, 32)),
     [(5, 2, 16)], [(5, 5)]),
    (lambda: (ss.TransformerDecoderLayer(16, 4, 32), torch.nn.TransformerDecoderLayer(16, 4, 32)),
     [(3, 2, 16), (5, 2, 16)], [(3, 3), (3, 5)]),
    (lambda: (ss.Transformer(16, 4, 2, 1, 32), torch.nn.Transformer(16, 4, 2, 1, 32)),
     [(5, 2, 16), (3, 2, 16)], [(5, 5), (5, 5), (3, 3), (3, 5)]),
])
def test_macs_are_flop_counter_halves_plus_the_attention_torch_hides(make, shapes, attention):
    """torch's CPU attention kernel is invisible to its flop counter: its q @ k.T and weights @ v
    (2 * B * L * S * E multiply-accumulates per attention block) are added to the counter's figure."""
    layer, module = make()
    inputs = [ss.Input(s, name=f"x{i}") for i, s in enumerate(shapes)]
    macs = ss.Model(inputs, layer(*inputs, name="t")).infer().costs().macs
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(*[torch.zeros(s) for s in shapes])
    hidden = sum(2 * 2 * length * source * 16 for length, source in attention)
    assert macs == counter.get_total_flops() // 2 + hidden


def test_command_line_runs_a_spec_with_a_bool_mask_input(tmp_path, capsys):
    from symshape.cli import main

    spec = tmp_path / "enc.yaml"
    spec.write_text("inputs:\n  x: [B, T, 16]\n  pad: {shape: [B, T], dtype: bool}\nlayers:\n"
                    "  - {name: enc, op: TransformerEncoder, in: [x, pad], num_layers: 1, src_key_padding_mask: true,\n"
                    "     encoder_layer: {op: TransformerEncoderLayer, d_model: 16, nhead: 2, batch_first: true}}\n")
    x, pad = floats((2, 3, 16))[0], padding_mask(2, 3, lengths=[3, 1])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "pad.npy", pad)
    out = tmp_path / "out.npy"
    assert main(["run", str(spec), "--seed", "0", "--input", f"x={tmp_path / 'x.npy'}",
                 "--input", f"pad={tmp_path / 'pad.npy'}", "-o", str(out)]) == 0
    graph = ss.load_spec(spec).infer().bind(B=2, T=3)
    np.testing.assert_array_equal(np.load(out), graph.forward(graph.materialize(seed=0), x, pad))
    np.save(tmp_path / "pad.npy", pad.astype(np.float32))
    assert main(["run", str(spec), "--seed", "0", "--input", f"x={tmp_path / 'x.npy'}",
                 "--input", f"pad={tmp_path / 'pad.npy'}", "-o", str(out)]) == 2
    assert "--input pad: the spec declares bool, the array is float32" in capsys.readouterr().err
