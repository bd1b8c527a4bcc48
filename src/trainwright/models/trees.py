"""Rung 4: bagged tree ensembles (random forest, extra trees)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["EXTRA_TREES", "RANDOM_FOREST", "SERIALIZER", "SPECS"]

_MAX_SAMPLES = 200_000  # rows per tree on large data, so memory and time stay bounded
_ROWS_PER_LEAF = 20_000  # min_samples_leaf grows with the data for the same reason
SERIALIZER = Serializer("trees", trusted_types=frozenset({"sklearn.tree._tree.Tree"}))  # each tree's node arrays


def _builder(classifier: type, regressor: type) -> Any:
    def build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
        cls = regressor if ctx.task is TaskKind.REGRESSION else classifier
        extra: dict[str, Any] = {}
        if ctx.n_rows > _MAX_SAMPLES and classifier is RandomForestClassifier:
            extra["max_samples"] = _MAX_SAMPLES / ctx.n_rows
        return cls(
            n_estimators=int(params["n_estimators"]),
            min_samples_leaf=max(params["min_samples_leaf"], ctx.n_rows // _ROWS_PER_LEAF),
            max_features=params["max_features"] if ctx.task is not TaskKind.REGRESSION else params["max_features_regression"],
            n_jobs=ctx.n_jobs, random_state=ctx.random_state, **extra,
        )

    return build


_DEFAULTS = {"n_estimators": 300, "min_samples_leaf": 1, "max_features": "sqrt", "max_features_regression": 0.5}


def _space(ctx: BuildContext) -> dict[str, Any]:
    """Leaf size and features per split (the key the builder reads for this task); more trees never hurt, so the
    count is not searched."""
    from optuna.distributions import FloatDistribution, IntDistribution

    features = "max_features_regression" if ctx.task is TaskKind.REGRESSION else "max_features"
    return {"min_samples_leaf": IntDistribution(1, 30, log=True), features: FloatDistribution(0.1, 1.0)}


_PORTFOLIO = ({"min_samples_leaf": 2, "max_features": 0.5, "max_features_regression": 0.8},
              {"min_samples_leaf": 5, "max_features": 0.3, "max_features_regression": 0.33})
_NEEDS = FeatureNeeds(one_hot=False, handles_missing=True)

RANDOM_FOREST = ModelSpec(
    name="random_forest", family="trees", rung=4, build=_builder(RandomForestClassifier, RandomForestRegressor),
    needs=_NEEDS, defaults=_DEFAULTS, search_space=_space, portfolio=_PORTFOLIO, relative_cost=5.0, description="random forest",
    serializer=SERIALIZER,
)
EXTRA_TREES = ModelSpec(
    name="extra_trees", family="trees", rung=4, build=_builder(ExtraTreesClassifier, ExtraTreesRegressor),
    needs=_NEEDS, defaults=_DEFAULTS, search_space=_space, portfolio=_PORTFOLIO, relative_cost=4.0, description="extremely randomised trees",
    serializer=SERIALIZER,
)

SPECS = (RANDOM_FOREST, EXTRA_TREES)
