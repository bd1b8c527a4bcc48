"""Rung 0: the dummy baseline every model must beat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.dummy import DummyClassifier, DummyRegressor

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["DUMMY", "SERIALIZER", "SPECS"]

SERIALIZER = Serializer("baseline")  # the dummies hold class priors or a constant: skops' defaults suffice


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    if ctx.task is TaskKind.REGRESSION:
        return DummyRegressor(strategy=params.get("regression_strategy", "mean"))
    return DummyClassifier(strategy=params.get("classification_strategy", "prior"), random_state=ctx.random_state)


DUMMY = ModelSpec(
    name="dummy", family="baseline", rung=0, build=_build, needs=FeatureNeeds(uses_features=False),
    defaults={"classification_strategy": "prior", "regression_strategy": "mean"}, relative_cost=0.05,
    tags=frozenset({"baseline"}), description="predicts the class frequencies or the mean", serializer=SERIALIZER,
)

SPECS = (DUMMY,)
