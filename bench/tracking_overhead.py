"""Benchmark the cost of tracking (not a test): ``trainwright train`` with the quick preset on credit_data, with the
default MLflow store (sqlite:///mlflow.db in the working directory) vs ``--no-tracking``.

    python bench/tracking_overhead.py               # 2 rounds
    python bench/tracking_overhead.py --rounds 3

Every run is a fresh ``trainwright train`` process (imports included, as a user pays them). A round runs, in a fresh
directory: untracked, tracked on a fresh store (its creation included), tracked again on the now existing store.
The figures are medians over rounds; the ratio is tracked / untracked wall time. Target: under 1.10 (10% extra).
The seed is fixed, so every run fits the same models on the same rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT.parent / "shared" / "datasets" / "credit_data.csv"
if not CREDIT.exists():
    CREDIT = ROOT / "datasets" / "credit_data.csv"


def timed_train(cwd: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one ``trainwright train`` process."""
    env = {k: v for k, v in os.environ.items() if k not in {"TRAINWRIGHT_TRACKING", "MLFLOW_TRACKING_URI"}}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    command = [sys.executable, "-m", "trainwright", "train", str(CREDIT), "--target", "Status", "--preset", "quick",
               "--seed", "0", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    timed_train(Path(tempfile.mkdtemp(prefix="tw-warm-")), "--no-tracking")  # warm the file cache, not counted
    runs: dict[str, list[tuple[float, float]]] = {"untracked": [], "tracked, fresh store": [],
                                                   "tracked, existing store": []}
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="tw-bench-") as tmp:
            cwd = Path(tmp)
            runs["untracked"].append(timed_train(cwd, "--no-tracking"))
            runs["tracked, fresh store"].append(timed_train(cwd))
            runs["tracked, existing store"].append(timed_train(cwd))
            assert (cwd / "mlflow.db").is_file()
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f} s wall / {v[-1][1]:.2f} s CPU"
                                             for k, v in runs.items()), flush=True)
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    print(f"\nquick preset on {CREDIT.name}, {args.rounds} round(s), medians, {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.1f}:")
    for label in runs:
        print(f"  {label:<25} wall {wall[label]:7.2f} s  ratio {wall[label] / wall['untracked']:.3f}   "
              f"CPU {cpu[label]:7.2f} s  ratio {cpu[label] / cpu['untracked']:.3f}")
    print("target: wall ratio under 1.10 (on a busy machine, the CPU ratio is the steadier figure)")


if __name__ == "__main__":
    main()
