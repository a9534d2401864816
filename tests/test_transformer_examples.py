"""The transformer example specs against their reference implementations, built from small configs
(no weights downloaded): GPT-2, BERT and LLaMA against Hugging Face transformers, ViT-B/16 and
ConvNeXt-T against torchvision, the D2L book's transformer encoder against its torch code.

Each is checked for output shapes, state_dict names and shapes (in the reference's order, except
LLaMA's: symshape lists its norms in execution order), default-initialization
distributions, the forward with the reference's own weights (rtol 1e-4), its size conditions against
the reference over a grid of sizes, and (GPT-2, BERT, ViT) mult-adds against FlopCounterMode / 2.
The specs are written at their published sizes; a test loads a spec as a dict and shrinks its
configuration (``small_*``), as each spec's header comment describes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from harness import assert_same_init_distribution, assert_same_state_layout, to_torch_state, torch_forward
from torch.utils.flop_counter import FlopCounterMode

import symshape as ss
from symshape.importers._torchvision import ensure_torchvision
from symshape.spec import read_spec_file

ensure_torchvision()
transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RNG = np.random.default_rng(0)


# --- helpers ---------------------------------------------------------------------------------------

def spec_data(name: str) -> dict[str, Any]:
    return read_spec_file(EXAMPLES / name)


def drop_entries(layers: list[dict[str, Any]], prefix: str, keep: int) -> list[dict[str, Any]]:
    """The entries ``prefix0`` .. ``prefix{keep-1}`` of a repeated run, the others left out."""
    def wanted(entry: dict[str, Any]) -> bool:
        name = str(entry.get("name", ""))
        return not name.startswith(prefix) or int(name[len(prefix):].split(".")[0]) < keep
    return [e for e in layers if wanted(e)]


def entry(layers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(e for e in layers if e.get("name") == name)


def state_of(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def assert_same_state(graph: ss.ShapeGraph, module: torch.nn.Module) -> None:
    """The state_dict names in torch's order, and every shape."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(int(d) for d in s) for k, s in graph.state_shapes.items()}
    assert list(got) == list(expected), f"names differ:\n symshape {list(got)}\n torch    {list(expected)}"
    assert got == expected


def assert_init_like(params: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                     names: list[str] | None = None) -> None:
    """Each tensor's default initialization against the reference's fresh one: constants equal
    exactly, random ones agree in mean and spread (tolerance from the number of draws)."""
    for name in names or list(reference):
        got, want = params[name].astype(np.float64).ravel(), reference[name].astype(np.float64).ravel()
        if np.all(want == want[0]):
            np.testing.assert_array_equal(got, np.full_like(got, want[0]), err_msg=name)
            continue
        tol = 6 / math.sqrt(want.size)
        assert abs(got.std() / want.std() - 1) < max(tol, 0.05), f"{name}: std {got.std()} vs {want.std()}"
        assert abs(got.mean() - want.mean()) < tol * want.std(), f"{name}: mean {got.mean()} vs {want.mean()}"


def torch_macs(run: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        run()
    return counter.get_total_flops() // 2


def runs(call: Callable[..., Any], *args: Any) -> bool:
    """Whether the reference runs on these arguments."""
    try:
        with torch.no_grad():
            call(*args)
    except (RuntimeError, IndexError, ValueError, AssertionError):
        return False
    return True


# --- GPT-2 -----------------------------------------------------------------------------------------

GPT2_SMALL = {"vocab_size": 100, "n_positions": 32, "n_embd": 64, "n_head": 4, "n_inner": 256,
              "attn_scale": 1 / math.sqrt(16), "proj_std": 0.02 / math.sqrt(4)}


def small_gpt2() -> ss.Model:
    """examples/gpt2.yaml at n_layer=2, n_embd=64, n_head=4, vocabulary 100, 32 positions."""
    data = spec_data("gpt2.yaml")
    data["blocks"]["gpt2"]["layers"] = drop_entries(data["blocks"]["gpt2"]["layers"], "h.", 2)
    entry(data["layers"], "transformer").update(GPT2_SMALL)
    entry(data["layers"], "lm_head").update(in_features=64, out_features=100)
    return ss.load_spec(data)


@pytest.fixture(scope="module")
def gpt2():
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=32,
                                     attn_implementation="eager")
    torch.manual_seed(0)
    return small_gpt2().infer(), transformers.GPT2LMHeadModel(config).eval()


def test_gpt2_full_size_spec():
    graph = ss.load_spec(EXAMPLES / "gpt2.yaml").infer()
    assert str(graph.output_shapes[0]) == "(B, T, 50257)"
    assert [c.text for c in graph.constraints] == ["T <= 1024"]
    assert graph.num_params == 124439808  # GPT-2 small: lm_head.weight is wte.weight, counted once


def test_gpt2_init_is_transformers_init(gpt2):
    graph, model = gpt2
    params = graph.bind(T=8).materialize(seed=0)
    assert_init_like(params, state_of(model))
    np.testing.assert_array_equal(params["lm_head.weight"], params["transformer.wte.weight"])  # tied


def test_gpt2_names_and_forward_match_transformers(gpt2):
    graph, model = gpt2
    assert_same_state(graph, model)
    ids = RNG.integers(0, 100, size=(2, 11))
    with torch.no_grad():
        expected = model(torch.from_numpy(ids)).logits.numpy()
    got = graph.forward(state_of(model), ids)
    assert got.shape == (2, 11, 100)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_gpt2_sequence_must_fit_the_position_table(gpt2):
    graph, model = gpt2
    assert [c.text for c in graph.constraints] == ["T <= 32"]
    for t in (1, 5, 32, 33, 40):
        assert graph.valid(T=t) == runs(model, torch.zeros(1, t, dtype=torch.long)), t


@pytest.mark.parametrize("b, t", [(1, 8), (2, 32)])
def test_gpt2_macs_match_flop_counter(gpt2, b, t):
    graph, model = gpt2
    ids = torch.zeros(b, t, dtype=torch.long)
    assert graph.bind(B=b, T=t).costs().macs == torch_macs(lambda: model(ids))


# --- BERT ------------------------------------------------------------------------------------------

BERT_INIT = {"*LayerNorm*": "default", "*.bias": "zeros", "*": {"name": "normal", "std": 0.02}}


def small_bert() -> ss.Model:
    """examples/bert.yaml at hidden 64, 2 layers, 4 heads, intermediate 128, vocabulary 100, 32 positions."""
    data = spec_data("bert.yaml")
    data["blocks"]["encoder"]["layers"] = drop_entries(data["blocks"]["encoder"]["layers"], "layer.", 2)
    entry(data["layers"], "embeddings").update(vocab_size=100, max_position_embeddings=32, hidden_size=64)
    entry(data["layers"], "encoder").update(hidden_size=64, num_attention_heads=4, intermediate_size=128,
                                            attn_scale=0.25)
    entry(data["layers"], "pooler.dense").update(in_features=64, out_features=64)
    return ss.load_spec(data)


@pytest.fixture(scope="module")
def bert():
    config = transformers.BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=128, max_position_embeddings=32, attn_implementation="eager")
    torch.manual_seed(0)
    return small_bert().infer(), transformers.BertModel(config).eval()


def test_bert_full_size_spec():
    graph = ss.load_spec(EXAMPLES / "bert.yaml").infer()
    assert [str(s) for s in graph.output_shapes] == ["(B, T, 768)", "(B, 768)"]
    assert [c.text for c in graph.constraints] == ["T <= 512"]
    assert graph.num_params == 109482240


def test_bert_names_init_and_forward_match_transformers(bert):
    graph, model = bert
    assert_same_state(graph, model)
    params = graph.bind(B=1, T=8).materialize(seed=0, init=BERT_INIT)
    fresh = state_of(model)
    assert_init_like(params, fresh, [n for n in fresh if n != "embeddings.word_embeddings.weight"])
    word = params["embeddings.word_embeddings.weight"]
    assert abs(word.std() / 0.02 - 1) < 0.05  # transformers also zeroes its padding row
    ids = RNG.integers(0, 100, size=(3, 9))
    mask = np.ones((3, 9), dtype=np.int64)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    weights = state_of(model)
    for given in (mask, None):
        with torch.no_grad():
            expected = model(torch.from_numpy(ids), attention_mask=None if given is None else torch.from_numpy(given))
        got = graph.forward(weights, input_ids=ids, attention_mask=np.ones_like(ids) if given is None else given)
        for g, e in zip(got, (expected.last_hidden_state, expected.pooler_output)):
            np.testing.assert_allclose(g, e.numpy(), rtol=1e-4, atol=1e-5)


def test_bert_sequence_must_fit_the_position_table(bert):
    graph, model = bert
    assert [c.text for c in graph.constraints] == ["T <= 32"]
    for t in (1, 32, 33):
        assert graph.valid(T=t) == runs(model, torch.zeros(1, t, dtype=torch.long)), t


@pytest.mark.parametrize("b, t", [(1, 8), (2, 32)])
def test_bert_macs_match_flop_counter(bert, b, t):
    graph, model = bert
    ids = torch.zeros(b, t, dtype=torch.long)
    assert graph.bind(B=b, T=t).costs().macs == torch_macs(lambda: model(ids, attention_mask=torch.ones_like(ids)))


# --- LLaMA -----------------------------------------------------------------------------------------

LLAMA_INIT = {"*norm*": "default", "*": {"name": "normal", "std": 0.02}}


def small_llama(layers: int = 2, heads: Any = 4, kv_heads: Any = 2) -> ss.Model:
    """examples/llama.yaml at hidden 64, head_dim 16, intermediate 128, vocabulary 100, rope_theta 10000."""
    data = spec_data("llama.yaml")
    data["blocks"]["llama"]["layers"] = drop_entries(data["blocks"]["llama"]["layers"], "layers.", layers)
    entry(data["layers"], "model").update(vocab_size=100, hidden_size=64, num_attention_heads=heads,
                                          num_key_value_heads=kv_heads, head_dim=16, intermediate_size=128,
                                          rms_norm_eps=1e-6, ln_theta=math.log(10000.0))
    entry(data["layers"], "lm_head").update(in_features=64, out_features=100)
    return ss.load_spec(data)


def llama_reference(layers: int = 2, heads: int = 4, kv_heads: int = 2) -> torch.nn.Module:
    config = transformers.LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=16,
                                      attn_implementation="eager")
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def test_llama_full_size_spec():
    graph = ss.load_spec(EXAMPLES / "llama.yaml").infer()
    assert str(graph.output_shapes[0]) == "(B, T, 128256)"
    assert graph.num_params == 8030261248  # Llama-3-8B


def test_llama_names_init_and_forward_match_transformers():
    graph, model = small_llama().infer(), llama_reference()
    expected_state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got_state = {k: tuple(int(d) for d in s) for k, s in graph.state_shapes.items()}
    assert got_state == expected_state  # same names and shapes; the order is execution order (norms first)
    assert_init_like(graph.bind(T=4).materialize(seed=0, init=LLAMA_INIT), state_of(model))
    ids = RNG.integers(0, 100, size=(2, 13))
    with torch.no_grad():
        expected = model(torch.from_numpy(ids)).logits.numpy()
    np.testing.assert_allclose(graph.forward(state_of(model), ids), expected, rtol=1e-4, atol=1e-5)


def test_llama_query_heads_must_be_a_multiple_of_the_key_value_heads():
    graph = small_llama(layers=1, heads="NH", kv_heads="KV").infer()
    assert [c.text for c in graph.constraints] == ["NH % KV == 0"]
    for heads, kv_heads in [(4, 2), (4, 4), (4, 3), (8, 3), (2, 4), (8, 6), (16, 4)]:  # heads divide hidden 64
        works = runs(lambda h, kv: llama_reference(1, h, kv)(torch.zeros(1, 3, dtype=torch.long)), heads, kv_heads)
        assert graph.valid(NH=heads, KV=kv_heads) == works, (heads, kv_heads)


# --- ViT-B/16 --------------------------------------------------------------------------------------

VIT_INIT = {"conv_proj.weight": {"name": "trunc_normal", "std": math.sqrt(1 / (3 * 16 * 16))},
            "conv_proj.bias": "zeros", "*.mlp.*.weight": "xavier_uniform",
            "*.mlp.*.bias": {"name": "normal", "std": 1e-6}, "heads.*": "zeros"}


def small_vit() -> ss.Model:
    """examples/vit_b_16.yaml at 32x32 images (5 tokens), hidden 64, 2 layers, 4 heads, mlp 128, 10 classes."""
    data = spec_data("vit_b_16.yaml")
    data["blocks"]["encoder"]["layers"] = drop_entries(data["blocks"]["encoder"]["layers"], "layers.encoder_layer_", 2)
    entry(data["layers"], "class_token")["shape"] = [1, 1, 64]
    entry(data["layers"], "conv_proj")["out_channels"] = 64
    entry(data["layers"], "encoder").update(seq_length=5, hidden_dim=64, num_heads=4, mlp_dim=128)
    entry(data["layers"], "heads.head").update(in_features=64, out_features=10)
    return ss.load_spec(data)


@pytest.fixture(scope="module")
def vit():
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                              num_classes=10).eval()
    return small_vit().infer(), model


def vit_forward_without_size_assert(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """torchvision's VisionTransformer.forward without _process_input's assertion H == W == image_size."""
    x = model.conv_proj(x)
    n = x.shape[0]
    x = x.reshape(n, model.hidden_dim, -1).permute(0, 2, 1)
    x = model.encoder(torch.cat([model.class_token.expand(n, -1, -1), x], dim=1))
    return model.heads(x[:, 0])


def test_vit_full_size_spec():
    graph = ss.load_spec(EXAMPLES / "vit_b_16.yaml").infer()
    assert str(graph.output_shapes[0]) == "(B, 1000)"
    assert [c.text for c in graph.constraints] == ["H >= 16", "W >= 16", "197 == floor(H/16)*floor(W/16) + 1"]
    assert graph.num_params == 86567656
    assert graph.valid(H=224, W=224) and graph.valid(H=112, W=448) and not graph.valid(H=240, W=224)


def test_vit_names_init_and_forward_match_torchvision(vit):
    graph, model = vit
    assert_same_state(graph, model)
    assert_init_like(graph.bind(B=1, H=32, W=32).materialize(seed=0, init=VIT_INIT), state_of(model))
    for p in model.heads.parameters():  # torchvision's head starts at zero: give it values to compare
        torch.nn.init.normal_(p)
    image = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(graph.forward(state_of(model), image), expected, rtol=1e-4, atol=1e-5)


def test_vit_patch_grid_must_fit_the_position_table(vit):
    graph, model = vit
    for h, w in [(32, 32), (47, 40), (16, 64), (64, 16), (48, 32), (16, 16), (15, 64), (32, 31)]:
        x = torch.zeros(1, 3, h, w)
        assert graph.valid(H=h, W=w) == runs(vit_forward_without_size_assert, model, x), (h, w)
        if runs(model, x):  # torchvision also pins the image size
            assert graph.valid(H=h, W=w)


@pytest.mark.parametrize("b, h, w", [(1, 32, 32), (3, 16, 64)])
def test_vit_macs_match_flop_counter(vit, b, h, w):
    """Counted with grad mode on and the math attention kernel: under no_grad, torch's fused attention
    fast path, and on CPU its fused scaled_dot_product_attention, are not counted by FlopCounterMode."""
    graph, model = vit
    x = torch.zeros(b, 3, h, w)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        vit_forward_without_size_assert(model, x)
    assert graph.bind(B=b, H=h, W=w).costs().macs == counter.get_total_flops() // 2


# --- ConvNeXt-T ------------------------------------------------------------------------------------

CONVNEXT_INIT = {"*layer_scale": "default", "*.bias": "zeros", "*block.2.weight": "default",
                 "features.0.1.weight": "default", "features.[246].0.weight": "default", "classifier.0.weight": "default",
                 "*": {"name": "trunc_normal", "std": 0.02}}


def test_convnext_tiny_matches_torchvision():
    """The published size, run at 32x32 (each stage at 8, 4, 2, 1 pixels)."""
    from torchvision.models import convnext_tiny

    torch.manual_seed(0)
    model = convnext_tiny().eval()
    graph = ss.load_spec(EXAMPLES / "convnext_tiny.yaml").infer()
    assert [c.text for c in graph.constraints] == ["H >= 32", "W >= 32"]
    assert graph.num_params == 28589128
    assert_same_state(graph, model)
    names = ["features.0.0.weight", "features.0.1.weight", "features.1.0.layer_scale", "features.1.0.block.0.weight",
             "features.1.0.block.2.weight", "features.3.2.block.3.weight", "features.4.0.weight",
             "features.4.1.weight", "features.4.1.bias", "classifier.0.weight", "classifier.2.weight"]
    params = graph.bind(B=1, H=32, W=32).materialize(seed=0, init=CONVNEXT_INIT, only=names)
    assert_init_like(params, state_of(model), names)
    image = RNG.standard_normal((2, 3, 32, 40)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(graph.forward(state_of(model), image), expected, rtol=1e-4, atol=1e-5)
    for h, w in [(32, 32), (31, 64), (64, 31), (63, 33)]:
        assert graph.valid(H=h, W=w) == runs(model, torch.zeros(1, 3, h, w)), (h, w)


# --- the D2L book's transformer encoder ------------------------------------------------------------

class PositionalEncoding(torch.nn.Module):
    """D2L 11.6: X + P[:, :T], P the sinusoidal table of max_len positions (dropout: identity in eval)."""

    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.P = torch.zeros((1, max_len, num_hiddens))
        X = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1) / torch.pow(
            10000, torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
        self.P[:, :, 0::2] = torch.sin(X)
        self.P[:, :, 1::2] = torch.cos(X)

    def forward(self, X):
        return self.dropout(X + self.P[:, :X.shape[1], :].to(X.device))


class MultiHeadAttention(torch.nn.Module):
    """D2L 11.5 (valid_lens=None): heads folded into the batch, DotProductAttention, heads unfolded."""

    def __init__(self, num_hiddens, num_heads, dropout, bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.dropout = torch.nn.Dropout(dropout)
        self.W_q = torch.nn.LazyLinear(num_hiddens, bias=bias)
        self.W_k = torch.nn.LazyLinear(num_hiddens, bias=bias)
        self.W_v = torch.nn.LazyLinear(num_hiddens, bias=bias)
        self.W_o = torch.nn.LazyLinear(num_hiddens, bias=bias)

    def forward(self, queries, keys, values):
        queries, keys, values = (self.transpose_qkv(w(t)) for w, t in
                                 ((self.W_q, queries), (self.W_k, keys), (self.W_v, values)))
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        output = torch.bmm(self.dropout(torch.softmax(scores, dim=-1)), values)
        return self.W_o(self.transpose_output(output))

    def transpose_qkv(self, X):
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)


class AddNorm(torch.nn.Module):
    def __init__(self, norm_shape, dropout):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.ln = torch.nn.LayerNorm(norm_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class PositionWiseFFN(torch.nn.Module):
    def __init__(self, ffn_num_hiddens, ffn_num_outputs):
        super().__init__()
        self.dense1 = torch.nn.LazyLinear(ffn_num_hiddens)
        self.relu = torch.nn.ReLU()
        self.dense2 = torch.nn.LazyLinear(ffn_num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class TransformerEncoderBlock(torch.nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X):
        Y = self.addnorm1(X, self.attention(X, X, X))
        return self.addnorm2(Y, self.ffn(Y))


class TransformerEncoder(torch.nn.Module):
    """D2L 11.7's TransformerEncoder (without valid_lens)."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout, use_bias=False):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = torch.nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blks = torch.nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module("block" + str(i), TransformerEncoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias))

    def forward(self, X):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        for blk in self.blks:
            X = blk(X)
        return X


def test_d2l_transformer_encoder_matches_the_books_code():
    """The chapter's check: TransformerEncoder(200, 24, 48, 8, 2, 0.5) on (2, 100) token ids."""
    graph = ss.load_spec(EXAMPLES / "d2l_transformer.yaml").infer()
    assert str(graph.output_shapes[0]) == "(B, T, 24)"
    assert [c.text for c in graph.constraints] == ["T <= 1000"]
    ids = RNG.integers(0, 200, size=(2, 100))
    torch.manual_seed(0)
    module = TransformerEncoder(200, 24, 48, 8, 2, 0.5)
    torch_forward(module, ids)  # materializes the lazy layers
    bound = graph.bind(B=2, T=100)
    assert_same_state_layout(bound, module)
    assert_same_init_distribution(bound, module)  # torch's defaults
    params = bound.materialize(seed=0)
    module.load_state_dict(to_torch_state(params), strict=True)
    np.testing.assert_allclose(graph.forward(params, ids), torch_forward(module, ids), rtol=1e-4, atol=1e-5)
    for t in (1000, 1001):
        assert graph.valid(T=t) == runs(module, torch.zeros(1, t, dtype=torch.long)), t
