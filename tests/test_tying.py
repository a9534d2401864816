"""Weight tying across layers of different kinds (GPT-2's lm_head.weight is transformer.wte.weight)."""

import numpy as np
import pytest
import torch

import symshape as ss

SPEC = """
inputs:
  ids: {shape: [B, T], dtype: int64}
layers:
  - {name: wte, op: Embedding, num_embeddings: 50, embedding_dim: 16}
  - {name: ln, op: LayerNorm, normalized_shape: 16}
  - {name: lm_head, op: Linear, in_features: 16, out_features: 50, bias: false, tie: {weight: wte.weight}}
"""


class TiedLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(50, 16)
        self.ln = torch.nn.LayerNorm(16)
        self.lm_head = torch.nn.Linear(16, 50, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids):
        return self.lm_head(self.ln(self.wte(ids)))


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "tied.yaml"
    path.write_text(SPEC)
    return ss.load_spec(path)


def test_tied_names_and_counts_are_torchs(model):
    g = model.infer()
    torch_model = TiedLM()
    assert list(g.state_shapes) == list(torch_model.state_dict())  # both names, as torch's state_dict
    assert g.num_params == sum(p.numel() for p in torch_model.parameters())  # the tensor counted once
    assert g.param_specs["lm_head.weight"].tied_to == "wte.weight"


def test_materialize_gives_one_array_and_forward_equals_torch(model):
    g = model.infer().bind(B=2, T=5)
    params = g.materialize(seed=0)
    assert params["lm_head.weight"] is params["wte.weight"]
    assert np.array_equal(g.materialize(seed=0, only=["lm_head.weight"])["lm_head.weight"], params["wte.weight"])
    torch_model = TiedLM().eval()
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    ids = np.random.default_rng(0).integers(0, 50, (2, 5))
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(g.forward(params, ids), expected, rtol=1e-4, atol=1e-5)
    stored_once = {k: v for k, v in params.items() if k != "lm_head.weight"}  # as Hugging Face files store it
    np.testing.assert_allclose(g.forward(stored_once, ids), expected, rtol=1e-4, atol=1e-5)
    different = dict(params, **{"lm_head.weight": params["wte.weight"] + 1})
    with pytest.raises(ss.SpecError, match="lm_head.weight is tied to wte.weight but the two arrays differ"):
        g.forward(different, ids)


def test_a_state_dicts_two_views_of_one_tied_tensor_are_not_compared_element_by_element(model, monkeypatch):
    """torch's state_dict gives a tied head and embedding as two arrays on one buffer: the forward's weight
    check knows them equal without a pass over (for GPT-2) 38M elements, and still compares true copies."""
    g = model.infer().bind(B=2, T=5)
    torch_model = TiedLM().eval()
    views = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    assert views["lm_head.weight"] is not views["wte.weight"]
    ids = np.random.default_rng(0).integers(0, 50, (2, 5))
    import symshape.weights as weights

    compared = []
    monkeypatch.setattr(weights.np, "array_equal", lambda a, b: compared.append(1) or bool((a == b).all()))
    g.forward(views, ids)
    assert compared == []
    g.forward(dict(views, **{"lm_head.weight": views["wte.weight"].copy()}), ids)
    assert compared == [1]


def test_tie_round_trips_and_mismatches_are_errors(model, tmp_path):
    ss.save_spec(model, tmp_path / "again.yaml")
    assert ss.load_spec(tmp_path / "again.yaml").tied == {"lm_head.weight": "wte.weight"}
    x = ss.Input("B, 16", name="x")
    m = ss.Model(x, ss.Linear(16, 8)(ss.Linear(16, 16)(x, name="a"), name="b"), tied={"b.weight": "a.weight"})
    with pytest.raises(ss.ShapeMismatchError, match=r"b \(Linear\): the shape of b.weight, tied to a.weight, is "
                                                    r"\(16, 16\) but b.weight has \(8, 16\)"):
        m.infer()
    m = ss.Model(x, ss.Linear(16, 8)(x, name="b"), tied={"b.weight": "nothing.weight"})
    with pytest.raises(ss.ShapeMismatchError, match="the model has no parameter nothing.weight"):
        m.infer()
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("tie: {weight: wte.weight}", "tie: wte.weight"))
    with pytest.raises(ss.SpecError, match=r"layers\[2\] \(lm_head\): key 'tie': tie maps a parameter"):
        ss.load_spec(bad)


def test_save_spec_refuses_a_tie_no_layer_owns(tmp_path):
    x = ss.Input("B, 16", name="x")
    m = ss.Model(x, ss.Linear(16, 8)(x, name="b"), tied={"nothing.weight": "b.weight"})
    with pytest.raises(ss.SpecError, match="the tied name 'nothing.weight' names no parameter of a layer"):
        ss.save_spec(m, tmp_path / "m.yaml")
    assert not (tmp_path / "m.yaml").exists()
