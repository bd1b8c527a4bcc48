"""The text ladder on fine_foods (not a test): each text rung against TF-IDF + logistic regression on test ROC-AUC.

    nice -n 10 python bench/text.py                      # every rung, fine-tuning within 900 s
    python bench/text.py --rungs linear,lstm --rows 2000 --finetune-seconds 300

One stratified split of /work/shared/datasets/fine_foods.csv (5000 Amazon food reviews, ``score`` great/other):
60% train, 20% validation (early stopping of the networks), 20% test. Each rung is fitted the way the ladder fits
it (``fit_pipeline``, the spec's default parameters) and scored once on the test part; the table prints the
validation and test ROC-AUC, the fit time and the bundle size, then the test texts the best rung gets most wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "fine_foods.csv"
RUNGS = ("dummy", "linear", "word2vec_linear", "lstm", "minilm_linear", "minilm_finetune")


def _bundle_mb(pipeline: object) -> float:
    from trainwright.bundle import write_bundle

    with tempfile.TemporaryDirectory() as tmp:
        path = write_bundle(Path(tmp) / "b", pipeline, {})
        return sum(f.stat().st_size for f in path.iterdir()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rungs", default=",".join(RUNGS))
    parser.add_argument("--rows", type=int, default=0, help="subsample the file to this many rows (0: all)")
    parser.add_argument("--finetune-seconds", type=float, default=900.0, help="deadline of each network's fit")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import pandas as pd
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from trainwright.config import load_config
    from trainwright.models import get_spec
    from trainwright.training import FitContext, fit_pipeline, predict_matrix
    from trainwright.workflow import prepare

    torch.set_num_threads(args.threads)
    frame = pd.read_csv(DATA)
    if args.rows:
        frame = frame.sample(args.rows, random_state=0)
    path = Path(tempfile.mkdtemp()) / "fine_foods.csv"
    frame.to_csv(path, index=False)
    prep = prepare(path, load_config(None, target="score", preset="quick", tracking=False))
    rows = np.arange(len(prep.y))
    train, rest = train_test_split(rows, test_size=0.4, stratify=prep.y, random_state=0)
    val, test = train_test_split(rest, test_size=0.5, stratify=prep.y[rest], random_state=0)
    positive = list(prep.task.classes).index(prep.task.positive_label) if prep.task.positive_label is not None else 1
    print(f"fine_foods: {len(train)} train, {len(val)} validation, {len(test)} test rows; positive class "
          f"{prep.task.classes[positive]!r}; torch threads {args.threads}", flush=True)
    print(f"{'rung':<18}{'val AUC':>9}{'test AUC':>10}{'fit s':>8}{'epochs':>8}{'bundle MB':>11}", flush=True)
    best: tuple[float, str, np.ndarray] | None = None
    for name in args.rungs.split(","):
        spec = get_spec(name)
        deadline = time.monotonic() + args.finetune_seconds
        ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=args.threads, deadline=deadline)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline, epochs, _ = fit_pipeline(spec, ctx, prep.X.iloc[train], prep.y[train], spec.params(),
                                               X_val=prep.X.iloc[val], y_val=prep.y[val])
        seconds = time.perf_counter() - start
        val_auc = roc_auc_score(prep.y[val] == positive, predict_matrix(pipeline, prep.X.iloc[val], prep.task)[:, positive])
        proba = predict_matrix(pipeline, prep.X.iloc[test], prep.task)[:, positive]
        test_auc = roc_auc_score(prep.y[test] == positive, proba)
        print(f"{name:<18}{val_auc:>9.4f}{test_auc:>10.4f}{seconds:>8.0f}{epochs if epochs else '-':>8}"
              f"{_bundle_mb(pipeline):>11.1f}", flush=True)
        if name != "dummy" and (best is None or val_auc > best[0]):
            best = (val_auc, name, proba)
    if best is not None:
        _, name, proba = best
        wrong = np.abs((prep.y[test] == positive).astype(float) - proba)
        print(f"\nthe test texts {name} (best on validation) gets most wrong:")
        for i in np.argsort(-wrong)[:5]:
            text = str(prep.X.iloc[test[i]]["review"])[:160].replace("\n", " ")
            print(f"  true {prep.task.classes[prep.y[test[i]]]!s:<6} p({prep.task.classes[positive]})={proba[i]:.2f}  {text}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
