"""Predictions in one shape for every family: (n, K) probabilities in class-code order, rows summing to 1."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["probabilities"]


def probabilities(estimator: Any, X: Any, n_classes: int) -> np.ndarray:
    """``estimator.predict_proba`` widened to all ``n_classes`` codes (a class unseen in training gets 0) and
    renormalised in float64 (XGBoost's float32 rows can miss 1 by 1e-7)."""
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    seen = np.asarray(estimator.classes_, dtype=int)
    if proba.shape[1] != n_classes or not np.array_equal(seen, np.arange(n_classes)):
        full = np.zeros((len(proba), n_classes))
        full[:, seen] = proba
        proba = full
    total = proba.sum(axis=1, keepdims=True)
    return np.divide(proba, total, out=np.full_like(proba, 1.0 / n_classes), where=total > 0)
