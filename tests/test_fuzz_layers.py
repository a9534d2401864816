"""A bounded slice of the single-layer differential fuzzer (tests/fuzz_layers.py): layer families whose
argument domains issue 17 covered agree with torch on every drawn case."""

import random

import fuzz_layers

from symshape.constraints import Constraint

SLICE = ["Upsample", "UpsamplingNearest2d", "MaxPool1d", "MaxPool3d", "AvgPool2d", "AvgPool3d", "LPPool3d",
         "BatchNorm1d", "BatchNorm2d", "LSTM", "GRU", "Linear", "Conv1d", "ReLU", "ELU"]


def test_slice_agrees_with_torch():
    tried, found = fuzz_layers.run(per_layer=25, seed=0, ops=SLICE)
    assert sum(tried.values()) == 25 * len(SLICE)
    assert found == []


def test_every_fuzzed_layer_agrees_with_torch_on_a_few_cases():
    tried, deep, found = fuzz_layers.run_counted(per_layer=4, seed=0)
    assert set(tried) == set(fuzz_layers.fuzzed_ops())
    assert [f for f in found if not f[0].startswith("excluded:")] == []


def test_every_registered_layer_is_fuzzed_or_listed_with_a_reason():
    fuzzed, skipped = set(fuzz_layers.fuzzed_ops()), fuzz_layers.skipped()
    assert fuzzed | set(skipped) == set(fuzz_layers.LAYERS) and not fuzzed & set(skipped)
    assert all(skipped.values())
    assert {fuzz_layers.family(op) for op in fuzzed} >= {"conv", "pool", "norm", "activation", "recurrent",
                                                         "attention/transformer", "shape/tensor ops",
                                                         "upsample/pad", "linear/embedding"}


def test_every_fuzzed_op_gets_arguments_from_its_signature():
    rng = random.Random(0)
    ops = fuzz_layers.fuzzed_ops()
    assert len(ops) > 100
    drawn = [op for op in ops if fuzz_layers.draw(fuzz_layers.LAYERS[op], rng) is not None]
    assert len(drawn) >= 0.9 * len(ops)


DEEP = ["CrossEntropyLoss", "BCELoss", "TripletMarginLoss", "CosineSimilarity", "MultiheadAttention",
        "TransformerEncoderLayer", "Conv2d", "ConvTranspose1d"]


def test_fitted_inputs_reach_the_forward_values_and_the_conditions():
    tried, deep, found = fuzz_layers.run_counted(per_layer=16, seed=0, ops=DEEP)
    assert [f for f in found if not f[0].startswith("excluded:")] == []
    for op in DEEP:
        assert deep[op, "values"] >= 0.15 * tried[op], op
        assert deep[op, "conditions"] > 0, op
    assert sum(deep[op, "import"] for op in DEEP) > 0 and sum(deep[op, "cli"] for op in DEEP) > 0


def test_a_planted_shape_bug_is_a_verdict_disagreement(monkeypatch):
    # SoftMarginLoss broadcasting both ways (as before its fix): torch refuses a target wider than the input
    monkeypatch.setattr(fuzz_layers.LAYERS["SoftMarginLoss"], "loss_shape", fuzz_layers.LAYERS["_Loss"].loss_shape)
    assert fuzz_layers.compare("SoftMarginLoss", {"reduction": "none"}, [(4, 1), (4, 5)])[0] == "verdict"


def test_a_planted_condition_bug_is_a_conditions_disagreement(monkeypatch):
    # every condition read as met: Conv1d(kernel_size=5) is then said to take lengths below 5
    monkeypatch.setattr(Constraint, "holds", lambda self, values: True)
    kwargs = {"in_channels": 2, "out_channels": 3, "kernel_size": 5}
    kinds = {(fuzz_layers.conditions("Conv1d", kwargs, random.Random(seed)) or ("",))[0] for seed in range(12)}
    assert "conditions" in kinds


def test_a_planted_importer_bug_is_an_import_disagreement(monkeypatch):
    # PairwiseDistance's p read under its own name (torch keeps it as .norm): the import silently took p=2
    from symshape.importers import torch_modules

    monkeypatch.setattr(torch_modules, "_RENAMED", {})
    monkeypatch.setattr(fuzz_layers, "IMPORT", 1.0)
    found = fuzz_layers.compare("PairwiseDistance", {"p": 1.0, "eps": 1e-6, "keepdim": False}, [(3, 5), (3, 5)])
    assert found is not None and found[0] == "import", found
    monkeypatch.undo()
    monkeypatch.setattr(fuzz_layers, "IMPORT", 1.0)
    assert fuzz_layers.compare("PairwiseDistance", {"p": 1.0, "eps": 1e-6, "keepdim": False}, [(3, 5), (3, 5)]) is None
