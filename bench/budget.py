"""Is ``--time-budget`` held? The whole ``trainwright train`` command, timed from outside, on every shared dataset.

    .venv/bin/python bench/budget.py                                  # every dataset at 15, 30 and 60 s
    .venv/bin/python bench/budget.py --datasets titanic,bikeshare --budgets 30 --preset best
    .venv/bin/python bench/budget.py --pruning --datasets credit_data --seconds 60   # search with and without pruning

Budget mode: one ``trainwright train FILE --target T --time-budget B`` subprocess per dataset and budget (tracking on,
into a temporary store, as a user runs it); printed: wall seconds, wall / budget, the chosen trial, the run's own
step timings. Target: wall / budget <= 1.10 everywhere.

Pruning mode: the LightGBM search alone (``tuning.search``, hold-out plan) for ``--seconds`` with the median pruner
over boosting rounds and without it; printed: trials per minute, pruned trials, the best validation score.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TARGETS = {"titanic": "survived", "credit_data": "Status", "breast_cancer": "diagnosis", "penguins": "species",
           "iris": "species", "wine": "cultivar", "digits": "digit", "diabetes": "progression",
           "vega_cars": "Miles_per_Gallon", "bikeshare": "bikers", "fine_foods": "score"}
CLI = str(Path(sys.executable).with_name("trainwright"))


def run_budget(name: str, budget: float, preset: str) -> dict:
    with tempfile.TemporaryDirectory() as work:
        cmd = [CLI, "train", str(DATASETS / f"{name}.csv"), "--target", TARGETS[name], "--time-budget", str(budget),
               "--preset", preset, "-o", f"{work}/runs", "--tracking-uri", f"sqlite:///{work}/mlflow.db"]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=budget * 4 + 120, check=False)
        wall = time.perf_counter() - t0
        runs = sorted(Path(work, "runs").glob("*/run.json"))
        summary = json.loads(runs[-1].read_text()) if runs else {}
    if proc.returncode != 0:
        return {"wall": wall, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return {"wall": wall, "chosen": summary.get("chosen"), "timings": summary.get("timings", {})}


def budget_table(names: list[str], budgets: list[float], preset: str) -> None:
    worst = 0.0
    for budget in budgets:
        print(f"\n--time-budget {budget:g} (preset {preset})")
        for name in names:
            r = run_budget(name, budget, preset)
            ratio = r["wall"] / budget
            worst = max(worst, ratio)
            detail = r.get("error") or f"chosen {r['chosen']}; " + " ".join(
                f"{k.removesuffix('_s')} {v:.1f}" for k, v in r["timings"].items())
            print(f"  {name:<14} wall {r['wall']:6.1f} s  wall/budget {ratio:5.2f}  {detail}", flush=True)
    print(f"\nworst wall/budget: {worst:.2f}")


def pruning(name: str, seconds: float) -> None:
    import numpy as np

    from trainwright.config import load_config
    from trainwright.data import holdout_plan
    from trainwright.evaluation import TrialIds
    from trainwright.models import get_spec
    from trainwright.training import FitContext
    from trainwright.tuning import search
    from trainwright.workflow.prepare import prepared_and_split

    prep, split = prepared_and_split(DATASETS / f"{name}.csv", load_config(None, target=TARGETS[name]))
    n_choice = len(split.train) + len(split.validation)
    X, y = prep.X.iloc[:n_choice], prep.y[:n_choice]
    plan = holdout_plan(len(split.train), len(split.validation), seed=0)
    for pruner in ("none", "median", "halving"):
        ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
        t0 = time.monotonic()
        result = search(get_spec("lightgbm"), X, y, plan, ctx, n_trials=10_000, ids=TrialIds(), time_limit=seconds,
                        pruner=pruner)
        elapsed = time.monotonic() - t0
        best = result.best(prep.task.metric)
        pruned = sum(t.trial.status == "pruned" for t in result.trials)
        score = best.trial.score(prep.task.metric) if best else float("nan")
        print(f"  {name} lightgbm pruner {pruner:<8} {len(result.trials) / elapsed * 60:6.1f} trials/min "
              f"({len(result.trials)} in {elapsed:.0f} s, {pruned} pruned)  best validation "
              f"{prep.task.metric} {score:.4f}  mean {np.mean([t.trial.fit_seconds for t in result.trials]):.2f} s/fit",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(TARGETS))
    parser.add_argument("--budgets", default="15,30,60")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--pruning", action="store_true")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    names = [d for d in args.datasets.split(",") if d]
    if args.pruning:
        for name in names:
            pruning(name, args.seconds)
        return
    budget_table(names, [float(b) for b in args.budgets.split(",")], args.preset)


if __name__ == "__main__":
    main()
