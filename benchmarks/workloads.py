"""Workload definitions shared by the benchmarks: symshape models and their torch equivalents."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import symshape as ss

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from models.torch_models import ResNet50  # noqa: E402


def resnet50() -> ss.Model:
    return ss.load_spec(ROOT / "examples" / "resnet50.yaml")


def deep_mlp(n: int) -> ss.Sequential:
    """n lazy Linear + ReLU blocks of width 64."""
    return ss.Sequential(*[layer for _ in range(n) for layer in (ss.LazyLinear(64), ss.ReLU())])


def torch_deep_mlp(n: int) -> nn.Sequential:
    return nn.Sequential(*[layer for _ in range(n) for layer in (nn.LazyLinear(64), nn.ReLU())])


def d2l_mlp() -> ss.Sequential:
    return ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10))


def torch_d2l_mlp() -> nn.Sequential:
    return nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))


def lenet() -> tuple[ss.Model, nn.Module]:
    from models.torch_models import LeNetSpec

    return ss.load_spec(ROOT / "examples" / "lenet.yaml"), LeNetSpec()


def gpt2_small(layers: int = 12) -> tuple[ss.Model, nn.Module]:
    """A GPT-2-small-shaped encoder stack: token + position embeddings, 12 blocks of width 768."""
    tokens = ss.Input("B, T", name="tokens", dtype="int64")
    positions = ss.Input("B, T", name="positions", dtype="int64")
    h = ss.Add()(ss.Embedding(50257, 768)(tokens, name="wte"), ss.Embedding(1024, 768)(positions, name="wpe"),
                 name="embed")
    for i in range(layers):
        h = ss.TransformerEncoderLayer(768, 12, 3072, activation="gelu", batch_first=True, norm_first=True)(
            h, name=f"h.{i}")
    h = ss.LayerNorm(768)(h, name="ln_f")
    model = ss.Model([tokens, positions], ss.Linear(768, 50257, bias=False)(h, name="lm_head"))

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(50257, 768), nn.Embedding(1024, 768)
            self.h = nn.ModuleList([nn.TransformerEncoderLayer(768, 12, 3072, activation="gelu", batch_first=True,
                                                               norm_first=True) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(768)
            self.lm_head = nn.Linear(768, 50257, bias=False)

        def forward(self, tokens, positions):
            h = self.wte(tokens) + self.wpe(positions)
            for block in self.h:
                h = block(h)
            return self.lm_head(self.ln_f(h))

    return model, GPT2()


def bilstm() -> tuple[ss.Model, nn.Module]:
    x = ss.Input("B, T, 128", name="x")
    out = ss.LSTM(128, 256, num_layers=2, batch_first=True, bidirectional=True)(x, name="lstm")
    model = ss.Model(x, out[0])

    class BiLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(128, 256, num_layers=2, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.lstm(x)[0]

    return model, BiLSTM()


def llama70b_shaped(layers: int = 80) -> ss.Model:
    """A LLaMA-70B-shaped stack (grouped-query attention projections and a gated MLP as Linear
    layers, LayerNorm without bias standing in for RMSNorm): for analysis only, never allocated."""
    d, kv, ff, vocab = 8192, 1024, 28672, 32000
    tokens = ss.Input("B, T", name="tokens", dtype="int64")
    h = ss.Embedding(vocab, d)(tokens, name="embed_tokens")
    for i in range(layers):
        p = f"layers.{i}"
        x = ss.LayerNorm(d, bias=False)(h, name=f"{p}.input_layernorm")
        q = ss.Linear(d, d, bias=False)(x, name=f"{p}.self_attn.q_proj")
        k = ss.Linear(d, kv, bias=False)(x, name=f"{p}.self_attn.k_proj")
        v = ss.Linear(d, kv, bias=False)(x, name=f"{p}.self_attn.v_proj")
        mixed = ss.Concat(-1)(q, k, v, name=f"{p}.self_attn.qkv")
        attn = ss.Linear(d + 2 * kv, d, bias=False)(mixed, name=f"{p}.self_attn.o_proj")
        h = ss.Add()(h, attn, name=f"{p}.attn_residual")
        x = ss.LayerNorm(d, bias=False)(h, name=f"{p}.post_attention_layernorm")
        gate = ss.Linear(d, ff, bias=False)(x, name=f"{p}.mlp.gate_proj")
        up = ss.Linear(d, ff, bias=False)(x, name=f"{p}.mlp.up_proj")
        act = ss.Mul()(ss.SiLU()(gate), up, name=f"{p}.mlp.act")
        down = ss.Linear(ff, d, bias=False)(act, name=f"{p}.mlp.down_proj")
        h = ss.Add()(h, down, name=f"{p}.mlp_residual")
    h = ss.LayerNorm(d, bias=False)(h, name="norm")
    return ss.Model(tokens, ss.Linear(d, vocab, bias=False)(h, name="lm_head"))


def torch_resnet50() -> nn.Module:
    return ResNet50().eval()


__all__ = ["resnet50", "deep_mlp", "torch_deep_mlp", "d2l_mlp", "lenet", "gpt2_small", "bilstm", "llama70b_shaped",
           "torch_resnet50", "torch"]
