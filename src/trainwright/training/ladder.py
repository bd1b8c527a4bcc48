"""Climb the ladder: simplest first, every candidate fitted on train and scored on validation, within a budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import Schema, Task
from trainwright.evaluation import Trial, score_one
from trainwright.models import ModelSpec
from trainwright.training.fit import Fitted, failed_trial, fit_candidate, fit_pipeline, predict_matrix

__all__ = ["Event", "climb", "cross_validate"]


@dataclass(frozen=True)
class Event:
    """Progress: ``stage`` is start / done / skipped; ``trial`` is set when it ends. ``step`` is prepare (``payload``
    is the workflow's Prepared data, audit included, before any model is fitted), ladder, cv or seeds (with a
    ``spec``), then refit (the chosen model on train+validation, scored once on test), analysis and bundle (no spec)."""

    stage: str
    spec: ModelSpec | None
    trial: Trial | None = None
    step: str = "ladder"
    payload: Any = None


Listener = Callable[[Event], None]


def _estimate(spec: ModelSpec, unit_seconds: float) -> float:
    return spec.relative_cost * unit_seconds


def climb(specs: Sequence[ModelSpec], schema: Schema, task: Task, X_train: pd.DataFrame, y_train: np.ndarray,
          X_val: pd.DataFrame, y_val: np.ndarray, *, deadline: float, random_state: int, size_scale: float = 1.0,
          n_jobs: int = -1, on_event: Listener | None = None) -> list[Fitted | Trial]:
    """Fit each spec in order. Baselines always run; others are skipped (and say why) when they do not fit the
    task, the data size or the time left before ``deadline`` (time.monotonic seconds)."""
    notify = on_event or (lambda e: None)
    results: list[Fitted | Trial] = []
    unit = 0.0  # seconds of the cheapest informative fit so far, scaled by relative cost
    for spec in specs:
        reason = None
        if not spec.supports(task.kind):
            reason = f"does not support {task.kind.value} tasks"
        elif spec.max_rows is not None and len(X_train) > spec.max_rows:
            reason = f"skipped: {len(X_train)} training rows is above its limit of {spec.max_rows}"
        elif not spec.is_baseline:
            left = deadline - time.monotonic()
            needed = _estimate(spec, unit)
            if left <= 0 or needed > left:
                reason = f"skipped: time budget (estimated {needed:.1f}s, {max(left, 0):.1f}s left)"
        if reason:
            trial = failed_trial(spec, "skipped", reason, random_state)
            results.append(trial)
            notify(Event("skipped", spec, trial))
            continue
        notify(Event("start", spec))
        fitted = fit_candidate(spec, schema, task, X_train, y_train, X_val, y_val,
                               params=spec.params(size_scale=size_scale), random_state=random_state, n_jobs=n_jobs)
        trial = fitted.trial if isinstance(fitted, Fitted) else fitted
        if trial.ok and not spec.is_baseline:
            unit = max(unit, trial.fit_seconds / max(spec.relative_cost, 1e-3))
        results.append(fitted)
        notify(Event("done", spec, trial))
    return results


def cross_validate(trial: Trial, spec: ModelSpec, schema: Schema, task: Task, X: pd.DataFrame, y: np.ndarray,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]], *, random_state: int, n_jobs: int = -1) -> Trial:
    """Score ``trial``'s final parameters on each fold (iterations fixed: no early stopping on the held-out fold)."""
    scores = []
    for train_idx, test_idx in folds:
        try:
            pipeline, _, _ = fit_pipeline(spec, schema, task, X.iloc[train_idx], y[train_idx], trial.params,
                                          random_state=random_state, n_jobs=n_jobs)
            pred = predict_matrix(pipeline, X.iloc[test_idx], task)
            scores.append(score_one(task.metric, y[test_idx], pred, task))
        except Exception as exc:
            return replace(trial, message=(trial.message + f"; cv failed: {type(exc).__name__}").lstrip("; "))
    return replace(trial, cv_scores=tuple(float(s) for s in scores))
