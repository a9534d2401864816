"""A bounded slice of the single-layer differential fuzzer (tests/fuzz_layers.py): layer families whose
argument domains issue 17 covered agree with torch on every drawn case."""

import random

import fuzz_layers

# families the full run still finds disagreements in (GroupNorm, LayerNorm, InstanceNorm eps/size checks,
# adaptive pools of output size 0, ZeroPad2d with two paddings) are left out until fixed
SLICE = ["Upsample", "UpsamplingNearest2d", "MaxPool1d", "MaxPool3d", "AvgPool2d", "AvgPool3d", "LPPool3d",
         "BatchNorm1d", "BatchNorm2d", "LSTM", "GRU", "Linear", "Conv1d", "ReLU", "ELU"]


def test_slice_agrees_with_torch():
    tried, found = fuzz_layers.run(per_layer=25, seed=0, ops=SLICE)
    assert sum(tried.values()) == 25 * len(SLICE)
    assert found == []


def test_every_fuzzed_op_gets_arguments_from_its_signature():
    rng = random.Random(0)
    ops = fuzz_layers.fuzzed_ops()
    assert len(ops) > 100
    drawn = [op for op in ops if fuzz_layers.draw(fuzz_layers.LAYERS[op], rng) is not None]
    assert len(drawn) >= 0.9 * len(ops)
