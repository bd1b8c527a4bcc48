"""Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold predictions.

Start from nothing; each round adds the trial (again, if it is already in) whose predictions most improve the
metric of the running average; the weights are the counts divided by the rounds kept. The round with the best
score ends the selection, so the ensemble is never worse than its best member on the rows it was selected on
(the first round is that member). Only rows every member has an out-of-fold prediction for are used: they are
choice rows, never test rows.

Selecting weights on the rows that then score them flatters the ensemble, so ``cross_fitted`` also gives the
honest version: for each fold, weights selected on the other folds' rows score that fold's rows.

``stacked`` is the other way to combine: a linear level-2 model fitted on the members' out-of-fold predictions
(Wolpert's stacking), cross-fitted the same way for its scores, then fitted on every row for the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainwright.data import Task
from trainwright.evaluation import get_metric, score_one
from trainwright.models.ensemble import meta_model, stack_features

__all__ = ["Selection", "Stack", "blend", "cross_fitted", "greedy_selection", "prepared", "stacked"]


@dataclass(frozen=True)
class Selection:
    """Weights (trial id -> weight, summing to 1, members only), the blended predictions on the selection rows,
    their score, and the score after each round."""

    weights: Mapping[str, float]
    pred: np.ndarray
    score: float
    history: tuple[float, ...]


def prepared(preds: Mapping[str, np.ndarray], task: Task) -> dict[str, np.ndarray]:
    """float64 copies; class probabilities renormalised per row (float32 rows can miss 1 by 1e-7, which
    scikit-learn's log-loss warns about)."""
    out = {}
    for tid, p in preds.items():
        m = np.asarray(p, dtype=np.float64)
        if task.is_classification:
            total = m.sum(axis=1, keepdims=True)
            m = np.divide(m, total, out=np.full_like(m, 1.0 / m.shape[1]), where=total > 0)
        out[tid] = m
    return out


def _score(y: np.ndarray, pred: np.ndarray, task: Task) -> float:
    return float(score_one(task.metric, y, pred if task.is_classification else pred.reshape(-1), task))


def blend(preds: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The weighted average of the members' predictions (float64)."""
    return sum(float(w) * np.asarray(preds[tid], dtype=np.float64) for tid, w in weights.items())  # type: ignore[return-value]


def greedy_selection(preds: Mapping[str, np.ndarray], y: np.ndarray, task: Task, *, rounds: int = 25) -> Selection:
    """Caruana's selection over ``preds`` (trial id -> (n, K) or (n, 1) predictions on the same rows as ``y``).
    ``Selection.pred`` is ``blend(prepared(preds), weights)``."""
    if not preds:
        raise ValueError("no predictions to select from")
    preds = prepared(preds, task)
    ids = list(preds)
    matrices = [np.asarray(preds[t], dtype=np.float64) for t in ids]
    sign = 1.0 if get_metric(task.metric).greater_is_better else -1.0
    total = np.zeros_like(matrices[0])
    counts = np.zeros(len(ids), dtype=int)
    history: list[float] = []
    snapshots: list[np.ndarray] = []
    for r in range(1, max(1, rounds) + 1):
        scores = [sign * _score(y, (total + m) / r, task) for m in matrices]
        pick = int(np.nanargmax(scores)) if not np.all(np.isnan(scores)) else 0
        total += matrices[pick]
        counts[pick] += 1
        history.append(sign * scores[pick])
        snapshots.append(counts.copy())
    best_round = int(np.nanargmax(sign * np.asarray(history)))
    kept = snapshots[best_round]
    weights = {ids[i]: float(c) / float(kept.sum()) for i, c in enumerate(kept) if c > 0}
    pred = blend(preds, weights)
    return Selection(weights, pred, _score(y, pred, task), tuple(history))


def cross_fitted(preds: Mapping[str, np.ndarray], y: np.ndarray, task: Task, folds: Sequence[np.ndarray], *,
                 rounds: int = 25) -> tuple[np.ndarray, tuple[float, ...]]:
    """Honest predictions and per-fold scores: each fold (positions into the rows) is predicted by weights
    selected on the other folds' rows only."""
    preds = prepared(preds, task)
    first = next(iter(preds.values()))
    out = np.full(first.shape, np.nan, dtype=np.float64)
    scores = []
    n = len(y)
    for held in folds:
        held = np.asarray(held)
        rest = np.setdiff1d(np.arange(n), held)
        chosen = greedy_selection({t: np.asarray(p)[rest] for t, p in preds.items()}, y[rest], task, rounds=rounds)
        out[held] = blend({t: np.asarray(p)[held] for t, p in preds.items()}, chosen.weights)
        scores.append(_score(y[held], out[held], task))
    return out, tuple(scores)


@dataclass(frozen=True)
class Stack:
    """A level-2 model fitted on every row (``meta``), its cross-fitted predictions and per-fold scores."""

    meta: Any
    pred: np.ndarray
    fold_scores: tuple[float, ...]
    order: tuple[str, ...]  # the members' trial ids in the column order ``meta`` expects


def stacked(preds: Mapping[str, np.ndarray], y: np.ndarray, task: Task, folds: Sequence[np.ndarray], *,
            random_state: int = 0) -> Stack:
    """Stack ``preds`` (trial id -> out-of-fold predictions on the rows of ``y``): for each fold (positions), a
    level-2 model fitted on the other folds' rows predicts it; then one fitted on every row is kept."""
    import warnings

    preds = prepared(preds, task)
    order = tuple(preds)
    n_classes = len(task.classes) if task.is_classification else 0
    features = stack_features([preds[t] for t in order], n_classes)
    out = np.full((len(y), n_classes or 1), np.nan)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of a tiny logistic regression
        for held in folds:
            held = np.asarray(held)
            rest = np.setdiff1d(np.arange(len(y)), held)
            meta = meta_model(n_classes, random_state).fit(features[rest], y[rest])
            out[held] = _meta_predict(meta, features[held], n_classes)
            scores.append(_score(y[held], out[held], task))
        meta = meta_model(n_classes, random_state).fit(features, y)
    return Stack(meta, out, tuple(scores), order)


def _meta_predict(meta: Any, features: np.ndarray, n_classes: int) -> np.ndarray:
    if not n_classes:
        return np.asarray(meta.predict(features), dtype=np.float64).reshape(-1, 1)
    out = np.zeros((len(features), n_classes))
    out[:, np.asarray(meta.classes_, dtype=int)] = meta.predict_proba(features)
    return out
