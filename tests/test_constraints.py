"""The conditions symshape reports hold exactly for the sizes at which torch runs."""

from pathlib import Path

import pytest
import torch
from models.torch_models import LeNetSpec, UNet

import symshape as ss

EXAMPLES = Path(__file__).parents[1] / "examples"
H = ss.sym("H")


def torch_runs(module, shape) -> bool:
    try:
        with torch.no_grad():
            module(torch.zeros(shape))
        return True
    except (RuntimeError, ValueError):
        return False


def holds(graph, values) -> bool:
    return all(c.holds(values) for c in graph.constraints)


def test_unet_reports_divisibility_and_lower_bound():
    g = ss.load_spec(EXAMPLES / "unet.yaml").infer(x="1, 1, H, 8")
    assert [str(c) for c in g.constraints] == ["H >= 4", "H % 4 == 0"]
    module = UNet().eval()
    for h in range(1, 41):
        assert holds(g, {H: h}) == torch_runs(module, (1, 1, h, 8)), h


def test_lenet_with_fixed_linear_admits_exactly_torchs_sizes():
    spec = ss.spec.spec_dict(ss.load_spec(EXAMPLES / "lenet.yaml"))
    spec["layers"] = [dict(e, op="Linear", in_features=400) if e["name"] == "fc1" else e for e in spec["layers"]]
    g = ss.load_spec(spec).infer(x="1, 1, H, 28")
    assert [str(c) for c in g.constraints] == ["H >= 28", "H <= 31"]
    module = LeNetSpec().eval()
    for h in range(1, 60):
        assert holds(g, {H: h}) == torch_runs(module, (1, 1, h, 28)), h


def test_non_monotone_conditions_are_kept_as_they_are():
    g = ss.Sequential(ss.Chunk(3, -1)).infer("B, D")
    assert [str(c) for c in g.constraints] == ["D - 2*ceil(D / 3) >= 1"]
    for d in range(1, 30):
        expected = len(torch.chunk(torch.zeros(1, d), 3, -1)) == 3
        assert holds(g, {ss.sym("D"): d}) == expected, d


@pytest.mark.parametrize("stride, levels", [(2, 3), (3, 2)])
def test_strided_skip_connections_give_congruences(stride, levels):
    x = ss.Input("1, 4, L", name="x")
    h, skips = x, []
    for i in range(levels):
        skips.append(h)
        h = ss.Conv1d(4, 4, stride, stride=stride)(h, name=f"down{i}")
    for i in reversed(range(levels)):
        h = ss.ConvTranspose1d(4, 4, stride, stride=stride)(h, name=f"up{i}")
        h = ss.Add()(h, skips[i], name=f"skip{i}")
    g = ss.Model(x, h).infer()
    assert [str(c) for c in g.constraints] == [f"L >= {stride ** levels}", f"L % {stride ** levels} == 0"]
