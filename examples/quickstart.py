"""Quickstart: train on the bundled Titanic data, read the leaderboard, load the bundle and score new rows.

    .venv/bin/python examples/quickstart.py            # writes runs/<id>/ in the current directory
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import trainwright as tw

DATA = Path(__file__).resolve().parents[1] / "datasets" / "titanic.csv"


def main(output_dir: str = "runs") -> int:
    # 1. Train: task, metric and column roles are inferred; the quick preset climbs a short ladder.
    result = tw.train(DATA, target="survived", preset="quick", output_dir=output_dir, tracking=False)

    # 2. The leaderboard: validation scores (train scores beside them show the gap), baselines first.
    board = result.leaderboard.to_frame()
    metric = result.task.metric
    print(f"task: {result.task.kind.value} ({result.task.reason}); metric: {metric}")
    print(board[["model", f"val_{metric}", f"train_{metric}", "cv_mean", "fit_s"]].to_string(index=False))

    # 3. The choice and why, then the test part, touched once after the choice.
    print(f"chosen: {result.choice.chosen} — {result.choice.reason}")
    print(f"test {metric}: {result.test_score:.4f} on {result.split.sizes['test']} rows")

    # 4. The bundle is all serving needs: load it and score rows the way new data arrives.
    model = tw.load(result.bundle)
    new_rows = pd.read_csv(DATA).drop(columns=["survived"]).head(5)
    print(model.predict(new_rows).to_string())
    print(f"model bundle: {result.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
