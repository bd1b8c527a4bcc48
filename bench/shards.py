"""Benchmark data-parallel boosting on Parquet shards (not a test): Ray Train with 1 and 2 workers against the
in-memory workflow's XGBoost on the same rows, in one script (the machine is shared: read the ratios).

    python bench/shards.py                    # 200,000 rows x 20 columns in 8 shards
    python bench/shards.py --rows 1000000 --shards 16

Prints per setting: the fit's wall time, rows boosted per second, the rounds made and the test ROC-AUC; then the
overhead of Ray (workers=1 against the in-memory fit) and the speed-up of the second worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def make_shards(folder: Path, rows: int, shards: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 16))
    colour = rng.choice(["red", "green", "blue", "grey"], rows)
    logit = X[:, 0] - 0.5 * X[:, 1] * X[:, 2] + (colour == "red") + 0.3 * np.sin(3 * X[:, 3])
    y = np.where(logit + rng.logistic(size=rows) > 0, "yes", "no")
    frame = pd.DataFrame({**{f"x{i}": X[:, i] for i in range(16)}, "colour": colour,
                          "amount": rng.lognormal(3, 1, rows), "count": rng.poisson(3, rows), "y": y})
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(rows), shards)):
        frame.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from trainwright.config import load_config
    from trainwright.data.shards import parquet_files
    from trainwright.workflow import train
    from trainwright.workflow.sharded import train_sharded

    home = Path(tempfile.mkdtemp(prefix="tw-shards-"))
    make_shards(home / "shards", args.rows, args.shards)
    files = parquet_files(home / "shards")
    assert files
    results = {}
    for workers in (1, 2):
        cfg = load_config(None, target="y", output_dir=str(home / f"ray{workers}"), workers=workers, time_budget=3600)
        r = train_sharded(files, cfg)
        results[f"ray, {workers} worker(s)"] = (r.timings["fit_s"], r.parts["train"], r.rounds, r.test_scores["roc_auc"])
        print(f"ray, {workers} worker(s): {results[f'ray, {workers} worker(s)']}", flush=True)
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    start = time.monotonic()
    local = train(frame, "y", preset="quick", models=("xgboost",), output_dir=str(home / "local"), tracking=False,
                  time_budget=3600)
    ladder = local.timings.get("ladder_s", time.monotonic() - start)
    results["in memory (ladder fit)"] = (ladder, len(local.split.train), -1, local.test_scores["roc_auc"])
    print(f"\n{args.rows:,} rows x {frame.shape[1] - 1} features in {args.shards} shards, {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, (seconds, rows, rounds, auc) in results.items():
        made = f"{rounds} rounds" if rounds >= 0 else "early-stopped"
        print(f"  {name:<24} fit {seconds:7.1f} s  {rows / seconds:10,.0f} train rows/s  {made:<14} test ROC-AUC {auc:.4f}")
    one, two = results["ray, 1 worker(s)"][0], results["ray, 2 worker(s)"][0]
    print(f"  Ray overhead (1 worker / in memory): {one / results['in memory (ladder fit)'][0]:.2f}x; "
          f"second worker speed-up: {one / two:.2f}x")


if __name__ == "__main__":
    main()
