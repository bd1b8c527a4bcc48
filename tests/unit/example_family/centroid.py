"""Rung 2 (example family, tests only): nearest class centroid, saved by its own serializer as plain JSON.

Written exactly as it would be as src/trainwright/models/centroid.py: the spec, the estimator and how it travels in
a bundle live in this one file, and nothing else names it. tests/unit/test_model_families.py discovers it the way
the registry discovers the built-in families.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer, bundle_file
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["CENTROID", "SERIALIZER", "SPECS", "CentroidClassifier"]


class CentroidClassifier(ClassifierMixin, BaseEstimator):
    """Class probabilities: a softmax over minus the squared distances to each class's mean row."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def fit(self, X: Any, y: Any) -> CentroidClassifier:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        distance = ((np.asarray(X, dtype=np.float64)[:, None, :] - self.centroids_[None]) ** 2).sum(axis=-1)
        logits = -distance / self.temperature
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


_FILE = "centroids.json"


def _save(estimator: CentroidClassifier, directory: Path) -> dict[str, Any]:
    state = {"classes": estimator.classes_.tolist(), "centroids": estimator.centroids_.tolist()}
    (Path(directory) / _FILE).write_text(json.dumps(state), encoding="utf-8")  # floats round-trip exactly
    return {"temperature": float(estimator.temperature)}


def _load(description: Mapping[str, Any], directory: Path) -> CentroidClassifier:
    state = json.loads(bundle_file(directory, _FILE).read_text(encoding="utf-8"))
    estimator = CentroidClassifier(temperature=float(description["temperature"]))
    estimator.classes_ = np.asarray(state["classes"])
    estimator.centroids_ = np.asarray(state["centroids"], dtype=np.float64)
    return estimator


SERIALIZER = Serializer("centroid", handles=lambda est: isinstance(est, CentroidClassifier), save=_save, load=_load)


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    return CentroidClassifier(temperature=params["temperature"])


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    return {"temperature": FloatDistribution(0.1, 10.0, log=True)}


CENTROID = ModelSpec(
    name="centroid", family="centroid", rung=2, build=_build, needs=FeatureNeeds(scale=True),
    tasks=frozenset({TaskKind.BINARY, TaskKind.MULTICLASS}), defaults={"temperature": 1.0},
    search_space=_space, relative_cost=0.5, description="nearest class centroid",
    serializer=SERIALIZER,
)

SPECS = (CENTROID,)
