"""A weighted ensemble of fitted pipelines: what an ensemble trial becomes in the bundle.

``WeightedEnsemble`` averages its members' class probabilities (in class-code order) or regression values with
fixed weights. It is a scikit-learn estimator: ``fit`` refits a clone of every member on the rows it is given.
In a bundle it is a composite (``__bundle_composite__``): the bundle stores each member pipeline as a bundle of
its own, in its family's format, and keeps the ensemble itself, without its members, in the skops pipeline; so
the ensemble family adds one type to the skops allowlist and nothing else.

This module has no ``SPECS``: an ensemble is never a rung of the ladder, it is made from the ladder's trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from trainwright.models.predict import probabilities
from trainwright.models.serialize import Serializer

__all__ = ["SERIALIZER", "SERIALIZERS", "WeightedEnsemble"]


class WeightedEnsemble(BaseEstimator):
    """``sum_i weights[i] * members[i]`` predictions. ``n_classes``: 0 for regression, else the class count (the
    members predict class codes 0..K-1)."""

    __bundle_composite__ = True  # the bundle stores ``members`` one by one (bundle/_native.py)

    def __init__(self, members: Sequence[Any] = (), weights: Sequence[float] = (), n_classes: int = 0) -> None:
        self.members = members
        self.weights = weights
        self.n_classes = n_classes

    def __sklearn_is_fitted__(self) -> bool:
        return len(self.members) > 0

    @property
    def classes_(self) -> np.ndarray:
        if not self.n_classes:
            raise AttributeError("a regression ensemble has no classes_")
        return np.arange(self.n_classes)

    def _check(self) -> None:
        if len(self.members) != len(self.weights) or not len(self.members):
            raise ValueError("an ensemble needs one weight per member and at least one member")

    def fit(self, X: Any, y: Any) -> WeightedEnsemble:
        self._check()
        self.members = [clone(m).fit(X, y) for m in self.members]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check()
        if not self.n_classes:
            raise AttributeError("a regression ensemble has no predict_proba")
        return sum(float(w) * probabilities(m, X, self.n_classes)  # type: ignore[return-value]
                   for m, w in zip(self.members, self.weights, strict=True))

    def predict(self, X: Any) -> np.ndarray:
        self._check()
        if self.n_classes:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return sum(float(w) * np.asarray(m.predict(X), dtype=np.float64)  # type: ignore[return-value]
                   for m, w in zip(self.members, self.weights, strict=True))


SERIALIZER = Serializer("ensemble", trusted_types=frozenset({f"{__name__}.WeightedEnsemble"}))
SERIALIZERS = (SERIALIZER,)
