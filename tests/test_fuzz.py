"""Differential fuzzing against torch (a bounded run; `make fuzz N=...` for long ones), and every saved
disagreement, fixed since, kept as a regression."""

import json
from pathlib import Path

import pytest
from fuzz import architectures, check
from hypothesis import HealthCheck, given, settings

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(architectures())
def test_random_architectures_agree_with_torch(case):
    spec, sizes = case
    assert check(spec, sizes) is None


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(path):
    case = json.loads(path.read_text())
    assert check(case["spec"], tuple(case["sizes"])) is None, case["problem"]
