"""Symbolic analysis: explanations, suggestions in errors, valid() and solve()."""

from pathlib import Path

import pytest

import symshape as ss
from symshape.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples"


def fixed_lenet() -> ss.Model:
    spec = ss.spec.spec_dict(ss.load_spec(EXAMPLES / "lenet.yaml"))
    spec["inputs"] = {"x": ["B", 1, "H", "W"]}
    spec["layers"] = [dict(e, op="Linear", in_features=400) if e["name"] == "fc1" else e for e in spec["layers"]]
    return ss.load_spec(spec)


def test_explain_parameter_traces_back_to_the_input():
    text = ss.load_spec(EXAMPLES / "lenet.yaml").infer(x="B, 1, H, W").explain("fc1.weight")
    lines = text.splitlines()
    assert lines[0] == ("fc1.weight (120, 16*(floor(H/4) - 2)*(floor(W/4) - 2)): parameter 'weight' of "
                        "fc1 (LazyLinear(out_features=120))")
    assert lines[1] == "  in_features = 16*(floor(H/4) - 2)*(floor(W/4) - 2), inferred from the layer's input"
    assert "  x      input (B, 1, H, W)" in lines
    assert "  6      Flatten: (B, 16, floor(H/4) - 2, floor(W/4) - 2) -> (B, 16*(floor(H/4) - 2)*(floor(W/4) - 2))" in lines
    assert lines[-1] == "conditions met along the way: H >= 12 (from 5), W >= 12 (from 5)"


def test_explain_outputs_and_unknown_names():
    g = ss.load_spec(EXAMPLES / "lstm_tagger.yaml").infer()
    assert g.explain("lstm:1").startswith("lstm:1 (4, B, 48)")
    with pytest.raises(ss.SpecError, match="'nope' is no parameter, layer or input"):
        g.explain("nope")


def test_cli_explain(capsys):
    assert main(["explain", str(EXAMPLES / "resnet18.yaml"), "layer4.0.downsample.0.weight"]) == 0
    assert "layer4.0.downsample.0.weight (512, 256, 1, 1)" in capsys.readouterr().out


def test_binding_errors_suggest_working_sizes():
    g = fixed_lenet().infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"in_features is 400 but its input \(B, 480\) .*\n"
                                                     r"Sizes that would work: 28 <= H <= 31 \(with W = 28\)\."):
        g.bind(H=32, W=28)
    unet = ss.load_spec(EXAMPLES / "unet.yaml").infer()
    with pytest.raises(ss.ShapeMismatchError, match=r"Sizes that would work: H % 4 == 0 and H >= 4 \(with W = 32\)"):
        unet.bind(H=30, W=32)


def test_valid():
    unet = ss.load_spec(EXAMPLES / "unet.yaml").infer()
    assert unet.valid(H=32, W=8) and not unet.valid(H=30) and not unet.valid(H=32, W=2) and unet.valid()
    lenet = fixed_lenet().infer()
    assert lenet.valid(H=28, W=31) and not lenet.valid(H=32, W=32) and lenet.valid(H=108) and not lenet.valid(H=40)


def test_solve_feature_map_size_and_parameter_budget():
    g = ss.load_spec(EXAMPLES / "resnet18.yaml").infer()
    h = g.node("avgpool")["input_shapes"][0][2]
    assert g.solve(h, equals=7, minimize="H") == [{"H": 193}]
    assert g.solve(h, equals=7, maximize="H") == [{"H": 224}]
    assert [s["H"] for s in g.solve(h, equals=7, limit=100)] == list(range(193, 225))
    gru = ss.load_spec(EXAMPLES / "gru_classifier.yaml").infer()
    assert gru.solve("num_params", at_most=10**6, maximize="D") == [{"D": 5074}]
    assert ss.dims.evaluate(gru.num_params, {ss.sym("D"): 5074}) <= 10**6 < ss.dims.evaluate(
        gru.num_params, {ss.sym("D"): 5075})


def test_solve_links_several_sizes():
    g = fixed_lenet().infer()
    found = g.solve(g.inputs["x"][2], at_least=1, limit=40)
    assert {"H": 28, "W": 31} in found and {"H": 108, "W": 12} in found
    for sizes in found:
        assert g.valid(**sizes)


def test_unsatisfiable_conditions_are_an_error():
    x = ss.Input("B, 3, H, W", name="x")
    h = ss.Flatten()(ss.Conv2d(3, 4, 3)(x))
    model = ss.Model(x, ss.Linear(4 * 5 * 7 + 1, 2)(h, name="fc"))  # 4*(H-2)*(W-2) is never odd
    with pytest.raises(ss.ShapeMismatchError, match=r"fc \(Linear\): in_features is a size with "
                                                     r"4\*\(H - 2\)\*\(W - 2\) == 141 but no size of the inputs satisfies that"):
        model.infer()
    strided = ss.Flatten()(ss.Conv2d(3, 2, 3, stride=2)(x))  # 2*floor((H-1)/2)*floor((W-1)/2): even again
    with pytest.raises(ss.ShapeMismatchError, match="no size of the inputs satisfies that"):
        ss.Model(x, ss.Linear(99, 2)(strided)).infer()


def test_solver_decides_conditions_linking_sizes():
    from symshape.constraints import Constraint
    from symshape.solve import satisfiable

    H, W = ss.sym("H"), ss.sym("W")
    area = Constraint("n", "op", "what", ss.dims.floordiv(H, 3) * ss.dims.floordiv(W, 3), "==", 2)
    assert satisfiable([area])
    assert not satisfiable([area, Constraint("n", "op", "what", H, ">=", 6), Constraint("n", "op", "what", W, ">=", 6)])
