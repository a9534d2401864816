"""Zero-input layers against torch: Parameter and Buffer (state_dict names, init, weights files, parity
with torch modules holding nn.Parameter), Arange, Full/Zeros/Ones, Tril/Triu, the sinusoidal table;
their wiring in the functional API and in spec files; a ViT-style stem with symbolic image sizes."""

import numpy as np
import pytest
import torch
from harness import (
    assert_same_init_distribution,
    assert_same_state_layout,
    check_layer,
    check_model,
    to_torch_state,
    torch_forward,
)

import symshape as ss

RNG = np.random.default_rng(0)


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def constant(layer):
    """The analysis of a model made of one zero-input layer, named t."""
    return ss.Model([], layer(name="t")).infer()


def value(layer):
    return constant(layer).forward({})


def assert_same_tensor(got, expected):
    assert got.dtype == expected.numpy().dtype and got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.astype(np.float64), expected.double().numpy(), rtol=1e-4, atol=1e-6)


# --- Parameter and Buffer ---------------------------------------------------------------------------

def test_parameter_is_named_after_its_node_and_called_with_no_tensor():
    token = ss.Parameter((1, 1, 768))()
    assert isinstance(token, ss.SymbolicTensor)
    x = ss.Input("B, T, 768", name="x")
    graph = ss.Model(x, ss.Add()(x, ss.Parameter((1, 1, 768))(name="class_token"))).infer()
    assert graph.param_shapes == {"class_token": (1, 1, 768)}
    assert graph.num_params == 768


def test_inlined_model_prefixes_parameter_names():
    x = ss.Input("B, T, C", name="x")
    encoder = ss.Model(x, ss.Add()(x, ss.Parameter([1, "T", "C"])(name="pos_embedding")))
    y = ss.Input("B, T, C", name="y")
    graph = ss.Model(y, encoder(y, name="encoder")).infer()
    assert list(graph.param_shapes) == ["encoder.pos_embedding"]
    assert str(graph.param_shapes["encoder.pos_embedding"]) == "(1, T, C)"


@pytest.mark.parametrize("init, check", [
    (None, lambda a: np.all(a == 0)),
    ("ones", lambda a: np.all(a == 1)),
    ({"name": "constant", "val": 2.5}, lambda a: np.all(a == 2.5)),
    ({"name": "normal", "std": 0.02}, lambda a: abs(a.std() - 0.02) < 0.001 and abs(a.mean()) < 0.001),
    (("trunc_normal", {"std": 1.0}), lambda a: abs(a.std() - 0.88) < 0.02 and np.abs(a).max() <= 2),
    ({"name": "uniform", "a": -0.1, "b": 0.1}, lambda a: np.abs(a).max() <= 0.1 and a.std() > 0.05),
])
def test_parameter_init_uses_symshape_initializers(init, check):
    graph = constant(ss.Parameter([200, 64], init=init))
    values = graph.materialize(seed=1)["t"]
    assert values.shape == (200, 64) and values.dtype == np.float32 and check(values)


def test_global_init_patterns_reach_a_parameter():
    graph = constant(ss.Parameter([3, 4]))
    assert np.all(graph.materialize(seed=0, init={"t": "ones"})["t"] == 1)


@pytest.mark.parametrize("make, message", [
    (lambda: ss.Parameter([2], init="gaussian"), "Parameter: init 'gaussian' names no initializer; known: .*normal"),
    (lambda: ss.Parameter([2], init={"name": "normal", "sd": 1}), "Parameter: init 'normal': .*'sd'"),
    (lambda: ss.Parameter([2, 0]), "Parameter: shape entries must be positive sizes"),
    (lambda: ss.Parameter("B, x y"), "Parameter: shape='B, x y' is not a shape"),
    (lambda: ss.Parameter([2], requires_grad="yes"), "requires_grad must be true or false"),
    (lambda: ss.Buffer([2], init="normal", persistent=False), "non-persistent buffer is not saved"),
    (lambda: ss.Buffer([2], dtype="complex64"), "Buffer: dtype must be one of"),
])
def test_bad_parameter_arguments(make, message):
    with pytest.raises(ss.SpecError, match=message):
        make()


class TorchScaled(torch.nn.Module):
    """CLIP's logit_scale: a scalar nn.Parameter multiplying the input, and a learnable bias row."""

    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.ones([]) * 2.5)
        self.shift = torch.nn.Parameter(torch.zeros(1, 5))

    def forward(self, x):
        return x * self.logit_scale + self.shift


def test_parameters_match_a_torch_module_holding_nn_parameters(tmp_path):
    x = ss.Input("B, 5", name="x")
    scale = ss.Parameter([], init={"name": "constant", "val": 2.5})(name="logit_scale")
    shift = ss.Parameter([1, 5])(name="shift")
    model = ss.Model(x, ss.Add()(ss.Mul()(x, scale), shift))
    module = TorchScaled()
    array = RNG.standard_normal((3, 5)).astype(np.float32)
    graph, params = check_model(model, module, array)
    params = {"logit_scale": np.float32(0.5) * np.ones((), np.float32), "shift": np.arange(5, dtype=np.float32)[None]}
    path = tmp_path / "w.safetensors"
    ss.save_weights(params, path)
    loaded = ss.load_weights(path, graph)
    module.load_state_dict(to_torch_state(loaded), strict=True)
    np.testing.assert_allclose(graph.forward(loaded, array), module(torch.from_numpy(array)).detach().numpy(),
                               rtol=1e-6)


class TorchMasked(torch.nn.Module):
    """nanoGPT's registered mask buffer, and a non-persistent int64 buffer (not in the state_dict)."""

    def __init__(self, t):
        super().__init__()
        self.register_buffer("bias", torch.ones(1, 1, t, t))
        self.register_buffer("offset", torch.zeros(1, t, dtype=torch.int64), persistent=False)

    def forward(self, att):
        return att.masked_fill(torch.tril(self.bias) == 0, float("-inf")).softmax(-1) + self.offset


def test_buffers_persistent_and_not_match_torch():
    att = ss.Input("B, H, T, T", name="att")
    bias = ss.Buffer([1, 1, "T", "T"], init="ones")(name="bias")
    offset = ss.Buffer([1, "T"], persistent=False, dtype="int64")(name="offset")
    masked = ss.MaskedFill(float("-inf"))(att, ss.Eq(other=0)(ss.Tril()(bias)))
    model = ss.Model(att, ss.Add()(ss.Softmax(dim=-1)(masked), offset))
    graph = model.infer()
    assert graph.buffer_shapes == {"bias": (1, 1, ss.sym("T"), ss.sym("T"))} and graph.param_shapes == {}
    assert graph.graph.nodes["offset"]["output_dtypes"] == ["int64"]
    check_model(model, TorchMasked(4), RNG.standard_normal((2, 3, 4, 4)).astype(np.float32))


# --- Arange, Full, Zeros, Ones ----------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs", [
    ((5,), {}), ((2, 10, 3), {}), ((5, 0, -2), {}), ((-3, 3), {}), ((0, 1, 0.3), {}), ((0.5, 4), {}),
    ((5,), {"dtype": "float32"}), ((1, 11, 2), {"dtype": "float64"}), ((0, 2.5, 0.5), {"dtype": "float64"}),
    ((3,), {"dtype": "int32"}),
])
def test_arange_matches_torch(args, kwargs):
    got = value(ss.Arange(*args, **kwargs))
    torch_kwargs = {k: getattr(torch, v) for k, v in kwargs.items()}
    assert_same_tensor(got, torch.arange(*args, **torch_kwargs))


def test_arange_with_a_symbolic_end():
    graph = constant(ss.Arange("T"))
    assert str(graph.output_shapes[0]) == "(T,)" and graph.graph.nodes["t"]["output_dtypes"] == ["int64"]
    np.testing.assert_array_equal(graph.bind(T=4).forward({}), np.arange(4))
    graph = constant(ss.Arange(0, "T", 2))
    assert str(graph.output_shapes[0]) == "(floor(T/2 + 1/2),)"
    np.testing.assert_array_equal(graph.bind(T=7).forward({}), torch.arange(0, 7, 2).numpy())
    graph = constant(ss.Arange(3, "T"))
    assert str(graph.output_shapes[0]) == "(T - 3,)" and [str(c) for c in graph.constraints] == ["T >= 4"]


@pytest.mark.parametrize("start, shift, limit", [(0, 0, "T <= 16"), (2, 0, "T <= 16"), (0, 3, "T <= 13")])
def test_positions_from_arange_must_fit_the_embedding_table(start, shift, limit):
    """``Embedding(arange(start, T) + shift)``: the ids' range gives the condition, exactly where torch's
    lookup stops raising (checked at every T that leaves the range non-empty)."""
    positions = ss.Arange(start, "T")(name="pos")
    if shift:
        positions = ss.Add(other=shift)(positions, name="shifted")
    graph = ss.Model([], ss.Embedding(16, 4)(ss.Unsqueeze(0)(positions), name="wpe")).infer()
    assert [str(c) for c in graph.constraints if "rows" in c.what] == [limit]
    table = torch.nn.Embedding(16, 4)
    for t in range(start + 1, 24):
        try:
            table(torch.arange(start, t).unsqueeze(0) + shift)
            runs = True
        except IndexError:
            runs = False
        assert graph.valid(T=t) == runs, t


def test_arange_rejects_empty_ranges_and_symbolic_starts():
    with pytest.raises(ss.ShapeMismatchError, match=r"t \(Arange\): length is 0 \(must be at least 1\)"):
        constant(ss.Arange(5, 5))
    assert [str(c) for c in constant(ss.Arange(3, "T", -1)).constraints] == ["3 - T >= 1"]
    with pytest.raises(ss.SpecError, match="Arange: start must be a number"):
        ss.Arange("T", 10)
    with pytest.raises(ss.SpecError, match="Arange: step must be nonzero"):
        ss.Arange(0, 5, 0)


def test_positions_for_gpt2_embeddings_match_torch():
    """nanoGPT: tok_emb = wte(idx); pos_emb = wpe(torch.arange(0, t)); x = tok_emb + pos_emb."""
    idx = ss.Input("B, T", name="idx", dtype="int64")
    tok = ss.Embedding(50, 8)(idx, name="wte")
    pos = ss.Embedding(16, 8)(ss.Arange("T")(), name="wpe")
    model = ss.Model(idx, ss.Add()(tok, pos))
    assert str(model.infer().output_shapes[0]) == "(B, T, 8)"

    class Torch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = torch.nn.Embedding(50, 8), torch.nn.Embedding(16, 8)

        def forward(self, i):
            return self.wte(i) + self.wpe(torch.arange(0, i.shape[1], dtype=torch.long))

    check_model(model, Torch(), RNG.integers(0, 50, size=(2, 6)))


@pytest.mark.parametrize("layer, expected", [
    (ss.Full([2, 3], 7), torch.full((2, 3), 7)), (ss.Full([2], True), torch.full((2,), True)),
    (ss.Full([2, 2], 1.5), torch.full((2, 2), 1.5)), (ss.Full([2], 3, dtype="float32"), torch.full((2,), 3.0)),
    (ss.Full([3], "-inf"), torch.full((3,), float("-inf"))), (ss.Zeros([2, 3]), torch.zeros(2, 3)),
    (ss.Ones([3], dtype="int64"), torch.ones(3, dtype=torch.int64)), (ss.Ones("2, 2", dtype=torch.bool), torch.ones(2, 2).bool()),
])
def test_full_zeros_ones_match_torch(layer, expected):
    assert_same_tensor(value(layer), expected)


def test_constants_take_symbolic_sizes():
    x = ss.Input("B, T", name="x")
    graph = ss.Model(x, ss.Add()(x, ss.Zeros(["B", 1])())).infer()
    assert str(graph.output_shapes[0]) == "(B, T)"
    mask = ss.Tril()(ss.Ones(["T", "T"])(name="ones"))
    graph = ss.Model([], mask).infer()
    assert str(graph.output_shapes[0]) == "(T, T)"
    assert_same_tensor(graph.bind(T=4).forward({}), torch.tril(torch.ones(4, 4)))


# --- Tril, Triu, sinusoidal table ------------------------------------------------------------------

@pytest.mark.parametrize("diagonal", [0, 1, -2])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4, 2)])
def test_tril_triu_match_torch(diagonal, shape):
    check_layer(ss.Tril(diagonal), Fn(lambda x: torch.tril(x, diagonal)), shape)
    check_layer(ss.Triu(diagonal=diagonal), Fn(lambda x: torch.triu(x, diagonal)), shape)


def test_tril_needs_a_matrix():
    with pytest.raises(ss.ShapeMismatchError, match=r"Tril\): input rank is at least 2 \(\*, rows, columns\) "
                                                      r"but its input \(5,\) from input x has rank 1"):
        ss.Sequential(ss.Tril()).infer("5")
    with pytest.raises(ss.SpecError, match="diagonal must be an int"):
        ss.Triu(0.5)


def d2l_positional_encoding(max_len, num_hiddens):
    """The D2L book's PositionalEncoding table (its torch code, for an even num_hiddens)."""
    p = torch.zeros((1, max_len, num_hiddens))
    x = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1) / torch.pow(
        10000, torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
    p[:, :, 0::2] = torch.sin(x)
    p[:, :, 1::2] = torch.cos(x)
    return p[0]


def test_sinusoidal_table_matches_d2l():
    graph = constant(ss.SinusoidalPositionalEncoding("T", "D"))
    assert str(graph.output_shapes[0]) == "(T, D)" and graph.num_params == 0
    assert_same_tensor(graph.bind(T=60, D=32).forward({}), d2l_positional_encoding(60, 32))
    odd = value(ss.SinusoidalPositionalEncoding(10, 7))
    i, k = np.arange(10)[:, None], np.arange(7)[None]
    angle = i / 10000 ** ((k - k % 2) / 7)
    np.testing.assert_allclose(odd, np.where(k % 2 == 0, np.sin(angle), np.cos(angle)), atol=1e-6)


# --- specs -----------------------------------------------------------------------------------------

SPEC = """
inputs: {x: [B, T, C]}
layers:
  - {name: pos, op: Parameter, shape: [1, T, C], init: {name: normal, std: 0.02}}
  - {name: ones, op: Ones, size: [T, T]}
  - {name: causal, op: Tril}
  - {name: steps, op: Arange, start: T, in: []}
  - {name: y, op: Add, in: [x, pos]}
outputs: [y, causal, steps]
"""


def test_zero_input_entries_in_a_spec_round_trip(tmp_path):
    (tmp_path / "m.yaml").write_text(SPEC)
    model = ss.load_spec(tmp_path / "m.yaml")
    assert [n.inputs for n in model.nodes] == [(), (), ("ones",), (), ("x", "pos")]
    ss.save_spec(model, tmp_path / "again.yaml")
    assert "in: []" in (tmp_path / "again.yaml").read_text()
    again = ss.load_spec(tmp_path / "again.yaml")
    graphs = [m.infer().bind(B=2, T=3, C=4) for m in (model, again)]
    assert graphs[0].param_shapes == graphs[1].param_shapes == {"pos": (1, 3, 4)}
    params = graphs[0].materialize(seed=0)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    for got, expected in zip(graphs[1].forward(params, x), graphs[0].forward(params, x)):
        np.testing.assert_array_equal(got, expected)


def test_a_layer_with_inputs_cannot_have_none(tmp_path):
    (tmp_path / "m.yaml").write_text("inputs: {x: [B, 4]}\nlayers:\n  - {name: r, op: ReLU, in: []}\n")
    with pytest.raises(ss.SpecError, match=r"layers\[0\] \(r\): key 'in': ReLU takes 1 input\(s\), got 0"):
        ss.load_spec(tmp_path / "m.yaml")


# --- a ViT-style stem -------------------------------------------------------------------------------

class TorchViTStem(torch.nn.Module):
    """torchvision's VisionTransformer up to the encoder input: patches, class token, position embedding."""

    def __init__(self, image_size=64, patch=16, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.class_token = torch.nn.Parameter(torch.zeros(1, 1, hidden))
        self.conv_proj = torch.nn.Conv2d(3, hidden, patch, stride=patch)
        self.encoder = torch.nn.Module()
        seq = (image_size // patch) ** 2 + 1
        self.encoder.pos_embedding = torch.nn.Parameter(torch.empty(1, seq, hidden).normal_(std=0.02))

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return x + self.encoder.pos_embedding


def vit_stem(hidden=32):
    x = ss.Input("B, 3, H, W", name="x")
    token = ss.Parameter([1, 1, hidden])(name="class_token")
    patches = ss.Conv2d(3, hidden, 16, stride=16)(x, name="conv_proj")
    tokens = ss.Transpose(1, 2)(ss.Flatten(2)(patches))
    sequence = ss.Concat(dim=1)(ss.Expand(["B", -1, -1])(token), tokens)
    pos = ss.Parameter([1, "(H//16)*(W//16) + 1", hidden], init={"name": "normal", "std": 0.02})
    return ss.Model(x, ss.Add()(sequence, pos(name="encoder.pos_embedding")))


def test_vit_stem_matches_torchvision_style_module(tmp_path):
    model = vit_stem()
    graph = model.infer()
    assert str(graph.output_shapes[0]) == "(B, floor(H/16)*floor(W/16) + 1, 32)"
    assert str(graph.param_shapes["encoder.pos_embedding"]) == "(1, floor(H/16)*floor(W/16) + 1, 32)"
    bound = graph.bind(H=64, W=64)
    image = RNG.standard_normal((2, 3, 64, 64)).astype(np.float32)
    module = TorchViTStem()
    assert_same_state_layout(bound, module)
    assert_same_init_distribution(bound, module)  # zeros, torch's conv init, N(0, 0.02)
    params = bound.materialize(seed=0)
    assert list(params) == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    assert np.all(params["class_token"] == 0)
    module.load_state_dict(to_torch_state(params), strict=True)
    got = graph.forward(params, image)  # the image's shape binds B, H and W
    np.testing.assert_allclose(got, torch_forward(module, image), rtol=1e-4, atol=1e-5)
    path = tmp_path / "stem.npz"
    ss.save_weights(params, path)
    ss.save_spec(model, tmp_path / "stem.yaml", input_shapes={"x": "B, 3, H, W"})
    again = ss.load_spec(tmp_path / "stem.yaml").infer().bind(H=64, W=64)
    np.testing.assert_array_equal(again.forward(ss.load_weights(path, again), image), got)


def test_vit_stem_pos_embedding_must_fit_the_image():
    graph = vit_stem().infer()
    with pytest.raises(ss.ShapeError, match=r"encoder.pos_embedding .*\(1, 5, 32\)"):
        graph.bind(H=64, W=64).forward(graph.bind(H=32, W=32).materialize(seed=0),
                                       np.zeros((1, 3, 64, 64), np.float32))


@pytest.mark.parametrize("layer", [ss.Arange(5), ss.Arange(0, "T", 2), ss.Parameter([1, "T"], init=("normal", {"std": 0.1})),
                                   ss.Buffer([2], persistent=False, dtype="int64"), ss.Full(["T"], 1.5)])
def test_zero_input_layers_copy_and_pickle(layer):
    import copy
    import pickle

    def made(lay):
        graph = constant(lay)
        graph = graph.bind(T=3) if graph.symbols else graph
        params = graph.materialize(seed=0)
        return graph.output_shapes, params, graph.forward(params)

    shapes, params, out = made(layer)
    for again in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert repr(again) == repr(layer)
        shapes2, params2, out2 = made(again)
        assert shapes2 == shapes and params2.keys() == params.keys()
        np.testing.assert_array_equal(out2, out)


def test_explain_names_a_parameter_node_and_stops_at_it():
    graph = vit_stem().infer()
    text = graph.explain("encoder.pos_embedding")
    assert text.startswith("encoder.pos_embedding (1, floor(H/16)*floor(W/16) + 1, 32): parameter: encoder.pos_embedding")
    assert graph.explain("class_token").splitlines()[-1] == "  class_token  Parameter: (1, 1, 32)"
