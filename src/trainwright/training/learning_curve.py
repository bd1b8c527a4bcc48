"""The learning curve of the chosen model: fitted on 10/25/50/100% of the training rows, scored on validation.

It runs only within the time left before the deadline; points that would not fit are left out and said so.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import Schema, Task
from trainwright.evaluation import score_one
from trainwright.evaluation.diagnosis import LearningCurve
from trainwright.models import ModelSpec
from trainwright.training.fit import fit_pipeline, predict_matrix

__all__ = ["FRACTIONS", "learning_curve"]

FRACTIONS = (0.10, 0.25, 0.50, 1.00)


def _subsample(y: np.ndarray, fraction: float, task: Task, rng: np.random.Generator) -> np.ndarray:
    """Positions of a ``fraction`` of rows; for classes, per class (at least 2 rows of each)."""
    n = len(y)
    if fraction >= 1.0:
        return np.arange(n)
    if not task.is_classification:
        return np.sort(rng.choice(n, max(round(fraction * n), 10), replace=False))
    picked = []
    for code in np.unique(y):
        members = np.flatnonzero(y == code)
        k = min(len(members), max(2, round(fraction * len(members))))
        picked.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(picked))


def learning_curve(spec: ModelSpec, schema: Schema, task: Task, X_train: pd.DataFrame, y_train: np.ndarray,
                   X_val: pd.DataFrame, y_val: np.ndarray, params: Mapping[str, Any], *, deadline: float,
                   full_fit_seconds: float, random_state: int, fractions: Sequence[float] = FRACTIONS,
                   n_jobs: int = -1, full_scores: tuple[float, float] | None = None) -> LearningCurve:
    """Fit ``spec`` with fixed ``params`` on growing fractions; a point is skipped when its estimated fit time
    (``full_fit_seconds`` x fraction x 1.5) would pass ``deadline`` (time.monotonic seconds).

    ``full_scores`` (train, validation) of the candidate as the ladder fitted it on all training rows are used for
    the 100% point instead of fitting it again (same rows, same parameters, same seed: the same model)."""
    rng = np.random.default_rng(random_state)
    done: list[tuple[float, int, float, float]] = []
    skipped = []
    for fraction in fractions:
        if fraction >= 1.0 and full_scores is not None:
            done.append((1.0, len(y_train), float(full_scores[0]), float(full_scores[1])))
            continue
        if time.monotonic() + full_fit_seconds * fraction * 1.5 > deadline:
            skipped.append(f"{fraction:.0%}")
            continue
        pos = _subsample(y_train, fraction, task, rng)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline, _, _ = fit_pipeline(spec, schema, task, X_train.iloc[pos], y_train[pos], params,
                                              random_state=random_state, n_jobs=n_jobs)
                val = score_one(task.metric, y_val, predict_matrix(pipeline, X_val, task), task)
                train = score_one(task.metric, y_train[pos], predict_matrix(pipeline, X_train.iloc[pos], task), task)
        except Exception as exc:  # too few rows for this model: leave the point out
            skipped.append(f"{fraction:.0%} ({type(exc).__name__})")
            continue
        done.append((float(fraction), len(pos), float(train), float(val)))
    note = f"left out: {', '.join(skipped)} (time budget or too few rows)" if skipped else ""
    return LearningCurve(metric=task.metric, fractions=tuple(d[0] for d in done), n_rows=tuple(d[1] for d in done),
                         train_scores=tuple(d[2] for d in done), val_scores=tuple(d[3] for d in done), note=note)
