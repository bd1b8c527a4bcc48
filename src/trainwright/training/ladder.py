"""Climb the ladder: simplest first, every candidate fitted on train and scored on validation, within a budget;
then cross-validate the candidates the choice needs, through the same fold engine."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import FoldPlan
from trainwright.evaluation import Trial, TrialIds
from trainwright.models import ModelSpec
from trainwright.models._rounds import stops_at_deadline
from trainwright.training.engine import FitContext, FoldRun, run_folds
from trainwright.training.events import Event
from trainwright.training.executor import Executor, resolve
from trainwright.training.fit import Fitted, failed_trial, fit_candidate

__all__ = ["FIT_SHARE", "CandidateTask", "climb", "cross_validate", "expected_seconds"]

FIT_SHARE = 0.4  # one ladder fit may use at most this share of the time left (a boosted fit is stopped there)
MIN_STOPPABLE_S = 1.0  # a model that stops between rounds is tried whenever this much time is left


def expected_seconds(spec: ModelSpec, unit_seconds: float) -> float:
    """A spec's expected fit time: its relative cost times the seconds one unit of cost took so far."""
    return spec.relative_cost * unit_seconds


def _stoppable(spec: ModelSpec, ctx: FitContext, n_train: int) -> bool:
    """Whether ``spec``'s model stops between boosting rounds at the deadline (so it fits in any time left)."""
    try:
        return stops_at_deadline(spec.build(ctx.build_context(n_train), spec.params(size_scale=ctx.size_scale)))
    except Exception:
        return False


def _skip_reason(spec: ModelSpec, ctx: FitContext, n_train: int, unit: float) -> str | None:
    if not spec.supports(ctx.task.kind):
        return f"does not support {ctx.task.kind.value} tasks"
    if spec.max_rows is not None and n_train > spec.max_rows:
        return f"skipped: {n_train} training rows is above its limit of {spec.max_rows}"
    if not spec.is_baseline:
        left = ctx.seconds_left
        needed = expected_seconds(spec, unit)
        if left <= 0 or needed > left:
            if left > 0 and spec.rung <= 1 and unit == 0.0:
                return None  # the simple model, not timed yet: it is the reference every later rung is judged by
            if left >= MIN_STOPPABLE_S and _stoppable(spec, ctx, n_train):
                return None  # a boosted model fits in whatever is left: it stops at the deadline with what it made
            return f"skipped: time budget (estimated {needed:.1f}s, {max(left, 0):.1f}s left)"
    return None


def capped(ctx: FitContext, spec: ModelSpec) -> FitContext:
    """The context of one ladder fit: at most FIT_SHARE of the time left, so one slow candidate cannot take it all
    (a boosted model stops there; the others are sized by the skip estimate)."""
    if spec.is_baseline or not math.isfinite(ctx.deadline):
        return ctx
    return replace(ctx, deadline=time.monotonic() + FIT_SHARE * max(ctx.seconds_left, 0.0))


def _skipped(spec: ModelSpec, ctx: FitContext, n_train: int, unit: float, trial_id: str,
             params: Mapping[str, Any]) -> Trial | None:
    """The skipped trial (and its event) when ``spec`` does not fit the task, the size or the time left."""
    reason = _skip_reason(spec, ctx, n_train, unit)
    if not reason:
        return None
    trial = failed_trial(spec, "skipped", reason, ctx.random_state, trial_id=trial_id, params=params)
    if ctx.listener is not None:
        ctx.listener(Event("skipped", spec, trial))
    return trial


def climb(specs: Sequence[ModelSpec], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *,
          ids: TrialIds | None = None, executor: Executor | None = None) -> list[Fitted | Trial]:
    """Fit each spec with its default parameters on the hold-out ``plan``, in order. Baselines always run; others
    are skipped (and say why) when they do not fit the task, the data size or the time left before the deadline.
    With an executor of several workers, the candidates are fitted side by side (the time check then uses the
    deadline only: no candidate has been timed yet)."""
    if executor is not None and executor.n_workers > 1:
        return _climb_parallel(specs, X, y, plan, ctx, ids or TrialIds(), executor)
    notify = ctx.listener or (lambda e: None)
    ids = ids or TrialIds()
    results: list[Fitted | Trial] = []
    unit = 0.0  # seconds of the cheapest informative fit so far, scaled by relative cost
    n_train = len(plan.folds[0].fit)
    for spec in specs:
        trial_id, params = ids.new(spec.name), spec.params(size_scale=ctx.size_scale)
        skipped = _skipped(spec, ctx, n_train, unit, trial_id, params)
        if skipped is not None:
            results.append(skipped)
            continue
        notify(Event("start", spec))
        fitted = fit_candidate(spec, params, X, y, plan, capped(ctx, spec), trial_id=trial_id)
        trial = fitted.trial if isinstance(fitted, Fitted) else fitted
        if trial.ok and not spec.is_baseline:
            unit = max(unit, trial.fit_seconds / max(spec.relative_cost, 1e-3))
        results.append(fitted)
        notify(Event("done", spec, trial))
        curve = getattr(fitted.pipeline[-1], "history_", None) if isinstance(fitted, Fitted) else None
        if curve:  # a model trained in epochs (the neural family): its per-epoch losses and validation scores
            notify(Event("done", spec, trial, step="curve", payload=tuple(curve)))
    return results


@dataclass(frozen=True)
class CandidateTask:
    """One hold-out fit as an executor item (picklable: the worker's context has no listener); the ladder's and the
    search's."""

    spec: ModelSpec
    params: Mapping[str, Any]
    data: tuple[Any, Any]  # the executor's handles to (X, y)
    plan: FoldPlan
    ctx: FitContext
    trial_id: str


def _fit_candidate_task(task: CandidateTask) -> Fitted | Trial:
    X, y = resolve(task.data[0]), resolve(task.data[1])
    return fit_candidate(task.spec, task.params, X, y, task.plan, task.ctx, trial_id=task.trial_id)


def _climb_parallel(specs: Sequence[ModelSpec], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext,
                    ids: TrialIds, executor: Executor) -> list[Fitted | Trial]:
    notify = ctx.listener or (lambda e: None)
    n_train = len(plan.folds[0].fit)
    results: list[Fitted | Trial | None] = []
    tasks: list[CandidateTask] = []
    data = (executor.share(X), executor.share(y))
    worker_ctx = replace(ctx.for_worker(), n_jobs=executor.threads_per_task)
    for spec in specs:
        trial_id, params = ids.new(spec.name), spec.params(size_scale=ctx.size_scale)
        skipped = _skipped(spec, ctx, n_train, 0.0, trial_id, params)
        if skipped is not None:
            results.append(skipped)
            continue
        notify(Event("start", spec))
        results.append(None)
        tasks.append(CandidateTask(spec, params, data, plan, worker_ctx, trial_id))
    fitted = iter(executor.map(_fit_candidate_task, tasks))
    out: list[Fitted | Trial] = []
    for task_spec, result in zip(specs, results, strict=True):
        if result is None:
            result = next(fitted)
            notify(Event("done", task_spec, result.trial if isinstance(result, Fitted) else result))
        out.append(result)
    return out


def cross_validate(trial: Trial, spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *,
                   executor: Executor | None = None, keep_pipelines: bool = False) -> tuple[Trial, FoldRun | None]:
    """Score ``trial``'s final parameters on each fold (iterations fixed: no early stopping on the held-out fold).
    Returns the trial with its fold scores and the engine's run (None when a fold failed: the trial says why); with
    ``keep_pipelines`` the run holds the fold models (a bag)."""
    try:
        run = run_folds(spec, trial.params, X, y, replace(plan, early_stopping=False), ctx, executor=executor,
                        keep_pipelines=keep_pipelines)
    except Exception as exc:
        return replace(trial, message=(trial.message + f"; cv failed: {type(exc).__name__}").lstrip("; ")), None
    return replace(trial, cv_scores=run.scores), run
