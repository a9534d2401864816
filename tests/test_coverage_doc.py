"""docs/coverage.md is current, and every torch.nn module symshape does not have says why."""

import runpy
from pathlib import Path

import torch.nn.modules

import symshape as ss

ROOT = Path(__file__).parents[1]
SCRIPT = runpy.run_path(str(ROOT / "docs" / "make_coverage.py"))


def test_coverage_page_is_current():
    assert (ROOT / "docs" / "coverage.md").read_text() == SCRIPT["render"](), \
        "docs/coverage.md is stale: run python docs/make_coverage.py > docs/coverage.md"


def test_every_unsupported_module_has_a_reason():
    names = SCRIPT["torch_modules"]()
    assert "Linear" in names and "LinearCrossEntropyOptions" not in names  # Module classes only
    reasons, why = SCRIPT["REASONS"], SCRIPT["WHY"]
    unexplained = [n for n in names if n not in ss.LAYERS and n not in reasons]
    assert not unexplained, f"give these torch.nn modules a reason in docs/make_coverage.py: {unexplained}"
    assert set(reasons.values()) <= set(why), "every reason is a kind explained in WHY"
    assert set(reasons) <= set(torch.nn.modules.__all__), "REASONS names only torch.nn modules"
    stale = [n for n in reasons if n in ss.LAYERS]
    assert not stale, f"these are symshape layers now: remove them from REASONS in docs/make_coverage.py: {stale}"


def test_page_lists_every_module_and_tensor_op():
    text = (ROOT / "docs" / "coverage.md").read_text()
    for name in SCRIPT["torch_modules"]():
        assert f"| `{name}` |" in text
    for name in ss.LAYERS:
        if not name.startswith("_"):
            assert f"| `{name}` |" in text
