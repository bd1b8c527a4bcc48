"""One ladder candidate: a hold-out fold through the engine, early-stopped on validation, scored on both parts."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from trainwright.data import FoldPlan
from trainwright.evaluation import Trial, bootstrap_se, score_all
from trainwright.models import ModelSpec
from trainwright.models._rounds import RoundReport
from trainwright.training.engine import FitContext, FitPruned, fit_fold, predict_matrix

__all__ = ["TRAIN_SCORE_ROWS", "Fitted", "failed_trial", "fit_candidate"]

TRAIN_SCORE_ROWS = 100_000


@dataclass(frozen=True)
class Fitted:
    """A trial with its fitted pipeline and its validation predictions (its out-of-fold predictions)."""

    trial: Trial
    pipeline: Pipeline
    val_pred: np.ndarray


def _train_sample(X: pd.DataFrame, y: np.ndarray, random_state: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows the train-part scores are computed on: all of them up to TRAIN_SCORE_ROWS, else a seeded sample of
    that many (the gap to validation is then known to a few 1e-3, and a 1M-row run skips a full extra predict)."""
    if len(X) <= TRAIN_SCORE_ROWS:
        return X, y
    pick = np.sort(np.random.default_rng(random_state).choice(len(X), TRAIN_SCORE_ROWS, replace=False))
    return X.iloc[pick], y[pick]


def failed_trial(spec: ModelSpec, status: str, message: str, seed: int = 0, *, trial_id: str = "",
                 params: Mapping[str, Any] | None = None) -> Trial:
    return Trial(name=spec.name, family=spec.family, rung=spec.rung, status=status, seed=seed, message=message,
                 trial_id=trial_id, params=dict(params or {}))


def _error_text(exc: BaseException) -> str:
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"


def fit_candidate(spec: ModelSpec, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan,
                  ctx: FitContext, *, trial_id: str = "", report: RoundReport | None = None) -> Fitted | Trial:
    """Fit on the plan's one hold-out fold (train rows), score on train and its held-out (validation) rows.
    A failure comes back as a failed Trial, not an exception; a fit stopped by ``report`` (raising ``FitPruned``)
    as a ``pruned`` one."""
    (fold,) = plan.folds
    seed = fold.seed
    try:
        fit = fit_fold(spec, params, X, y, fold, ctx, early_stopping=plan.early_stopping, report=report)
        assert fit.pipeline is not None
        y_val = y[fold.held_out]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X_seen, y_seen = _train_sample(X.iloc[fold.fit], y[fold.fit], seed)
            val_scores = score_all(y_val, fit.pred, ctx.task)
            train_scores = score_all(y_seen, predict_matrix(fit.pipeline, X_seen, ctx.task), ctx.task)
    except FitPruned as stop:
        return failed_trial(spec, "pruned", str(stop), seed, trial_id=trial_id, params=params)
    except Exception as exc:  # a candidate that breaks must not stop the ladder
        return failed_trial(spec, "failed", _error_text(exc), seed, trial_id=trial_id, params=params)
    best = fit.best_iteration
    final = dict(params) if best is None or spec.early_stopping is None else spec.early_stopping.fixed(params, best)
    trial = Trial(
        name=spec.name, family=spec.family, rung=spec.rung, status="ok", params=final, seed=seed,
        val_scores=val_scores, train_scores=train_scores, val_se=bootstrap_se(y_val, fit.pred, ctx.task, random_state=seed),
        fit_seconds=fit.fit_seconds, predict_ms_per_1k=fit.predict_seconds * 1e6 / max(len(y_val), 1),
        size_bytes=len(pickle.dumps(fit.pipeline, protocol=5)), best_iteration=best, message=fit.note,
        trial_id=trial_id,
    )
    return Fitted(trial, fit.pipeline, fit.pred)
