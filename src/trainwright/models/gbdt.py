"""Rungs 5-6: gradient-boosted trees. Each early-stops on the validation part; refits use the count it found.

In a bundle, scikit-learn's histogram boosting stays in the skops pipeline; LightGBM (model text), XGBoost (UBJSON)
and CatBoost (.cbm) travel in their libraries' own formats, which cannot run code when read, and are built back
through public APIs only. LightGBM offers no public way to rebuild an ``LGBMClassifier`` from a saved booster, so a
bundle gives back the booster inside ``LGBMBoosterClassifier``/``LGBMBoosterRegressor`` (same predictions, bit for
bit; the same ONNX converter; SHAP explains its ``booster_``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils import check_array

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import Serializer, bundle_file, instance_of
from trainwright.models.spec import BuildContext, EarlyStopping, ModelSpec

__all__ = ["CATBOOST", "HIST_GRADIENT_BOOSTING", "LIGHTGBM", "SPECS", "XGBOOST", "LGBMBoosterClassifier",
           "LGBMBoosterRegressor"]

_PATIENCE = 50
_NEEDS = FeatureNeeds(one_hot=False, handles_missing=True)


def _rounds(params: Mapping[str, Any], ctx: BuildContext) -> int:
    return max(1, int(params["n_estimators"]))


def _kind(estimator: Any) -> str:
    return "classifier" if is_classifier(estimator) else "regressor"


def _pick(description: Mapping[str, Any], classifier: type, regressor: type) -> type:
    """The class a description names, from a fixed pair: a bundle never chooses which code to import."""
    kinds = {"classifier": classifier, "regressor": regressor}
    if description.get("kind") not in kinds:
        raise ValueError(f"unknown estimator kind {description.get('kind')!r}")
    return kinds[description["kind"]]


def _leaves_cap(ctx: BuildContext, upper: int) -> int:
    """Leaves worth searching: a tree on n rows with min 5 rows per leaf has at most n / 5 leaves."""
    return max(8, min(upper, ctx.n_rows // 5))


def _hgb_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    return {"learning_rate": FloatDistribution(0.01, 0.3, log=True),
            "num_leaves": IntDistribution(4, _leaves_cap(ctx, 128), log=True),
            "l2_regularization": FloatDistribution(1e-6, 10.0, log=True)}


# --- HistGradientBoosting (scikit-learn) ---------------------------------------------------------
def _hgb(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if ctx.task is TaskKind.REGRESSION else HistGradientBoostingClassifier
    return cls(max_iter=_rounds(params, ctx), learning_rate=params["learning_rate"], max_leaf_nodes=params["num_leaves"],
               l2_regularization=params["l2_regularization"], early_stopping=params.get("early_stopping", True),
               n_iter_no_change=20, random_state=ctx.random_state)


HIST_GRADIENT_BOOSTING = ModelSpec(
    name="hist_gradient_boosting", family="gbdt", rung=5, build=_hgb, needs=_NEEDS,
    defaults={"n_estimators": 1000, "learning_rate": 0.1, "num_leaves": 31, "l2_regularization": 0.0},
    search_space=_hgb_space,
    portfolio=({"learning_rate": 0.05, "num_leaves": 63, "l2_regularization": 1.0},
               {"learning_rate": 0.1, "num_leaves": 15, "l2_regularization": 0.1}),
    early_stopping=EarlyStopping(
        fit_kwargs=lambda X_val, y_val, est: {"X_val": X_val, "y_val": y_val},
        best_iteration=lambda est: int(est.n_iter_),
        fixed=lambda params, n: {**params, "n_estimators": n, "early_stopping": False},
    ),
    relative_cost=3.0, description="scikit-learn histogram gradient boosting",
    serializer=Serializer("hist_gradient_boosting", trusted_types=frozenset({
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # one per tree: its node array
    })),
)


# --- LightGBM ------------------------------------------------------------------------------------
def _lgbm(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMRegressor if ctx.task is TaskKind.REGRESSION else lgb.LGBMClassifier
    return cls(n_estimators=_rounds(params, ctx), learning_rate=params["learning_rate"], num_leaves=params["num_leaves"],
               min_child_samples=params["min_child_samples"], subsample=params["subsample"], subsample_freq=1,
               colsample_bytree=params["colsample_bytree"], reg_lambda=params["reg_lambda"],
               random_state=ctx.random_state, n_jobs=ctx.n_jobs, verbose=-1)


def _lgbm_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    return {"learning_rate": FloatDistribution(0.01, 0.2, log=True),
            "num_leaves": IntDistribution(4, _leaves_cap(ctx, 256), log=True),
            "min_child_samples": IntDistribution(2, max(3, min(100, ctx.n_rows // 20)), log=True),
            "subsample": FloatDistribution(0.5, 1.0), "colsample_bytree": FloatDistribution(0.3, 1.0),
            "reg_lambda": FloatDistribution(1e-4, 10.0, log=True)}


def _lgbm_fit_kwargs(X_val: Any, y_val: Any, est: Any) -> dict[str, Any]:
    import lightgbm as lgb

    return {"eval_X": (X_val,), "eval_y": (y_val,), "callbacks": [lgb.early_stopping(_PATIENCE, verbose=False)]}


class _LGBMBooster(BaseEstimator):
    """A fitted LightGBM booster as a scikit-learn estimator: what a bundle gives back for an ``LGBMClassifier`` or
    ``LGBMRegressor``. It predicts exactly as the wrapper did (the same ``Booster.predict`` call on the same
    checked input); it cannot be refit (train a new ``LGBMClassifier`` for that)."""

    def __init__(self, booster: Any = None, n_jobs: int | None = None) -> None:
        self.booster = booster
        self.n_jobs = n_jobs

    def __sklearn_is_fitted__(self) -> bool:
        return self.booster is not None

    @property
    def booster_(self) -> Any:
        """The ``lightgbm.Booster`` (the attribute LightGBM's wrappers, onnxmltools and SHAP read)."""
        return self.booster

    @property
    def boosting_type(self) -> str:
        return str(self.booster.params.get("boosting", "gbdt"))

    @property
    def n_features_in_(self) -> int:
        return int(self.booster.num_feature())

    def fit(self, X: Any, y: Any = None) -> _LGBMBooster:
        raise NotImplementedError("a LightGBM model read back from a bundle cannot be refit; train a new one")

    def _raw(self, X: Any) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):  # what LGBMModel.predict checks before it calls the booster
            X = check_array(X, accept_sparse=True, ensure_all_finite=False, ensure_min_samples=1)
        threads = 0 if self.n_jobs is None or self.n_jobs < 0 else self.n_jobs  # 0: OpenMP's default, all cores
        return np.asarray(self.booster.predict(X, num_threads=threads))


class LGBMBoosterClassifier(ClassifierMixin, _LGBMBooster):
    """``LGBMClassifier``'s predictions from its booster and its ``classes`` (see ``_LGBMBooster``)."""

    def __init__(self, booster: Any = None, classes: Any = None, n_jobs: int | None = None) -> None:
        super().__init__(booster, n_jobs)
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X: Any) -> np.ndarray:
        raw = self._raw(X)
        return raw if raw.ndim == 2 else np.vstack((1.0 - raw, raw)).transpose()  # as LGBMClassifier builds it

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LGBMBoosterRegressor(RegressorMixin, _LGBMBooster):
    """``LGBMRegressor``'s predictions from its booster (see ``_LGBMBooster``)."""

    def predict(self, X: Any) -> np.ndarray:
        return self._raw(X)


_LGBM_FILE = "model.lgb.txt"


def _lgbm_save(estimator: Any, directory: Path) -> dict[str, Any]:
    # save_model keeps the trees up to the best iteration when one was recorded: what predict used
    estimator.booster_.save_model(str(Path(directory) / _LGBM_FILE))
    if not is_classifier(estimator):
        return {"kind": "regressor"}
    return {"kind": "classifier", "classes": np.asarray(estimator.classes_).tolist()}


def _lgbm_load(description: Mapping[str, Any], directory: Path) -> Any:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(bundle_file(directory, _LGBM_FILE)))
    if _pick(description, LGBMBoosterClassifier, LGBMBoosterRegressor) is LGBMBoosterRegressor:
        return LGBMBoosterRegressor(booster)
    return LGBMBoosterClassifier(booster, classes=list(description["classes"]))


def _lgbm_onnx() -> None:
    """onnxmltools' LightGBM converter reads ``booster_``, ``classes_`` and ``boosting_type``: the wrappers and
    the booster estimators alike."""
    import lightgbm as lgb
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    opts = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    for classifier in (lgb.LGBMClassifier, LGBMBoosterClassifier):
        update_registered_converter(classifier, f"LightGbm{classifier.__name__}",
                                    calculate_linear_classifier_output_shapes, convert_lightgbm, options=opts)
    for regressor in (lgb.LGBMRegressor, LGBMBoosterRegressor):
        update_registered_converter(regressor, f"LightGbm{regressor.__name__}",
                                    calculate_linear_regressor_output_shapes, convert_lightgbm)


_is_lgbm_wrapper = instance_of("lightgbm", "LGBMModel")


def _lgbm_handles(estimator: Any) -> bool:
    return isinstance(estimator, _LGBMBooster) or _is_lgbm_wrapper(estimator)


LIGHTGBM_SERIALIZER = Serializer("lightgbm", handles=_lgbm_handles, save=_lgbm_save, load=_lgbm_load,
                                 onnx_setup=_lgbm_onnx)


LIGHTGBM = ModelSpec(
    name="lightgbm", family="gbdt", rung=6, build=_lgbm, needs=FeatureNeeds(one_hot=False, handles_missing=True, sparse=True),
    defaults={"n_estimators": 2000, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "subsample": 0.8,
              "colsample_bytree": 0.8, "reg_lambda": 0.0},
    search_space=_lgbm_space,
    # larger trees slowly (AutoGluon's "GBMLarge"), small regularised trees, and a fast wide one
    portfolio=({"learning_rate": 0.03, "num_leaves": 128, "min_child_samples": 3, "subsample": 1.0,
                "colsample_bytree": 0.9},
               {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30, "colsample_bytree": 0.6,
                "reg_lambda": 1.0},
               {"learning_rate": 0.1, "num_leaves": 63, "min_child_samples": 10, "subsample": 0.7,
                "colsample_bytree": 0.5}),
    early_stopping=EarlyStopping(
        fit_kwargs=_lgbm_fit_kwargs,
        best_iteration=lambda est: int(est.best_iteration_) if est.best_iteration_ else None,
        fixed=lambda params, n: {**params, "n_estimators": n},
    ),
    relative_cost=2.0, description="LightGBM", serializer=LIGHTGBM_SERIALIZER,
)


# --- XGBoost -------------------------------------------------------------------------------------
def _xgb(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    import xgboost as xgb

    cls = xgb.XGBRegressor if ctx.task is TaskKind.REGRESSION else xgb.XGBClassifier
    return cls(n_estimators=_rounds(params, ctx), learning_rate=params["learning_rate"], max_depth=params["max_depth"],
               subsample=params["subsample"], colsample_bytree=params["colsample_bytree"], reg_lambda=params["reg_lambda"],
               min_child_weight=params["min_child_weight"], tree_method="hist",
               early_stopping_rounds=params.get("early_stopping_rounds", _PATIENCE),
               random_state=ctx.random_state, n_jobs=ctx.n_jobs, verbosity=0)


def _xgb_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    return {"learning_rate": FloatDistribution(0.01, 0.3, log=True), "max_depth": IntDistribution(2, 10),
            "subsample": FloatDistribution(0.5, 1.0), "colsample_bytree": FloatDistribution(0.3, 1.0),
            "reg_lambda": FloatDistribution(1e-3, 10.0, log=True),
            "min_child_weight": FloatDistribution(0.1, 20.0, log=True)}


_XGB_FILE = "model.ubj"


def _xgb_save(estimator: Any, directory: Path) -> dict[str, Any]:
    estimator.save_model(str(Path(directory) / _XGB_FILE))  # UBJSON, with the wrapper's own attributes
    return {"kind": _kind(estimator)}


def _xgb_load(description: Mapping[str, Any], directory: Path) -> Any:
    import xgboost as xgb

    model = _pick(description, xgb.XGBClassifier, xgb.XGBRegressor)()
    model.load_model(str(bundle_file(directory, _XGB_FILE)))  # a fitted wrapper again: classes, best iteration
    return model


XGBOOST_SERIALIZER = Serializer("xgboost", handles=instance_of("xgboost", "XGBModel"), save=_xgb_save,
                                load=_xgb_load)


# Not sparse: XGBoost's hist method builds a histogram for every column at every node, so 20k TF-IDF columns made it
# ~0.1 s a round (138 s on a 5000-review text set, against 4 s for LightGBM, which bundles sparse columns). Text
# reaches it as the 64-component SVD of its TF-IDF instead (4.5 s; validation ROC-AUC 0.816 against 0.827).
XGBOOST = ModelSpec(
    name="xgboost", family="gbdt", rung=6, build=_xgb, needs=FeatureNeeds(one_hot=False, handles_missing=True),
    defaults={"n_estimators": 2000, "learning_rate": 0.05, "max_depth": 6, "subsample": 0.8, "colsample_bytree": 0.8,
              "reg_lambda": 1.0, "min_child_weight": 1.0},
    search_space=_xgb_space,
    portfolio=({"learning_rate": 0.05, "max_depth": 4, "colsample_bytree": 0.7},
               {"learning_rate": 0.03, "max_depth": 8, "min_child_weight": 3.0, "colsample_bytree": 0.6}),
    early_stopping=EarlyStopping(
        fit_kwargs=lambda X_val, y_val, est: {"eval_set": [(X_val, y_val)], "verbose": False},
        best_iteration=lambda est: int(est.best_iteration) + 1,
        fixed=lambda params, n: {**params, "n_estimators": n, "early_stopping_rounds": None},
    ),
    relative_cost=2.5, description="XGBoost (hist)", serializer=XGBOOST_SERIALIZER,
)


# --- CatBoost ------------------------------------------------------------------------------------
def _catboost(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    import catboost as cb

    cls = cb.CatBoostRegressor if ctx.task is TaskKind.REGRESSION else cb.CatBoostClassifier
    n_jobs = ctx.n_jobs if ctx.n_jobs > 0 else -1
    return cls(iterations=_rounds(params, ctx), learning_rate=params["learning_rate"], depth=params["depth"],
               l2_leaf_reg=params["l2_leaf_reg"], random_seed=ctx.random_state, thread_count=n_jobs, verbose=0,
               allow_writing_files=False, early_stopping_rounds=params.get("early_stopping_rounds", _PATIENCE))


def _catboost_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    deepest = 10 if ctx.n_rows <= 20_000 else 8  # a depth-10 CatBoost tree on large data costs minutes
    return {"learning_rate": FloatDistribution(0.01, 0.3, log=True), "depth": IntDistribution(3, deepest),
            "l2_leaf_reg": FloatDistribution(0.1, 30.0, log=True)}


_CATBOOST_FILE = "model.cbm"


def _catboost_save(estimator: Any, directory: Path) -> dict[str, Any]:
    estimator.save_model(str(Path(directory) / _CATBOOST_FILE), format="cbm")
    return {"kind": _kind(estimator)}


def _catboost_load(description: Mapping[str, Any], directory: Path) -> Any:
    import catboost as cb

    model = _pick(description, cb.CatBoostClassifier, cb.CatBoostRegressor)()
    model.load_model(str(bundle_file(directory, _CATBOOST_FILE)), format="cbm")
    return model


CATBOOST_SERIALIZER = Serializer("catboost", handles=instance_of("catboost", "CatBoost"), save=_catboost_save,
                                 load=_catboost_load)

CATBOOST = ModelSpec(
    name="catboost", family="gbdt", rung=6, build=_catboost, needs=_NEEDS,
    defaults={"n_estimators": 2000, "learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0},
    search_space=_catboost_space,
    portfolio=({"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0}, {"learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 1.0}),
    early_stopping=EarlyStopping(
        fit_kwargs=lambda X_val, y_val, est: {"eval_set": (X_val, y_val)},
        best_iteration=lambda est: int(est.get_best_iteration()) + 1,
        fixed=lambda params, n: {**params, "n_estimators": n, "early_stopping_rounds": None},
    ),
    relative_cost=6.0, description="CatBoost", serializer=CATBOOST_SERIALIZER,
)

SPECS = (HIST_GRADIENT_BOOSTING, LIGHTGBM, XGBOOST, CATBOOST)
