"""Benchmark the ladder (not a test): time to the first leaderboard row, time per rung, peak memory.

    python bench/ladder.py                 # 10k, 100k, 1M synthetic rows x 20 columns + credit_data
    python bench/ladder.py --sizes 10000   # a subset

Each case runs in a fresh subprocess so peak RSS is its own. Targets (2 cores): first row within 3 s of the data
being loaded at 100k rows; quick preset on credit_data under 30 s in all; 1M x 20 quick preset with peak memory
(the high-water mark of RSS above the RSS just before ``train``, with imports done and the frame built; the mark is
reset there, so building the synthetic frame does not count) under 4x the DataFrame's in-memory size.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT.parent / "shared" / "datasets" / "credit_data.csv"


def synthetic(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """16 numeric + 4 categorical columns, a binary target from a noisy non-linear rule, 5% missing in two columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 16))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(16)])
    for j in range(4):
        frame[f"c{j}"] = rng.choice([f"level{k}" for k in range(5 + 3 * j)], size=n_rows)
    logit = X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3] + (frame["c0"] == "level1") * 1.0 + rng.normal(0, 1, n_rows)
    frame["y"] = (logit > 0.5).astype(int)
    for col in ("x4", "x5"):
        frame.loc[rng.random(n_rows) < 0.05, col] = np.nan
    return frame


def _status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (the high-water mark) from /proc/self/status, in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the lifetime peak


def _reset_peak() -> None:
    """Reset the high-water mark to the current RSS (Linux >= 4.0), so the peak is the workflow's own, not that of
    building the synthetic frame."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def run_case(case: str, preset: str, budget: float) -> dict[str, object]:
    """Runs inside the subprocess."""
    import trainwright.workflow as wf  # noqa: F401  (imports first: the baseline includes the libraries)
    from trainwright.data import load_table
    from trainwright.workflow import train

    if case == "credit_data":
        t_load = time.perf_counter()
        frame = load_table(CREDIT)
        target = "Status"
    else:
        frame = synthetic(int(case))
        target = "y"
        t_load = time.perf_counter()
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    loaded = time.perf_counter()
    first: list[float] = []
    rungs: dict[str, float] = {}
    stage_peaks: dict[str, float] = {}  # high-water mark (x frame) when each step ends: where the peak was reached

    def on_event(event: object) -> None:
        step = f"{event.step}:{event.spec.name}" if event.spec is not None else event.step  # type: ignore[attr-defined]
        if event.stage == "done":  # type: ignore[attr-defined]
            stage_peaks.setdefault(step, round((_status_mb("VmHWM") - baseline_mb) / frame_mb, 2))
        if event.stage == "done" and event.step == "ladder":  # type: ignore[attr-defined]
            first.append(time.perf_counter() - loaded) if not first else None
            rungs[event.trial.name] = round(event.trial.fit_seconds, 2)  # type: ignore[attr-defined]

    gc.collect()
    _reset_peak()
    baseline_mb = _status_mb("VmRSS")
    with tempfile.TemporaryDirectory() as out:
        result = train(frame, target=target, preset=preset, output_dir=out, tracking=False, time_budget=budget,
                       on_event=on_event)
    total = time.perf_counter() - t_load
    peak_mb = _status_mb("VmHWM")
    return {
        "case": case, "rows": len(frame), "frame_mb": round(frame_mb, 1), "first_row_s": round(first[0], 2),
        "total_s": round(total, 2), "fit_s_per_model": rungs, "timings": result.timings,
        "peak_rss_mb": round(peak_mb, 1), "baseline_rss_mb": round(baseline_mb, 1),
        "peak_over_frame": round((peak_mb - baseline_mb) / frame_mb, 2), "peak_by_stage": stage_peaks,
        "chosen": result.choice.chosen, "test_score": round(result.test_score, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--time-budget", type=float, default=3600.0, help="generous, so every rung of the preset trains")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.preset, args.time_budget)))
        return
    cases = [s for s in args.sizes.split(",") if s] + ["credit_data"]
    env = {**os.environ, "TRAINWRIGHT_TRACKING": "0"}
    for case in cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--preset", args.preset,
                              "--time-budget", str(args.time_budget)], capture_output=True,
                             text=True, env=env)
        if out.returncode != 0:
            print(f"{case}: failed\n{out.stderr[-2000:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{row['case']:>12}: rows={row['rows']:>8} frame={row['frame_mb']:>7} MB  first row {row['first_row_s']:>5} s  "
              f"total {row['total_s']:>6} s  peak +{row['peak_rss_mb'] - row['baseline_rss_mb']:.0f} MB "
              f"({row['peak_over_frame']}x frame)  chosen {row['chosen']} test={row['test_score']}")
        print(f"{'':>14}fit seconds per model: {row['fit_s_per_model']}  stages: {row['timings']}")
        print(f"{'':>14}peak so far when each step ended (x frame): {row['peak_by_stage']}")


if __name__ == "__main__":
    main()
