"""The learning curve of the chosen model: fitted on 10/25/50/100% of the training rows, scored on validation.

The sizes are a subsample plan of the fold engine; it runs only within the time left before the deadline, and
points that would not fit are left out and said so.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import subsample_plan
from trainwright.evaluation.diagnosis import LearningCurve
from trainwright.models import ModelSpec
from trainwright.training.engine import FitContext, run_folds

__all__ = ["FRACTIONS", "learning_curve"]

FRACTIONS = (0.10, 0.25, 0.50, 1.00)


def learning_curve(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, n_train: int, params: Mapping[str, Any],
                   ctx: FitContext, *, full_fit_seconds: float, fractions: Sequence[float] = FRACTIONS,
                   full_scores: tuple[float, float] | None = None) -> LearningCurve:
    """Fit ``spec`` with fixed ``params`` on growing fractions of the first ``n_train`` rows of ``X`` (the training
    part), scored on the rows after them (validation). A point is skipped when its estimated fit time
    (``full_fit_seconds`` x fraction x 1.5) would pass the context's deadline.

    ``full_scores`` (train, validation) of the candidate as the ladder fitted it on all training rows are used for
    the 100% point instead of fitting it again (same rows, same parameters, same seed: the same model)."""
    plan = subsample_plan(y[:n_train], len(y) - n_train, fractions, classification=ctx.task.is_classification,
                          seed=ctx.random_state)
    done: list[tuple[float, int, float, float]] = []
    skipped = []
    for fraction, fold in zip(fractions, plan.folds, strict=True):
        if fraction >= 1.0 and full_scores is not None:
            done.append((1.0, n_train, float(full_scores[0]), float(full_scores[1])))
            continue
        if time.monotonic() + full_fit_seconds * fraction * 1.5 > ctx.deadline:
            skipped.append(f"{fraction:.0%}")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = run_folds(spec, params, X, y, replace(plan, folds=(fold,)), ctx, score_fit_rows=True)
        except Exception as exc:  # too few rows for this model: leave the point out
            skipped.append(f"{fraction:.0%} ({type(exc).__name__})")
            continue
        done.append((float(fraction), len(fold.fit), run.fit_scores[0], run.scores[0]))
    note = f"left out: {', '.join(skipped)} (time budget or too few rows)" if skipped else ""
    return LearningCurve(metric=ctx.task.metric, fractions=tuple(d[0] for d in done), n_rows=tuple(d[1] for d in done),
                         train_scores=tuple(d[2] for d in done), val_scores=tuple(d[3] for d in done), note=note)
