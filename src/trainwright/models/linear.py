"""Rung 1: regularised linear models (logistic regression, ridge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.linear_model import LogisticRegression, Ridge

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["LINEAR", "SERIALIZER", "SPECS"]

SERIALIZER = Serializer("linear")  # coefficients and intercepts: skops' defaults suffice


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    if ctx.task is TaskKind.REGRESSION:
        return Ridge(alpha=params["alpha"], random_state=ctx.random_state)
    return LogisticRegression(C=params["C"], max_iter=params["max_iter"], random_state=ctx.random_state)


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    if ctx.task is TaskKind.REGRESSION:
        return {"alpha": FloatDistribution(1e-3, 1e3, log=True)}
    return {"C": FloatDistribution(1e-3, 1e2, log=True)}


LINEAR = ModelSpec(
    name="linear", family="linear", rung=1, build=_build, needs=FeatureNeeds(scale=True, sparse=True, float32=True),
    defaults={"C": 1.0, "alpha": 1.0, "max_iter": 2000},
    search_space=_space, portfolio=({"C": 0.1, "alpha": 10.0}, {"C": 10.0, "alpha": 0.1}), relative_cost=1.0,
    description="logistic regression (L2) or ridge regression", serializer=SERIALIZER,
)

SPECS = (LINEAR,)
