"""The bad-input catalogue of the command line (tests/bad_inputs.py): each case gives the contract's
exit code, a message naming the culprit, no traceback, leaves no file behind, and takes bounded time and
memory (the growth of the process's peak resident set)."""

import resource
import subprocess
import sys
import time

import pytest
from bad_inputs import CASES, make_files, matches, run_case


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("inputs"))


SECONDS, BYTES = 20.0, 256 * 2**20  # every bad input is refused within these: no case may take longer or
# raise the process's peak resident memory by more (hangs and bombs included)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, files, tmp_path):
    peak_before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    code, err, left = run_case(case, files, tmp_path)
    seconds = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) * 1024  # KiB on Linux
    assert seconds < SECONDS and grown < BYTES, f"{seconds:.1f} s, the peak memory grew by {grown / 2**20:.0f} MiB"
    assert code == case[3], err
    assert "Traceback" not in err
    assert matches(case[4], err), f"{case[4]!r} not in {err!r}"
    assert not left or code == 0, "a failed command left a file behind"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 60


def test_console_script_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"inputs:\n  x: [B, \xff\xfe]\n")
    result = subprocess.run([sys.executable, "-m", "symshape", "check", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "is not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_help_of_every_command_has_an_example():
    for command in ["check", "summary", "init", "run", "graph", "explain"]:
        result = subprocess.run([sys.executable, "-m", "symshape", command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "example:" in result.stdout and f"symshape {command}" in result.stdout
