"""Start-up time of the ``symshape`` command: medians of wall-clock and CPU time over fresh processes.

Run: python benchmarks/cli_startup.py [--repeat N]. CPU time (user + system of the child) is the
figure to quote on a shared machine: it does not count the time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
COMMANDS = {
    "symshape --help": ["--help"],
    "symshape --version": ["--version"],
    "symshape ops": ["ops"],
    "symshape check examples/lenet.yaml": ["check", "examples/lenet.yaml"],
    "symshape summary examples/lenet.yaml": ["summary", "examples/lenet.yaml"],
}


# as installed: bytecode cached (a sandbox's PYTHONDONTWRITEBYTECODE=1 recompiles every module each start)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(args: list[str], repeat: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``python -m symshape ARGS``."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = os.times()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "symshape", *args], cwd=ROOT, check=True, capture_output=True, env=ENV)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(after.children_user + after.children_system - before.children_user - before.children_system)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    print(f"{'command':<40} {'wall (s)':>9} {'cpu (s)':>9}")
    for name, args in COMMANDS.items():
        wall, cpu = measure(args, repeat)
        print(f"{name:<40} {wall:>9.3f} {cpu:>9.3f}")


if __name__ == "__main__":
    main()
