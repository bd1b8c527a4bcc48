"""Thresholds for business metrics: each binary candidate's decision threshold tuned for the metric on its
out-of-fold predictions (every choice row when it was cross-validated, else the validation part), and its scores
recomputed at that threshold, so the choice compares each model at its best cut. The test part is never used.

The tuning rows are the rows the candidate is then scored on: a slight optimism, the same for every candidate, and
the one test result (at the chosen model's threshold, fixed before the test) stays honest.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from trainwright.data import Task
from trainwright.evaluation import Trial, score_all, score_one
from trainwright.evaluation.threshold import tune_threshold, tunes_threshold
from trainwright.workflow.steps import RunState

__all__ = ["with_thresholds"]


def _rows_y(run: RunState, rows: np.ndarray) -> np.ndarray:
    return run.prep.y[run.prep.X.index.get_indexer(rows)]


def _cv_scores(run: RunState, trial: Trial, task: Task) -> tuple[float, ...]:
    """The trial's fold scores recomputed at ``task``'s threshold from its out-of-fold predictions."""
    if not trial.cv_scores or run.cv_plan is None:
        return trial.cv_scores
    rows, pred = run.oof.entries[trial.trial_id]
    labels = run.prep.X.index.to_numpy()[: run.n_choice]
    where = pd.Index(rows).get_indexer(labels)
    scores = []
    for fold in run.cv_plan.folds:
        at = where[fold.held_out]
        at = at[at >= 0]
        scores.append(float(score_one(task.metric, _rows_y(run, rows[at]), pred[at].astype(np.float64), task)))
    return tuple(scores)


def _validation_pred(run: RunState, trial: Trial) -> tuple[np.ndarray, np.ndarray]:
    """(y, predictions) on the validation part: the hold-out fit's own, else the out-of-fold ones on those rows
    (a search trial scored on folds, an ensemble)."""
    if trial.trial_id in run.holdout_pred:
        return run.prep.y[len(run.split.train):run.n_choice], run.holdout_pred[trial.trial_id]
    rows, pred = run.oof.entries[trial.trial_id]
    on_validation = np.isin(rows, run.split.validation)
    return _rows_y(run, rows[on_validation]), pred[on_validation].astype(np.float64)


def _at_own_threshold(run: RunState, trial: Trial) -> Trial:
    rows, pred = run.oof.entries[trial.trial_id]
    task = replace(run.prep.task, threshold=tune_threshold(_rows_y(run, rows), pred, run.prep.task))
    y_val, val_pred = _validation_pred(run, trial)
    val_scores = score_all(y_val, val_pred, task) if len(y_val) else dict(trial.val_scores)
    return replace(trial, threshold=task.threshold, val_scores=val_scores, cv_scores=_cv_scores(run, trial, task))


def with_thresholds(run: RunState, trials: list[Trial]) -> list[Trial]:
    """Every ok binary trial at its own tuned threshold, when the metric is one of a hard decision."""
    if not tunes_threshold(run.prep.task):
        return trials
    run.schemes["threshold"] = (f"tuned for {run.prep.task.metric} on each candidate's out-of-fold predictions "
                                "of the choice rows")
    return [_at_own_threshold(run, t) if t.ok and t.trial_id in run.oof else t for t in trials]
