"""Rung 2: support vector machines — an RBF kernel on small data, linear above ``KERNEL_MAX_ROWS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["KERNEL_MAX_ROWS", "SERIALIZER", "SPECS", "SVM"]

KERNEL_MAX_ROWS = 5_000
# Platt scaling: CalibratedClassifierCV keeps one calibrated classifier and its sigmoid per class
SERIALIZER = Serializer("svm", trusted_types=frozenset({
    "sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",
}))


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    kernel = params["kernel"] if params["kernel"] != "auto" else ("rbf" if ctx.n_rows <= KERNEL_MAX_ROWS else "linear")
    if ctx.task is TaskKind.REGRESSION:
        if kernel == "linear":
            return LinearSVR(C=params["C"], dual="auto", max_iter=5000, random_state=ctx.random_state)
        return SVR(C=params["C"], kernel=kernel, gamma="scale")
    if kernel == "linear":
        return CalibratedClassifierCV(LinearSVC(C=params["C"], dual="auto", max_iter=5000, random_state=ctx.random_state), cv=3)
    # Platt scaling on cross-validated decision values, then one SVC on all rows: what SVC(probability=True) did,
    # in the form scikit-learn 1.9 asks for (the parameter is deprecated, to be removed in 1.11)
    return CalibratedClassifierCV(SVC(C=params["C"], kernel=kernel, gamma="scale", random_state=ctx.random_state),
                                  method="sigmoid", cv=5, ensemble=False)


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    return {"C": FloatDistribution(1e-2, 1e2, log=True)}


SVM = ModelSpec(
    name="svm", family="svm", rung=2, build=_build, needs=FeatureNeeds(scale=True),
    defaults={"C": 1.0, "kernel": "auto"}, search_space=_space, portfolio=({"C": 10.0},), max_rows=200_000,
    relative_cost=8.0, description=f"RBF-kernel SVM up to {KERNEL_MAX_ROWS} rows, linear SVM above",
    serializer=SERIALIZER,
)

SPECS = (SVM,)
