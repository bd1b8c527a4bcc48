"""A weighted ensemble of fitted pipelines: what an ensemble trial becomes in the bundle.

``WeightedEnsemble`` averages its members' class probabilities (in class-code order) or regression values with
fixed weights. It is a scikit-learn estimator: ``fit`` refits a clone of every member on the rows it is given.
In a bundle it is a composite (``__bundle_composite__``): the bundle stores each member pipeline as a bundle of
its own, in its family's format, and keeps the ensemble itself, without its members, in the skops pipeline; so
the ensemble family adds one type to the skops allowlist and nothing else.

``StackedEnsemble`` feeds its members' predictions (log-probabilities, or values for regression) to a fitted linear
level-2 model (``meta``); it is a composite the same way, its ``meta`` staying in the skops pipeline.

A bag (k fold models of one configuration averaged) is a ``WeightedEnsemble`` with equal weights.

This module has no ``SPECS``: an ensemble is never a rung of the ladder, it is made from the ladder's trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from trainwright.models.predict import probabilities
from trainwright.models.serialize import Serializer

__all__ = ["SERIALIZER", "SERIALIZERS", "StackedEnsemble", "WeightedEnsemble", "meta_model", "stack_features"]

_EPS = 1e-6


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


def stack_features(preds: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """The level-2 inputs from the members' predictions: per member, the log-odds of the positive class (binary),
    the log-probability of every class (multiclass) or the predicted value (regression). Log-odds, not
    probabilities: a linear meta-model on them is a weighted geometric blend, the usual stacker."""
    columns = []
    for pred in preds:
        p = np.asarray(pred, dtype=np.float64)
        if not n_classes:
            columns.append(p.reshape(len(p), 1))
            continue
        p = np.clip(p.reshape(len(p), n_classes), _EPS, 1.0 - _EPS)
        columns.append(np.log(p[:, 1:] / p[:, :1]) if n_classes == 2 else np.log(p))
    return np.hstack(columns)


def meta_model(n_classes: int, random_state: int = 0) -> Any:
    """The level-2 model: a regularised logistic regression, or a linear regression with non-negative weights
    (Breiman's stacked regression), both small enough not to over-fit a few dozen out-of-fold columns."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if n_classes:
        return LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
    return LinearRegression(positive=True)


class StackedEnsemble(BaseEstimator):
    """A fitted level-2 ``meta`` model over the predictions of fitted ``members`` (see ``stack_features``)."""

    __bundle_composite__ = True  # members stored one by one; ``meta`` stays in the skops pipeline

    def __init__(self, members: Sequence[Any] = (), meta: Any = None, n_classes: int = 0) -> None:
        self.members = members
        self.meta = meta
        self.n_classes = n_classes

    def __sklearn_is_fitted__(self) -> bool:
        return len(self.members) > 0 and self.meta is not None

    @property
    def classes_(self) -> np.ndarray:
        if not self.n_classes:
            raise AttributeError("a regression stack has no classes_")
        return np.arange(self.n_classes)

    def _features(self, X: Any) -> np.ndarray:
        if not self.__sklearn_is_fitted__():
            raise ValueError("a stack needs fitted members and a fitted meta model")
        preds = [probabilities(m, X, self.n_classes) if self.n_classes else m.predict(X) for m in self.members]
        return stack_features(preds, self.n_classes)

    def fit(self, X: Any, y: Any) -> StackedEnsemble:
        raise NotImplementedError("a stack is fitted on out-of-fold predictions (training/ensemble.py), not on rows")

    def predict_proba(self, X: Any) -> np.ndarray:
        if not self.n_classes:
            raise AttributeError("a regression stack has no predict_proba")
        out = np.zeros((len(X), self.n_classes))
        out[:, np.asarray(self.meta.classes_, dtype=int)] = self.meta.predict_proba(self._features(X))
        return out

    def predict(self, X: Any) -> np.ndarray:
        if self.n_classes:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return np.asarray(self.meta.predict(self._features(X)), dtype=np.float64)


SERIALIZER = Serializer("ensemble", trusted_types=frozenset({f"{__name__}.WeightedEnsemble",
                                                             f"{__name__}.StackedEnsemble"}))
SERIALIZERS = (SERIALIZER,)
