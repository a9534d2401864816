"""ss.from_torch against torch: torchvision and Hugging Face models, symbolic sizes, conditions, errors."""

import copy
import inspect
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import symshape as ss
from symshape.importers._torchvision import ensure_torchvision

ensure_torchvision()
import torchvision.models as tvm  # noqa: E402
import transformers  # noqa: E402


def weights(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def assert_matches_torch(module, model, arrays):
    """Analysis without errors; parameter names and shapes equal state_dict(); the numpy forward with the
    module's own weights equals torch's eval output for every output."""
    graph = model.infer()
    assert not graph.errors, graph.errors
    bound = graph.bind_from_arrays(arrays)
    assert {k: tuple(v) for k, v in bound.state_shapes.items()} == \
        {k: tuple(v.shape) for k, v in module.state_dict().items()}
    ys = bound.forward(weights(module), **arrays)
    ys = ys if isinstance(ys, (tuple, list)) else [ys]
    with torch.no_grad():
        ref = module(**{k: torch.from_numpy(v) for k, v in arrays.items()})
    refs = [ref] if isinstance(ref, torch.Tensor) else [ref[name] for name in model.output_names]
    assert len(ys) == len(refs)
    for y, r in zip(ys, refs):
        r = r.numpy()
        np.testing.assert_allclose(y, r, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(r).max())))
    return graph


# --- torchvision -------------------------------------------------------------------------------------

TORCHVISION = [("resnet18", 64), ("mobilenet_v3_small", 32), ("efficientnet_b0", 32), ("convnext_tiny", 32),
               ("densenet121", 32), ("vit_b_32", 224)]


@pytest.mark.parametrize("name, size", TORCHVISION)
def test_torchvision_model_matches_torch(name, size):
    torch.manual_seed(0)
    module = tvm.get_model(name, weights=None).eval()
    model = ss.from_torch(module, inputs={"x": "B, 3, H, W"})
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    graph = assert_matches_torch(module, model, {"x": x})
    assert graph.num_params == sum(p.numel() for p in module.parameters())


def test_resnet18_parameters_and_costs_symbolic():
    model = ss.from_torch(tvm.resnet18(), inputs={"x": "B, 3, H, W"})
    graph = model.infer()
    assert graph.output_shapes == [(ss.sym("B"), 1000)]
    assert "layer1.0.conv1.weight" in graph.param_shapes
    assert graph.bind(B=1, H=224, W=224).costs().macs == 1814073344  # torchinfo's 1.81 G


def test_vit_size_assertion_fixes_the_input_size():
    model = ss.from_torch(tvm.vit_b_32(), inputs={"x": "B, 3, H, W"})
    assert model.infer().inputs["x"] == (ss.sym("B"), 3, 224, 224)


def test_import_factory_torchvision():
    model = ss.import_factory("torchvision.models:resnet18", {"x": "B, 3, H, W"})
    assert model.infer().num_params == 11689512


def test_import_factory_bad_target():
    with pytest.raises(ss.SpecError, match="package.module:factory"):
        ss.import_factory("torchvision.models.resnet18", {"x": "B, 3, H, W"})
    with pytest.raises(ss.SpecError, match="cannot import 'torchvision.models:no_such_model'"):
        ss.import_factory("torchvision.models:no_such_model", {"x": "B, 3, H, W"})


def fresh_python_prints(code: str) -> str:
    """What ``code`` prints when run in a new interpreter, which must succeed."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_from_torch_stays_the_function_after_the_importer_modules_are_imported():
    """A submodule named like the function used to replace it on the package once imported."""
    code = ("import symshape.importers.eager_trace, symshape.importers.dynamo; import symshape as ss, torch; "
            "print(ss.from_torch(torch.nn.Linear(3, 4), {'input': 'B, 3'}).infer().num_params)")
    assert fresh_python_prints(code) == "16"


def test_a_bare_layer_module_keeps_its_state_dict_names():
    """The root's own weights are named as in its state_dict, once (they were a node "fold" plus the
    unclaimed tensors again: twice the parameters)."""
    for module, shape in ((nn.Linear(3, 4), "B, 3"), (nn.LayerNorm(8), "B, 8"), (nn.GroupNorm(2, 4), "B, 4, H, W")):
        name = next(iter(inspect.signature(module.forward).parameters))
        g = ss.from_torch(module, {name: shape}).infer()
        assert sorted(g.param_specs) == sorted(module.state_dict())
        assert g.num_params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("module, shape", [
    (nn.Conv2d(3, 8, 3, padding=1), "B, 3, H, W"), (nn.LSTM(8, 16, batch_first=True), "B, T, 8"),
    (nn.BatchNorm2d(3), "B, 3, H, W"), (nn.MultiheadAttention(16, 2, batch_first=True), "B, T, 16"),
])
def test_a_bare_layer_whose_parameters_need_a_node_name_says_what_to_import_instead(module, shape):
    """Such a module is one symshape layer, whose parameters are named <node>.<name>: the error gives the
    symshape layer to write (a constructor that works) and the container whose import keeps the names."""
    names = list(inspect.signature(module.forward).parameters)
    inputs = {n: shape for n in names[:3 if isinstance(module, nn.MultiheadAttention) else 1]}
    with pytest.raises(ss.SpecError) as caught:
        ss.from_torch(module, inputs)
    message = str(caught.value)
    assert f"a bare {type(module).__name__} with parameters" in message and "nn.Sequential(module)" in message
    layer = message.split("use its symshape layer, ss.")[1].split(", or import")[0]
    assert type(eval("ss." + layer)).__name__ == type(module).__name__
    if not isinstance(module, nn.MultiheadAttention):
        g = ss.from_torch(nn.Sequential(module), {"input": shape}).infer()
        assert sorted(g.param_specs) == sorted(f"0.{k}" for k in module.state_dict())


def test_the_garbage_collector_is_paused_only_while_importing():
    import gc

    class Recording(nn.Module):
        seen = []

        def forward(self, x):
            self.seen.append(gc.isenabled())
            return x + 1

    try:
        ss.from_torch(Recording(), {"x": "B, 3"})
        assert Recording.seen == [False] and gc.isenabled()
        with pytest.raises(ss.SpecError):
            ss.from_torch(nn.Conv2d(3, 4, 3), {"input": "B, 3, H, W"})
        assert gc.isenabled()
        gc.disable()  # the caller's choice stands
        ss.from_torch(nn.Linear(3, 4), {"input": "B, 3"})
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_torchvision_models_import_without_compiled_ops_in_a_fresh_process():
    code = ("from symshape.importers._torchvision import ensure_torchvision; ensure_torchvision(); "
            "import torchvision.models as m; print(m.resnet18().fc.out_features)")
    assert fresh_python_prints(code) == "1000"


# --- conditions hold exactly where torch runs (meta device) --------------------------------------------

def torch_runs(module, **inputs):
    try:
        with torch.no_grad():
            module(**inputs)
    except (RuntimeError, ValueError, IndexError, AssertionError):
        return False
    return True


def test_resnet18_conditions_equal_torch_over_a_grid():
    module = tvm.resnet18().eval()
    graph = ss.from_torch(module, inputs={"x": "B, 3, H, W"}).infer()
    meta = copy.deepcopy(module).to("meta")
    for h in range(1, 40, 4):
        for w in (1, 7, 33):
            x = torch.empty(1, 3, h, w, device="meta")
            assert graph.valid(B=1, H=h, W=w) == torch_runs(meta, x=x), (h, w)


def test_vit_conditions_equal_torch():
    module = tvm.vit_b_32().eval()
    graph = ss.from_torch(module, inputs={"x": "B, 3, H, W"}).infer()
    meta = copy.deepcopy(module).to("meta")
    for h, w in ((224, 224), (223, 224), (224, 225), (256, 256), (32, 32)):
        x = torch.empty(2, 3, h, w, device="meta")
        symshape_ok = graph.inputs["x"][2:] == (h, w)
        assert symshape_ok == torch_runs(meta, x=x), (h, w)


# --- Hugging Face transformers, small configs (no weights downloaded) --------------------------------------

def hf_models():
    t = transformers
    ids = {"input_ids": "B, T"}
    return {
        "gpt2": (lambda: t.GPT2Model(t.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=100,
                                                  bos_token_id=0, eos_token_id=0)), ids),
        "bert": (lambda: t.BertModel(t.BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                                  intermediate_size=64, vocab_size=100,
                                                  max_position_embeddings=64)), ids),
        "llama": (lambda: t.LlamaModel(t.LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                                     num_key_value_heads=2, intermediate_size=64, vocab_size=100,
                                                     max_position_embeddings=64)), ids),
        "vit": (lambda: t.ViTModel(t.ViTConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                               intermediate_size=64, image_size=32, patch_size=8)),
                {"pixel_values": "B, 3, H, W"}),
        "t5": (lambda: t.T5Model(t.T5Config(num_layers=1, num_decoder_layers=1, d_model=32, d_kv=8, num_heads=4,
                                            d_ff=64, vocab_size=100, decoder_start_token_id=0)),
               {"input_ids": "B, T", "decoder_input_ids": "B, S"}),
    }


def hf_arrays(inputs):
    rng = np.random.default_rng(0)
    out = {}
    for i, name in enumerate(inputs):
        if name == "pixel_values":
            out[name] = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
        else:
            out[name] = rng.integers(0, 100, (2, 7 - 2 * i))
    return out


@pytest.mark.parametrize("name", ["gpt2", "bert", "llama", "vit", "t5"])
def test_hugging_face_model_matches_torch(name):
    factory, inputs = hf_models()[name]
    torch.manual_seed(0)
    module = factory().eval()
    model = ss.from_torch(module, inputs=inputs)
    assert model.inputs[0].dtype == ("float32" if name == "vit" else "int64")
    assert_matches_torch(module, model, hf_arrays(inputs))


@pytest.mark.parametrize("name", ["gpt2", "bert", "llama", "vit", "t5"])
def test_hugging_face_models_are_traced_by_fx_and_hold_at_size_one(name, monkeypatch):
    """Hugging Face models go through the fx tracer (about 10x faster than TorchDynamo); branches that
    only size 1 takes the other way (``if batch_size != position_ids.shape[0]``, SDPA's ``is_causal`` for
    one query) are traced as torch.export traces them, and the result still equals torch at size 1."""
    import symshape.importers.dynamo as dynamo

    def no_dynamo(*args, **kwargs):
        raise AssertionError("captured with TorchDynamo")

    monkeypatch.setattr(dynamo, "convert_captured", no_dynamo)
    factory, inputs = hf_models()[name]
    torch.manual_seed(0)
    module = factory().eval()
    model = ss.from_torch(module, inputs=inputs)
    one = {k: v[:1, :1] if v.ndim == 2 else v[:1] for k, v in hf_arrays(inputs).items()}
    assert_matches_torch(module, model, one)


def test_bert_sequence_condition_equals_torch():
    factory, inputs = hf_models()["bert"]
    module = factory().eval()
    graph = ss.from_torch(module, inputs=inputs).infer()
    assert [str(c) for c in graph.constraints] == ["T <= 64"]
    meta = copy.deepcopy(module).to("meta")
    for t in (1, 2, 63, 64, 65, 100):
        ids = torch.zeros(2, t, dtype=torch.long, device="meta")
        assert graph.valid(B=2, T=t) == torch_runs(meta, input_ids=ids), t


def test_gpt2_position_table_bounds_the_sequence_exactly_as_torch():
    """GPT-2 looks its positions up as ``wpe(arange(T))``: the ids' range makes ``T <= n_positions`` a
    condition (on meta tensors torch cannot see it: the index check needs data, so real ones here)."""
    factory, inputs = hf_models()["gpt2"]
    module = factory().eval()
    graph = ss.from_torch(module, inputs=inputs).infer()
    assert [str(c) for c in graph.constraints] == ["T <= 64"]
    for t in (1, 63, 64, 65, 80):
        ids = torch.zeros(1, t, dtype=torch.long)
        assert graph.valid(B=1, T=t) == torch_runs(module, input_ids=ids), t
    with pytest.raises(ss.ShapeError, match="run from 0 to 64"):
        graph.bind(B=1, T=65)


def test_gpt2_lm_head_tied_to_the_token_table_counts_once_and_materializes_tied():
    """GPT2LMHeadModel ties lm_head.weight to transformer.wte.weight: both names are in state_dict, torch
    counts the tensor once, and a materialized model holds one array under both names."""
    t = transformers
    module = t.GPT2LMHeadModel(t.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=100,
                                            bos_token_id=0, eos_token_id=0)).eval()
    model = ss.from_torch(module, inputs={"input_ids": "B, T"})
    ids = np.random.default_rng(0).integers(0, 100, (2, 9))
    graph = assert_matches_torch(module, model, {"input_ids": ids})
    assert graph.num_params == sum(p.numel() for p in module.parameters())
    w = graph.bind(B=1, T=4).materialize(seed=0)
    assert np.shares_memory(w["lm_head.weight"], w["transformer.wte.weight"]) or \
        np.array_equal(w["lm_head.weight"], w["transformer.wte.weight"])



# --- the parts of the conversion ------------------------------------------------------------------------

class Heads(nn.Module):
    """Size arithmetic as attention code writes it."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(12)

    def forward(self, x):
        b, t, d = x.shape
        h = self.norm(x).view(b, t, 4, d // 4).transpose(1, 2)
        return h.reshape(b * 4, t, -1), x.size(-1) * torch.ones(1)


def test_size_arithmetic_becomes_symbolic_sizes():
    model = ss.from_torch(Heads(), inputs={"x": "B, T, D"})
    view = next(n.layer for n in model.nodes if n.layer.op == "Reshape")
    assert [str(d) for d in view.shape] == ["B", "T", "4", "floor(D/4)"]
    graph = model.infer()
    B, T = ss.sym("B"), ss.sym("T")
    assert graph.inputs["x"] == (B, T, 12)  # the LayerNorm fixes D
    assert graph.output_shapes[0] == (4 * B, T, 3)
    assert model.output_names == ["output_0", "output_1"]


def test_an_imported_model_is_an_ordinary_spec(tmp_path):
    model = ss.from_torch(Heads(), inputs={"x": "B, T, D"})
    ss.save_spec(model, tmp_path / "heads.yaml")
    back = ss.load_spec(tmp_path / "heads.yaml").infer()
    assert back.output_shapes == model.infer().output_shapes
    assert back.param_shapes == {"norm.weight": (12,), "norm.bias": (12,)}


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.proj = nn.Linear(8, 8)

    def forward(self, input_ids, features, scale: float = 2.0):
        h = self.emb(input_ids)
        return {"mixed": self.proj(h) + features * scale, "pooled": torch.mean(h, dim=1)}


def test_several_keyword_and_int_inputs_dict_outputs():
    module = TwoInputs().eval()
    model = ss.from_torch(module, inputs={"features": "B, T, 8", "input_ids": "B, T"})
    assert [(i.name, i.dtype) for i in model.inputs] == [("features", "float32"), ("input_ids", "int64")]
    assert model.output_names == ["mixed", "pooled"]
    rng = np.random.default_rng(0)
    assert_matches_torch(module, model, {"features": rng.standard_normal((2, 5, 8)).astype(np.float32),
                                         "input_ids": rng.integers(0, 50, (2, 5))})


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.token = nn.Parameter(torch.randn(1, 4))

    def forward(self, x):
        return torch.cat([self.token.expand(x.shape[0], -1), self.fc(self.fc(x))], dim=1)


def test_shared_module_and_parameter_attribute():
    module = Shared().eval()
    model = ss.from_torch(module, inputs={"x": "B, 4"})
    assert [n.owner for n in model.nodes if n.layer.op == "Linear"] == [None, "fc"]
    graph = assert_matches_torch(module, model, {"x": np.ones((3, 4), np.float32)})
    assert graph.output_shapes == [(ss.sym("B"), 8)]


class Unmapped(nn.Module):
    def forward(self, x):
        y = torch.special.bessel_j0(x)
        return torch.fft.fft(x).real + torch.special.bessel_j0(y)


def test_unsupported_nodes_are_listed_in_one_error():
    with pytest.raises(ss.SpecError, match=r"(?s)2 node\(s\).*bessel_j0 .*test_from_torch.py, line \d+.*fft"):
        ss.from_torch(Unmapped(), inputs={"x": "B, D"})


def test_bad_inputs():
    with pytest.raises(ss.SpecError, match="has no argument 'y'"):
        ss.from_torch(nn.Linear(2, 3), inputs={"y": "B, 2"})
    with pytest.raises(ss.SpecError, match="expected a torch.nn.Module"):
        ss.from_torch(lambda x: x, inputs={"x": "B"})


def test_without_torch_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ss.SpecError, match=r"pip install 'symshape\[torch\]'"):
        ss.from_torch(object(), inputs={"x": "B"})


def test_importing_symshape_does_not_import_torch():
    code = "import sys, symshape; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# --- Swin: symbolic padding to the window, the shifted-window mask, a branch on the sizes ----------------

def small_swin():
    """torchvision's Swin with swin_t's structure (patch 4, window 7, a shifted block, a PatchMerging) but two
    small stages."""
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    return SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 1], num_heads=[1, 2], window_size=[7, 7],
                           num_classes=10).eval()


@pytest.fixture(scope="module")
def swin():
    module = small_swin()
    return module, ss.from_torch(module, inputs={"x": "B, 3, H, W"})


def test_swin_matches_torch_with_and_without_padding(swin):
    module, model = swin
    for h, w in ((224, 224), (200, 172), (60, 61)):  # 56 and 28 are multiples of the window; the rest padded
        x = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32)
        assert_matches_torch(module, model, {"x": x})


def test_swin_states_the_sizes_its_traced_branch_holds_for(swin):
    """Swin shifts its windows only where the window is smaller than the (padded) feature map, a branch in
    Python on the sizes: the graph traced at 224 holds where each branch goes the same way (the second
    stage's map, ceil(floor(H/4)/2), larger than 7) and its conditions say so; torch runs there too."""
    module, model = swin
    graph = model.infer()
    assert [str(c) for c in graph.constraints] == ["H >= 60", "W >= 60"]
    meta = copy.deepcopy(module).to("meta")
    for h, w in ((224, 224), (100, 60), (60, 1000)):
        assert graph.valid(B=1, H=h, W=w) and torch_runs(meta, x=torch.empty(1, 3, h, w, device="meta"))
    for h, w in ((59, 224), (224, 31), (7, 7)):  # torch runs other code (no shift): the graph says it does not hold
        assert not graph.valid(B=1, H=h, W=w)
    with pytest.raises(ss.ShapeMismatchError, match=r"the branch at swin_transformer\.py:\d+ is traced where .* "
                                                    r"torch runs other code at these sizes: .*sizes="):
        graph.bind(B=1, H=31, W=224)


def test_swin_imported_at_other_sizes_takes_their_branches():
    """Imported with example sizes 31 x 33, the first stage shifts along W only and the second not at all."""
    module = small_swin()
    model = ss.from_torch(module, inputs={"x": "B, 3, H, W"}, sizes={"H": 31, "W": 33})
    assert [str(c) for c in model.infer().constraints] == ["H >= 4", "H <= 31", "W >= 32", "W <= 59"]
    for h, w in ((31, 33), (4, 59)):
        x = np.random.default_rng(1).standard_normal((2, 3, h, w)).astype(np.float32)
        assert_matches_torch(module, model, {"x": x})


class SizeOneShortcut(nn.Module):
    """A branch only size 1 takes the other way (a no-op expand skipped), and one that larger sizes decide."""

    def forward(self, x):
        scale = torch.ones(1, x.size(1))
        if x.size(0) != scale.size(0):
            scale = scale.expand(x.size(0), -1)
        out = x * scale
        if x.size(1) > 4:
            out = out + 1
        return out


def test_a_branch_only_size_one_takes_otherwise_is_not_a_condition_as_in_torch_export():
    graph = ss.from_torch(SizeOneShortcut(), {"x": "B, D"}).infer()
    assert [str(c) for c in graph.constraints] == ["D >= 5"]  # the traced D > 4 branch; B is free
    for b, d in ((1, 5), (1, 9), (3, 6)):
        x = np.random.default_rng(b).standard_normal((b, d)).astype(np.float32)
        np.testing.assert_allclose(graph.bind(B=b, D=d).forward({}, x),
                                   SizeOneShortcut()(torch.from_numpy(x)).numpy(), rtol=1e-6)
    assert not graph.valid(B=1, D=4)


def test_swin_v2_cosine_attention_matches_torch():
    """Swin V2: F.normalize (cosine attention), an MLP called on a buffer (the continuous position bias) and
    ``qkv_bias[a:b].zero_()`` on a clone of a parameter."""
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

    torch.manual_seed(0)
    module = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 1], num_heads=[1, 2], window_size=[8, 8],
                             block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2, num_classes=10).eval()
    model = ss.from_torch(module, inputs={"x": "B, 3, H, W"})
    assert [str(c) for c in model.infer().constraints] == ["H >= 68", "W >= 68"]
    for h, w in ((224, 224), (100, 76)):
        x = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32)
        assert_matches_torch(module, model, {"x": x})


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1, -1), (3.5, 0)])
def test_normalize_matches_torch(p, dim):
    class Normalized(nn.Module):
        def forward(self, x):
            return nn.functional.normalize(x, p=p, dim=dim) * 2

    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    x[0] = 0  # a zero vector: the norm is clamped to eps
    assert_matches_torch(Normalized(), ss.from_torch(Normalized(), inputs={"x": "A, B, C"}), {"x": x})


def test_fill_of_a_slice_writes_into_the_tensor():
    class Filled(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.arange(6.0))

        def forward(self, x):
            b = self.bias.clone()
            b[1:3].zero_()
            b[4:].fill_(-1.0)
            return x + b

    x = np.ones((2, 6), dtype=np.float32)
    assert_matches_torch(Filled(), ss.from_torch(Filled(), inputs={"x": "B, 6"}), {"x": x})


def test_a_buffer_viewed_in_forward_stays_the_buffer(monkeypatch):
    """MaxViT's relative position bias: ``table[self.index.view(-1)]``, a view of a buffer taken in forward,
    traced by fx (which would otherwise fold the view into an unnamed constant), not left to TorchDynamo."""
    def no_dynamo(*args):
        raise AssertionError("captured with TorchDynamo")

    monkeypatch.setattr("symshape.importers.dynamo.convert_captured", no_dynamo)

    class Bias(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(torch.randn(5, 2))
            self.register_buffer("index", torch.tensor([[4, 0], [1, 3]]))

        def forward(self, x):
            return x + self.table[self.index.view(-1)].view(2, 2, 2).permute(2, 0, 1)

    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2)).astype(np.float32)
    assert_matches_torch(Bias(), ss.from_torch(Bias(), inputs={"x": "B, 2, 2, 2"}), {"x": x})


class _Called(nn.Module):
    """``inner`` called on the arguments given, in a model (forward's unused arguments stay None: fx asserts
    they are None while tracing)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x, y=None, z=None):
        return self.inner(*[a for a in (x, y, z) if a is not None])


@pytest.mark.parametrize("make, shapes", [
    # found by the layer fuzzer's import stage (tests/fuzz_layers.py): each was refused or wrong
    (lambda: nn.PairwiseDistance(p=1.5, eps=0.5), [(2, 6), (2, 6)]),  # torch keeps p as .norm
    (lambda: nn.TripletMarginWithDistanceLoss(margin=0.5), [(4, 3), (4, 3), (4, 3)]),  # a PairwiseDistance()
    (lambda: nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8), [(5, 3, 4)]),  # attn_mask=None
    (lambda: nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, batch_first=True), [(3, 5, 4)]),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, enable_nested_tensor=False),
     [(5, 3, 4)]),  # len(src.size())
    (lambda: nn.Linear(4, 3), [(2, 4)]),
    # Transformer keeps no layer_norm_eps (nor activation, norm_first): it was mapped with the defaults
    (lambda: nn.Transformer(d_model=4, nhead=2, layer_norm_eps=0.5, dropout=0.0), [(3, 1, 4), (5, 1, 4)]),
])
def test_torch_nn_modules_import_as_torch_computes(make, shapes):
    torch.manual_seed(0)
    module = _Called(make()).eval()
    rng = np.random.default_rng(0)
    arrays = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip("xyz", shapes)}
    model = ss.from_torch(module, inputs={n: ", ".join(map(str, s)) for n, s in zip("xyz", shapes)})
    assert_matches_torch(module, model, arrays)


def test_linear_cross_entropy_loss_imports_as_one_layer():
    module = _Called(nn.LinearCrossEntropyLoss(4, 6, bias=True)).eval()
    model = ss.from_torch(module, inputs={"x": "N, 4", "y": {"shape": "N", "dtype": "int64"}})
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert_matches_torch(module, model, {"x": x, "y": np.array([0, 5, 2])})


def test_swin_saved_as_a_spec_reads_back_with_its_conditions(swin, tmp_path):
    """Padding to the window (``7*floor((H + 24) / 28)``, ``6*floor(W / 4) % 7 + 1``) and the guards are
    written in the spec syntax, so the imported model is an ordinary spec."""
    module, model = swin
    ss.save_spec(model, tmp_path / "swin.yaml")
    back = ss.load_spec(tmp_path / "swin.yaml").infer()
    assert [str(c) for c in back.constraints] == ["H >= 60", "W >= 60"]
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 90)).astype(np.float32)
    y = back.bind(B=1, H=64, W=90).forward(weights(module), x)
    with torch.no_grad():
        np.testing.assert_allclose(y, module(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-5)


def test_segmentation_head_resized_to_the_input_size():
    """torchvision's segmentation models end in ``F.interpolate(x, size=input_shape)``: an Upsample to the
    symbolic (H, W); the output is the ModelOutput-like dict's ``out``."""
    torch.manual_seed(0)
    module = tvm.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    model = ss.from_torch(module, inputs={"input": "B, 3, H, W"})
    assert str(model.infer().output_shapes[0]) == "(B, 21, H, W)"
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 80)).astype(np.float32)
    assert_matches_torch(module, model, {"input": x})


class _Packed(nn.Module):
    """What transformers' masking code does with position ids: diff with a prepended column, cumsum of a
    comparison, two broadcast index tensors; and Conv1D's addmm."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 3))
        self.bias = nn.Parameter(torch.randn(3))

    def forward(self, x, ids):
        diff = torch.diff(ids, prepend=ids[:, :1] - 1, dim=-1)
        packed = (diff != 1).cumsum(-1)
        rows = torch.arange(ids.shape[0])[:, None]
        cols = torch.arange(ids.shape[1])[None, :]
        picked = packed[rows, cols] + torch.diff(x, n=2, dim=1).sum(-1, keepdim=True).long()
        flat = torch.addmm(self.bias, x.reshape(-1, 5), self.weight)
        return {"picked": picked, "flat": flat}


def test_diff_cumsum_broadcast_indices_and_addmm_match_torch():
    model = ss.from_torch(_Packed(), inputs={"x": "B, 5", "ids": {"shape": "B, T", "dtype": "int64"}})
    ids = np.array([[0, 1, 2, 0, 1, 5, 6], [3, 4, 5, 6, 7, 8, 9]])
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    assert_matches_torch(_Packed(), model, {"x": x, "ids": ids})
