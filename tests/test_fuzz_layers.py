"""A bounded slice of the single-layer differential fuzzer (tests/fuzz_layers.py): layer families whose
argument domains issue 17 covered agree with torch on every drawn case."""

import random

import fuzz_layers

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
