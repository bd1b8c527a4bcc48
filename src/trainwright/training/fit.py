"""Fit one candidate: preprocessing + model as one Pipeline, early stopping on validation, scored on both parts."""

from __future__ import annotations

import pickle
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from trainwright.data import Schema, Task
from trainwright.evaluation import Trial, bootstrap_se, score_all
from trainwright.features import build_preprocessor
from trainwright.models import BuildContext, ModelSpec, probabilities

__all__ = ["TRAIN_SCORE_ROWS", "Fitted", "failed_trial", "fit_candidate", "fit_pipeline", "predict_matrix"]

TRAIN_SCORE_ROWS = 100_000


@dataclass(frozen=True)
class Fitted:
    """A trial with its fitted pipeline and its validation predictions (kept for the noise estimate)."""

    trial: Trial
    pipeline: Pipeline
    val_pred: np.ndarray


def predict_matrix(pipeline: Pipeline, X: pd.DataFrame, task: Task) -> np.ndarray:
    """Class probabilities (n, K) in the task's class order, or regression values (n,)."""
    if not task.is_classification:
        return np.asarray(pipeline.predict(X), dtype=float)
    return probabilities(pipeline, X, len(task.classes))


def _warning_note(caught: list[warnings.WarningMessage]) -> str:
    kinds = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    return "; ".join(kinds[:3])


def fit_pipeline(spec: ModelSpec, schema: Schema, task: Task, X: pd.DataFrame, y: np.ndarray, params: Mapping[str, Any],
                 *, random_state: int, n_jobs: int = -1, X_val: pd.DataFrame | None = None,
                 y_val: np.ndarray | None = None) -> tuple[Pipeline, int | None, str]:
    """Fit preprocessing and model; early-stop on (X_val, y_val) when given and the model supports it.

    Returns the fitted pipeline, the iteration count early stopping found (or None) and a note of warnings.
    """
    if X_val is None and spec.early_stopping is not None:
        params = spec.early_stopping.fixed(params, int(params["n_estimators"]))
    ctx = BuildContext(task=task.kind, n_rows=len(X), n_classes=len(task.classes), random_state=random_state, n_jobs=n_jobs)
    features = build_preprocessor(schema, spec.needs, X, random_state=random_state)
    model = spec.build(ctx, params)
    best = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Xt = features.fit_transform(X, y)
        if X_val is not None and spec.early_stopping is not None:
            Xv = features.transform(X_val)
            model.fit(Xt, y, **spec.early_stopping.fit_kwargs(Xv, y_val, model))
            best = spec.early_stopping.best_iteration(model)
        else:
            model.fit(Xt, y)
    return Pipeline([("features", features), ("model", model)]), best, _warning_note(caught)


def _train_sample(X: pd.DataFrame, y: np.ndarray, random_state: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows the train-part scores are computed on: all of them up to TRAIN_SCORE_ROWS, else a seeded sample of
    that many (the gap to validation is then known to a few 1e-3, and a 1M-row run skips a full extra predict)."""
    if len(X) <= TRAIN_SCORE_ROWS:
        return X, y
    pick = np.sort(np.random.default_rng(random_state).choice(len(X), TRAIN_SCORE_ROWS, replace=False))
    return X.iloc[pick], y[pick]


def failed_trial(spec: ModelSpec, status: str, message: str, seed: int = 0) -> Trial:
    return Trial(name=spec.name, family=spec.family, rung=spec.rung, status=status, seed=seed, message=message)


def fit_candidate(spec: ModelSpec, schema: Schema, task: Task, X_train: pd.DataFrame, y_train: np.ndarray,
                  X_val: pd.DataFrame, y_val: np.ndarray, *, params: Mapping[str, Any], random_state: int,
                  n_jobs: int = -1) -> Fitted | Trial:
    """Fit on train, score on train and validation. A failure comes back as a failed Trial, not an exception."""
    start = time.perf_counter()
    try:
        pipeline, best, note = fit_pipeline(spec, schema, task, X_train, y_train, params, random_state=random_state,
                                            n_jobs=n_jobs, X_val=X_val, y_val=y_val)
        fit_seconds = time.perf_counter() - start
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val_pred = predict_matrix(pipeline, X_val, task)
            predict_ms = (time.perf_counter() - t0) * 1000 * 1000 / max(len(X_val), 1)
            X_seen, y_seen = _train_sample(X_train, y_train, random_state)
            val_scores = score_all(y_val, val_pred, task)
            train_scores = score_all(y_seen, predict_matrix(pipeline, X_seen, task), task)
    except Exception as exc:  # a candidate that breaks must not stop the ladder
        return failed_trial(spec, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}", random_state)
    final = dict(params) if best is None or spec.early_stopping is None else spec.early_stopping.fixed(params, best)
    trial = Trial(
        name=spec.name, family=spec.family, rung=spec.rung, status="ok", params=final, seed=random_state,
        val_scores=val_scores, train_scores=train_scores, val_se=bootstrap_se(y_val, val_pred, task, random_state=random_state),
        fit_seconds=fit_seconds, predict_ms_per_1k=predict_ms, size_bytes=len(pickle.dumps(pipeline, protocol=5)),
        best_iteration=best, message=note,
    )
    return Fitted(trial, pipeline, val_pred)
