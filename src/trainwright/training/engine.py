"""The fold engine: fit one spec's pipeline over the folds of a plan, keep what every later step needs.

Every fit of the workbench goes through here: the ladder (a hold-out plan with early stopping), cross-validation
and the seed spread (k-fold and repeated plans), the learning curve (nested subsamples) and the label-noise
probabilities of the audit. A run returns per-fold scores, per-fold fitted pipelines when asked, and the out-of-fold
predictions (float32, one row per held-out row, one column per class or one value for regression), which
ensembles, stacking, threshold tuning and calibration read. Plans are built from the choice rows only, so a test
row can never be fitted or predicted here.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from trainwright.data import Fold, FoldPlan, Schema, Task
from trainwright.evaluation import score_one
from trainwright.features import build_preprocessor
from trainwright.models import BuildContext, ModelSpec, probabilities
from trainwright.models._rounds import RoundReport, round_hooks
from trainwright.training.executor import Executor, SequentialExecutor, resolve

__all__ = ["FitContext", "FitPruned", "FoldFit", "FoldRun", "fit_fold", "fit_pipeline", "predict_matrix",
           "run_folds", "warning_note"]


class FitPruned(Exception):
    """Raised by a round report to stop a fit whose validation score is not worth finishing (the search's pruner)."""


@dataclass(frozen=True)
class FitContext:
    """What every fit needs besides its rows and parameters: the problem, the seed, the deadline (time.monotonic
    seconds), the threads it may use, the device (cpu/cuda, for torch models) and whom to tell about progress."""

    schema: Schema
    task: Task
    random_state: int = 0
    deadline: float = math.inf
    n_jobs: int = -1
    device: str = "cpu"
    size_scale: float = 1.0
    listener: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)

    def for_worker(self) -> FitContext:
        """A copy without the listener (it stays in the driver; workers return results instead)."""
        return replace(self, listener=None)

    def build_context(self, n_rows: int, random_state: int | None = None) -> BuildContext:
        return BuildContext(task=self.task.kind, n_rows=n_rows, n_classes=len(self.task.classes),
                            random_state=self.random_state if random_state is None else random_state,
                            n_jobs=self.n_jobs, device=self.device, deadline=self.deadline)

    @property
    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


def predict_matrix(pipeline: Pipeline, X: pd.DataFrame, task: Task) -> np.ndarray:
    """Class probabilities (n, K) in the task's class order, or regression values (n,)."""
    if not task.is_classification:
        return np.asarray(pipeline.predict(X), dtype=float)
    return probabilities(pipeline, X, len(task.classes))


def warning_note(caught: Sequence[warnings.WarningMessage]) -> str:
    kinds = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    return "; ".join(kinds[:3])


def fit_pipeline(spec: ModelSpec, ctx: FitContext, X: pd.DataFrame, y: np.ndarray, params: Mapping[str, Any], *,
                 random_state: int | None = None, X_val: pd.DataFrame | None = None,
                 y_val: np.ndarray | None = None, report: RoundReport | None = None,
                 ) -> tuple[Pipeline, int | None, str]:
    """Fit preprocessing and model; early-stop on (X_val, y_val) when given and the model supports it. A boosted
    model also stops at ``ctx.deadline`` (keeping the rounds it made) and tells ``report`` its validation score every
    few rounds (models/_rounds.py).

    Returns the fitted pipeline, the iteration count early stopping found (or None) and a note of warnings.
    """
    seed = ctx.random_state if random_state is None else random_state
    if X_val is None and spec.early_stopping is not None:
        params = spec.early_stopping.fixed(params, int(params["n_estimators"]))
    features = build_preprocessor(ctx.schema, spec.needs, X, random_state=seed)
    model = spec.build(ctx.build_context(len(X), seed), params)
    best = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Xt = features.fit_transform(X, y)
        hooks, unhook = round_hooks(model, ctx.deadline, report)
        try:
            if X_val is not None and spec.early_stopping is not None:
                Xv = features.transform(X_val)
                stopping = spec.early_stopping.fit_kwargs(Xv, y_val, model)
                callbacks = [*hooks.get("callbacks", []), *stopping.get("callbacks", [])]
                model.fit(Xt, y, **{**hooks, **stopping, **({"callbacks": callbacks} if callbacks else {})})
                best = spec.early_stopping.best_iteration(model)
            else:
                model.fit(Xt, y, **hooks)
        finally:
            unhook()
    return Pipeline([("features", features), ("model", model)]), best, warning_note(caught)


@dataclass(frozen=True)
class FoldFit:
    """One fold's fit: its predictions on the held-out rows (and on the fitted rows when asked)."""

    fold: Fold
    pred: np.ndarray
    fit_seconds: float
    predict_seconds: float
    best_iteration: int | None = None
    note: str = ""
    pipeline: Pipeline | None = None
    fit_pred: np.ndarray | None = None


@dataclass(frozen=True)
class FoldRun:
    """Per-fold scores and fits of one spec and parameter set over a plan, and its out-of-fold predictions."""

    plan: FoldPlan
    scores: tuple[float, ...]
    fits: tuple[FoldFit, ...]
    oof: np.ndarray  # (plan.n_rows, K) or (plan.n_rows, 1), float32, NaN where a row was never held out
    fit_scores: tuple[float, ...] = ()  # the metric on each fold's own fitted rows, when asked

    @property
    def pipelines(self) -> list[Pipeline]:
        return [f.pipeline for f in self.fits if f.pipeline is not None]

    @property
    def fit_seconds(self) -> float:
        return float(sum(f.fit_seconds for f in self.fits))


def fit_fold(spec: ModelSpec, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, fold: Fold,
             ctx: FitContext, *, early_stopping: bool = False, predict_fit_rows: bool = False,
             keep_pipeline: bool = True, report: RoundReport | None = None) -> FoldFit:
    """Fit on the fold's rows (early-stopping on its held-out rows when asked), predict its held-out rows."""
    X_fit, y_fit = X.iloc[fold.fit], y[fold.fit]
    X_out, y_out = X.iloc[fold.held_out], y[fold.held_out]
    start = time.perf_counter()
    pipeline, best, note = fit_pipeline(spec, ctx, X_fit, y_fit, params, random_state=fold.seed,
                                        X_val=X_out if early_stopping else None,
                                        y_val=y_out if early_stopping else None, report=report)
    fit_seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        pred = predict_matrix(pipeline, X_out, ctx.task)
        predict_seconds = time.perf_counter() - t0
        fit_pred = predict_matrix(pipeline, X_fit, ctx.task) if predict_fit_rows else None
    return FoldFit(fold, pred, fit_seconds, predict_seconds, best, note, pipeline if keep_pipeline else None, fit_pred)


@dataclass(frozen=True)
class _FoldTask:
    """One fold's work, as an executor item (picklable: workers get no listener)."""

    spec: ModelSpec
    params: Mapping[str, Any]
    data: tuple[Any, Any]  # (X, y), or the executor's handles to them (see ``Executor.share``)
    fold: Fold
    ctx: FitContext
    early_stopping: bool
    predict_fit_rows: bool
    keep_pipeline: bool


def _run_task(task: _FoldTask) -> FoldFit:
    X, y = resolve(task.data[0]), resolve(task.data[1])
    return fit_fold(task.spec, task.params, X, y, task.fold, task.ctx, early_stopping=task.early_stopping,
                    predict_fit_rows=task.predict_fit_rows, keep_pipeline=task.keep_pipeline)


def out_of_fold(plan: FoldPlan, fits: Sequence[FoldFit], n_outputs: int) -> np.ndarray:
    """The held-out predictions of every fold in one (n_rows, n_outputs) float32 matrix, averaged over repeats."""
    total = np.zeros((plan.n_rows, n_outputs), dtype=np.float64)
    count = np.zeros(plan.n_rows, dtype=np.int32)
    for fit in fits:
        total[fit.fold.held_out] += np.asarray(fit.pred, dtype=np.float64).reshape(len(fit.fold.held_out), -1)
        count[fit.fold.held_out] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        oof = (total / count[:, None]).astype(np.float32)
    oof[count == 0] = np.nan
    return oof


def run_folds(spec: ModelSpec, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan,
              ctx: FitContext, *, executor: Executor | None = None, keep_pipelines: bool = False,
              score_fit_rows: bool = False) -> FoldRun:
    """Fit ``spec`` with ``params`` on every fold of ``plan`` (rows of ``X``/``y`` by position); score each fold's
    held-out rows with the task's metric. A fold that fails raises: the caller decides what a failure means."""
    executor = executor or SequentialExecutor(ctx.n_jobs)
    worker_ctx = replace(ctx.for_worker(), n_jobs=executor.threads_per_task)
    data = (executor.share(X), executor.share(y)) if len(plan.folds) > 1 else (X, y)
    tasks = [_FoldTask(spec, params, data, fold, worker_ctx, plan.early_stopping, score_fit_rows, keep_pipelines)
             for fold in plan.folds]
    fits = executor.map(_run_task, tasks)
    metric, task = ctx.task.metric, ctx.task
    scores = tuple(float(score_one(metric, y[f.fold.held_out], f.pred, task)) for f in fits)
    fit_scores = tuple(float(score_one(metric, y[f.fold.fit], f.fit_pred, task)) for f in fits
                       if f.fit_pred is not None)
    n_outputs = len(task.classes) if task.is_classification else 1
    return FoldRun(plan, scores, tuple(fits), out_of_fold(plan, fits, n_outputs), fit_scores)
