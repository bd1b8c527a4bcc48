"""Likely mislabelled rows: cleanlab's ``find_label_issues`` on out-of-fold predicted probabilities.

The probabilities come from ``cross_val_predict`` of a simple model (logistic regression on standardised numbers
and one-hot categories, or a small LightGBM), so every row is judged by a model that never saw it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["MAX_ROWS", "find_label_issues", "out_of_fold_probabilities"]

MAX_ROWS = 20_000  # larger data is sampled (stratified) for this check
MAX_ONE_HOT = 20


def _design(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    parts = []
    if numeric:
        num = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
        num = num.fillna(num.median()).fillna(0.0)
        std = num.std().replace(0, 1).fillna(1)
        parts.append(((num - num.mean()) / std).to_numpy())
    for col in categorical:
        s = frame[col].astype(str)
        top = s.value_counts().index[:MAX_ONE_HOT]
        parts.append(pd.get_dummies(s.where(s.isin(top), "__other__"), dtype=float).to_numpy())
    return np.hstack(parts) if parts else np.zeros((len(frame), 1))


def out_of_fold_probabilities(X: np.ndarray, y: np.ndarray, *, model: str = "logistic", n_folds: int = 5,
                              random_state: int = 0) -> np.ndarray:
    """Out-of-fold class probabilities (n, K) from ``cross_val_predict``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if model == "lightgbm":
        from lightgbm import LGBMClassifier

        estimator = LGBMClassifier(n_estimators=100, num_leaves=15, learning_rate=0.1, random_state=random_state,
                                   n_jobs=1, verbose=-1)
    else:
        estimator = LogisticRegression(max_iter=2000, C=1.0)
    folds = int(min(n_folds, np.bincount(y).min()))
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, message=".*feature names.*")
        return cross_val_predict(estimator, X, y, cv=cv, method="predict_proba")


def find_label_issues(frame: pd.DataFrame, y: np.ndarray, numeric: list[str], categorical: list[str], *,
                      model: str = "logistic", max_rows: int = MAX_ROWS, random_state: int = 0) -> tuple[pd.Index, int]:
    """Row labels cleanlab flags as likely mislabelled (most suspicious first), and how many rows were checked.

    ``y`` holds class codes 0..K-1 aligned with ``frame``. Classes with fewer than 5 rows are left out.
    """
    from cleanlab.filter import find_label_issues as _cleanlab_find

    y = np.asarray(y, dtype=int)
    counts = np.bincount(y)
    keep = counts[y] >= 5
    if len(frame) > max_rows:
        rng = np.random.default_rng(random_state)
        chosen = np.zeros(len(frame), dtype=bool)
        chosen[rng.choice(len(frame), max_rows, replace=False)] = True
        keep &= chosen
    sub, labels = frame.loc[keep], y[keep]
    if len(np.unique(labels)) < 2:
        return pd.Index([]), 0
    _, labels = np.unique(labels, return_inverse=True)
    X = _design(sub, numeric, categorical)
    probs = out_of_fold_probabilities(X, labels, model=model, random_state=random_state)
    ranked = _cleanlab_find(labels=labels, pred_probs=probs, return_indices_ranked_by="self_confidence")
    return sub.index[np.asarray(ranked, dtype=int)], len(sub)
