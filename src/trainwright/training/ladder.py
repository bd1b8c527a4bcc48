"""Climb the ladder: simplest first, every candidate fitted on train and scored on validation, within a budget;
then cross-validate the candidates the choice needs, through the same fold engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from trainwright.data import FoldPlan
from trainwright.evaluation import Trial, TrialIds
from trainwright.models import ModelSpec
from trainwright.training.engine import FitContext, FoldRun, run_folds
from trainwright.training.events import Event
from trainwright.training.executor import Executor
from trainwright.training.fit import Fitted, failed_trial, fit_candidate

__all__ = ["climb", "cross_validate", "expected_seconds"]


def expected_seconds(spec: ModelSpec, unit_seconds: float) -> float:
    """A spec's expected fit time: its relative cost times the seconds one unit of cost took so far."""
    return spec.relative_cost * unit_seconds


def _skip_reason(spec: ModelSpec, ctx: FitContext, n_train: int, unit: float) -> str | None:
    if not spec.supports(ctx.task.kind):
        return f"does not support {ctx.task.kind.value} tasks"
    if spec.max_rows is not None and n_train > spec.max_rows:
        return f"skipped: {n_train} training rows is above its limit of {spec.max_rows}"
    if not spec.is_baseline:
        left = ctx.seconds_left
        needed = expected_seconds(spec, unit)
        if left <= 0 or needed > left:
            return f"skipped: time budget (estimated {needed:.1f}s, {max(left, 0):.1f}s left)"
    return None


def climb(specs: Sequence[ModelSpec], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *,
          ids: TrialIds | None = None) -> list[Fitted | Trial]:
    """Fit each spec with its default parameters on the hold-out ``plan``, in order. Baselines always run; others
    are skipped (and say why) when they do not fit the task, the data size or the time left before the deadline."""
    notify = ctx.listener or (lambda e: None)
    ids = ids or TrialIds()
    results: list[Fitted | Trial] = []
    unit = 0.0  # seconds of the cheapest informative fit so far, scaled by relative cost
    n_train = len(plan.folds[0].fit)
    for spec in specs:
        trial_id = ids.new(spec.name)
        params = spec.params(size_scale=ctx.size_scale)
        reason = _skip_reason(spec, ctx, n_train, unit)
        if reason:
            trial = failed_trial(spec, "skipped", reason, ctx.random_state, trial_id=trial_id, params=params)
            results.append(trial)
            notify(Event("skipped", spec, trial))
            continue
        notify(Event("start", spec))
        fitted = fit_candidate(spec, params, X, y, plan, ctx, trial_id=trial_id)
        trial = fitted.trial if isinstance(fitted, Fitted) else fitted
        if trial.ok and not spec.is_baseline:
            unit = max(unit, trial.fit_seconds / max(spec.relative_cost, 1e-3))
        results.append(fitted)
        notify(Event("done", spec, trial))
    return results


def cross_validate(trial: Trial, spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *,
                   executor: Executor | None = None) -> tuple[Trial, FoldRun | None]:
    """Score ``trial``'s final parameters on each fold (iterations fixed: no early stopping on the held-out fold).
    Returns the trial with its fold scores and the engine's run (None when a fold failed: the trial says why)."""
    try:
        run = run_folds(spec, trial.params, X, y, replace(plan, early_stopping=False), ctx, executor=executor)
    except Exception as exc:
        return replace(trial, message=(trial.message + f"; cv failed: {type(exc).__name__}").lstrip("; ")), None
    return replace(trial, cv_scores=run.scores), run
