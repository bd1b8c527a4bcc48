"""Benchmark the command line's start-up (not a test): how long a user waits for ``--help`` and ``--version``.

    python bench/cli_startup.py            # 15 runs of each command
    python bench/cli_startup.py --runs 40

Each command runs as a fresh subprocess, as a user types it; the median wall time is printed next to
``python -c pass`` (the interpreter's own start-up, the floor) and the ratio to it. Target: ``trainwright --help``
under 0.5 s. Heavy imports (pandas, scikit-learn, MLflow, the workflow) belong inside the commands that need
them; the last column lists any of them a command imported, which should be none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "trainwright"
# what a start-up should not import (pydantic is not listed: Typer itself imports it to parse option values)
HEAVY = ("numpy", "pandas", "sklearn", "scipy", "mlflow", "torch", "trainwright.workflow")
# the same entry point as the console script, reporting which heavy modules it imported (to stderr, at exit)
_PROBE = ("import atexit, sys; from trainwright.cli import main; "
          "atexit.register(lambda: print('heavy:', *[m for m in {heavy!r} if m in sys.modules], file=sys.stderr)); "
          "main(sys.argv[1:])")

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "trainwright --help": [str(EXE), "--help"],
    "trainwright --version": [str(EXE), "--version"],
    "trainwright train --help": [str(EXE), "train", "--help"],
}


def _once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=ROOT)
    return time.perf_counter() - start


def _heavy(args: list[str]) -> str:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("heavy:")), "heavy: ?")
    return line.removeprefix("heavy:").strip() or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (the median is reported)")
    args = parser.parse_args()
    if not EXE.exists():
        sys.exit(f"{EXE} not found: install the package (make install) and run with its Python")
    os.environ.pop("COLUMNS", None)
    for command in CASES.values():  # warm the file-system cache and the .pyc files: the numbers are steady state
        _once(command)
    medians = {name: statistics.median(_once(command) for _ in range(args.runs)) for name, command in CASES.items()}
    reference = medians["python -c pass"]
    print(f"{'command':<28}{'median s':>10}{'x python':>10}  heavy imports   ({args.runs} runs each)")
    for name, seconds in medians.items():
        heavy = "" if name.startswith("python") else _heavy(CASES[name][1:])
        print(f"{name:<28}{seconds:>10.3f}{seconds / reference:>10.1f}  {heavy}")
    verdict = "ok" if medians["trainwright --help"] < 0.5 else "TOO SLOW"
    print(f"trainwright --help: {medians['trainwright --help']:.3f} s (target < 0.5 s: {verdict})")


if __name__ == "__main__":
    main()
