"""The conditions ss.from_torch reports hold exactly where torch runs, over a grid of input sizes.

For each imported torchvision / Hugging Face model, ``graph.valid(...)`` at every grid point must equal
whether the torch module runs on meta-device tensors of that shape. The suite checks a bounded slice;
``make conditions-zoo`` (SYMSHAPE_CONDITIONS_FULL=1) checks the full grid and prints each model's
conditions and point count."""

import copy
import functools
import os
import random

import pytest
import torch

import symshape as ss
from symshape.importers._torchvision import ensure_torchvision

ensure_torchvision()
import torchvision.models as tvm  # noqa: E402
import transformers  # noqa: E402
from test_from_torch import torch_runs  # noqa: E402

FULL = os.environ.get("SYMSHAPE_CONDITIONS_FULL") == "1"

TORCHVISION = ["alexnet", "googlenet", "inception_v3", "squeezenet1_0", "squeezenet1_1", "vgg11", "densenet121",
               "resnet18", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x0_5", "regnet_x_400mf",
               "mnasnet0_5", "convnext_tiny", "vit_b_16", "maxvit_t"]
FIXED_SIZE = {"vit_b_16": 224, "maxvit_t": 224}  # ViT asserts the image size; MaxViT's windows fit 224 only
# Left out: Swin branches in Python on the feature size (no window shift where one window covers the map), so
# its imported graph holds where the traced branches are taken, a Guard condition (116 <= H <= 227 for swin_t
# traced at 224), not everywhere torch runs; test_from_torch checks those conditions.


def image_grid(centre: int | None, limit: int = 100) -> list[tuple[int, int]]:
    """(H, W) points: the diagonal 1..limit plus seeded random pairs, or a few around a fixed size."""
    if centre is not None:
        sizes = (centre - 1, centre, centre + 1, centre + 16)
        return [(h, w) for h in sizes for w in sizes] + [(32, 32)]
    rng = random.Random(0)
    diagonal = range(1, limit + 1) if FULL else range(1, limit + 1, 7)
    pairs = [(rng.randint(1, limit), rng.randint(1, limit)) for _ in range(60 if FULL else 8)]
    return [(s, s) for s in diagonal] + pairs


@functools.cache
def torchvision_case(name: str) -> tuple[ss.ShapeGraph, torch.nn.Module]:
    torch.manual_seed(0)
    module = tvm.get_model(name, weights=None).eval()
    graph = ss.from_torch(module, inputs={"x": "B, 3, H, W"}).infer()
    return graph, copy.deepcopy(module).to("meta")


def disagreements_torchvision(name: str) -> tuple[list[tuple[int, int]], int]:
    graph, meta = torchvision_case(name)
    grid = image_grid(FIXED_SIZE.get(name))
    bad = [(h, w) for h, w in grid
           if graph.valid(B=2, H=h, W=w) != torch_runs(meta, x=torch.empty(2, 3, h, w, device="meta"))]
    return bad, len(grid)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_conditions_equal_torch_over_a_grid(name):
    bad, _ = disagreements_torchvision(name)
    assert not bad, f"{name}: valid() differs from torch at (H, W) = {bad}"


# --- Hugging Face, small configs (no weights downloaded) ----------------------------------------------------

@functools.cache
def hf_vit() -> tuple[ss.ShapeGraph, torch.nn.Module]:
    t = transformers
    module = t.ViTModel(t.ViTConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                    intermediate_size=64, image_size=32, patch_size=8)).eval()
    graph = ss.from_torch(module, inputs={"pixel_values": "B, 3, H, W"}).infer()
    return graph, copy.deepcopy(module).to("meta")


@functools.cache
def hf_gpt2() -> tuple[ss.ShapeGraph, torch.nn.Module]:
    t = transformers
    module = t.GPT2Model(t.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=100,
                                      bos_token_id=0, eos_token_id=0)).eval()
    graph = ss.from_torch(module, inputs={"input_ids": "B, T"}).infer()
    return graph, module  # on the CPU: a meta-device run never checks the position ids against the table


def disagreements_hf_vit() -> tuple[list[tuple[int, int]], int]:
    graph, meta = hf_vit()
    grid = image_grid(None, limit=48) + [(32, 32), (31, 32), (32, 33), (40, 40), (64, 64)]
    bad = [(h, w) for h, w in grid
           if graph.valid(B=2, H=h, W=w)
           != torch_runs(meta, pixel_values=torch.empty(2, 3, h, w, device="meta"))]
    return bad, len(grid)


def disagreements_hf_gpt2() -> tuple[list[int], int]:
    graph, module = hf_gpt2()
    grid = list(range(1, 80)) if FULL else [1, 2, 31, 63, 64, 65, 100]
    bad = [t for t in grid
           if graph.valid(B=2, T=t) != torch_runs(module, input_ids=torch.zeros(2, t, dtype=torch.long))]
    return bad, len(grid)


def test_hugging_face_vit_conditions_equal_torch():
    bad, _ = disagreements_hf_vit()
    assert not bad, f"ViTModel: valid() differs from torch at (H, W) = {bad}"


def test_hugging_face_gpt2_conditions_equal_torch():
    bad, _ = disagreements_hf_gpt2()
    assert not bad, f"GPT2Model: valid() differs from torch at T = {bad}"


def main() -> None:
    """Print each model's conditions, the grid points checked and any disagreement (``make conditions-zoo``)."""
    failed = False
    rows = [(name, lambda n=name: torchvision_case(n)[0], lambda n=name: disagreements_torchvision(n))
            for name in TORCHVISION]
    rows += [("hf ViTModel", lambda: hf_vit()[0], disagreements_hf_vit),
             ("hf GPT2Model", lambda: hf_gpt2()[0], disagreements_hf_gpt2)]
    for label, graph, check in rows:
        bad, n = check()
        conditions = [str(c) for c in graph().constraints] or ["(none)"]
        inputs = {k: tuple(str(d) for d in v) for k, v in graph().inputs.items()}
        print(f"{label:20} {n:4} points  conditions: {', '.join(conditions)}  inputs: {inputs}"
              + (f"  DISAGREE at {bad}" if bad else ""), flush=True)
        failed |= bool(bad)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
