"""Rung 3: k-nearest neighbours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["KNN", "SERIALIZER", "SPECS"]

# the fitted search index and its distance metric
SERIALIZER = Serializer("neighbors", trusted_types=frozenset({
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
}))


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    k = int(max(1, min(params["n_neighbors"], ctx.n_rows // 2)))
    cls = KNeighborsRegressor if ctx.task is TaskKind.REGRESSION else KNeighborsClassifier
    return cls(n_neighbors=k, weights=params["weights"], n_jobs=ctx.n_jobs)


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    return {"n_neighbors": IntDistribution(1, max(2, min(100, ctx.n_rows // 2)), log=True),
            "weights": CategoricalDistribution(("uniform", "distance"))}


KNN = ModelSpec(
    name="knn", family="neighbors", rung=3, build=_build, needs=FeatureNeeds(scale=True, float32=True),
    defaults={"n_neighbors": 15, "weights": "distance"}, search_space=_space,
    portfolio=({"n_neighbors": 5, "weights": "distance"}, {"n_neighbors": 40, "weights": "uniform"}),
    max_rows=50_000, relative_cost=2.0, description="k-nearest neighbours, distance-weighted", serializer=SERIALIZER,
)

SPECS = (KNN,)
