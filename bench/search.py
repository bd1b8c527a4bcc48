"""Does the search pay? A family's default fit against its search (portfolio + TPE) on the validation part, and both
re-scored over 5 folds of train+validation (the choice rows; the test part is never read).

    .venv/bin/python bench/search.py --datasets diabetes,breast_cancer,penguins --model lightgbm --trials 20

Prints per dataset: the metric, the default's validation and CV scores, the search's best (by validation) with its
CV score, where it came from (portfolio or sampler), trials run and seconds taken. Not a test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from trainwright.config import load_config
from trainwright.data import choice_folds, holdout_plan
from trainwright.evaluation import TrialIds
from trainwright.models import get_spec
from trainwright.training import FitContext, Fitted, cross_validate, fit_candidate
from trainwright.tuning import search
from trainwright.workflow.prepare import prepared_and_split

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TARGETS = {"titanic": "survived", "credit_data": "Status", "breast_cancer": "diagnosis", "penguins": "species",
           "iris": "species", "wine": "cultivar", "digits": "digit", "diabetes": "progression",
           "vega_cars": "Miles_per_Gallon", "bikeshare": "bikers"}


def one(name: str, model: str, trials: int, sampler: str) -> None:
    cfg = load_config(None, target=TARGETS[name], preset="quick")
    prep, split = prepared_and_split(DATASETS / f"{name}.csv", cfg)
    n = len(split.train) + len(split.validation)
    X, y = prep.X.iloc[:n], prep.y[:n]
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=0)
    spec, metric = get_spec(model), prep.task.metric
    plan = holdout_plan(len(split.train), len(split.validation))
    folds = choice_folds(split, X.index, y, n_folds=5, classification=prep.task.is_classification)
    default = fit_candidate(spec, spec.params(), X, y, plan, ctx, trial_id=model)
    assert isinstance(default, Fitted), default
    t0 = time.perf_counter()
    result = search(spec, X, y, plan, ctx, n_trials=trials, ids=TrialIds((model,)), sampler=sampler,
                    known=(default.trial.params, default.trial.score(metric)))
    seconds = time.perf_counter() - t0
    best = result.best(metric)
    assert best is not None
    cv_default = np.mean(cross_validate(default.trial, spec, X, y, folds, ctx)[0].cv_scores)
    cv_best = np.mean(cross_validate(best.trial, spec, X, y, folds, ctx)[0].cv_scores)
    print(f"{name:<14} {metric:<8} default val {default.trial.score(metric):.4f} cv {cv_default:.4f} | search best "
          f"{best.trial.trial_id:<12} ({best.source:<9}) val {best.trial.score(metric):.4f} cv {cv_best:.4f} | "
          f"{len(result.trials)} trials in {seconds:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="diabetes,breast_cancer,penguins,vega_cars")
    parser.add_argument("--model", default="lightgbm")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        one(name, args.model, args.trials, args.sampler)


if __name__ == "__main__":
    main()
