"""Feature importance of a fitted pipeline: permutation importance on held-out rows (every model), and mean
|SHAP value| from ``shap.TreeExplainer`` for tree models."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import Task
from trainwright.evaluation.metrics import get_metric, score_one
from trainwright.models import probabilities

__all__ = ["MAX_PERMUTED", "Importance", "permutation_importance", "shap_importance"]

TOP = 20


@dataclass(frozen=True)
class Importance:
    method: str  # permutation | shap
    features: tuple[str, ...]
    values: tuple[float, ...]
    stds: tuple[float, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _predict(pipeline: Any, X: pd.DataFrame, task: Task) -> np.ndarray:
    if task.is_classification:
        return probabilities(pipeline, X, len(task.classes))
    return np.asarray(pipeline.predict(X), dtype=float)


def permutation_importance(pipeline: Any, X: pd.DataFrame, y: np.ndarray, task: Task, *, n_repeats: int = 3,
                           max_rows: int = 1000, random_state: int = 0) -> Importance:
    """How much the task's metric worsens when one column's values are shuffled (sklearn's
    ``permutation_importance`` on the raw columns, so the answer is per input column)."""
    from sklearn.inspection import permutation_importance as _sk_permutation

    if len(X) > max_rows:
        pick = np.random.default_rng(random_state).choice(len(X), max_rows, replace=False)
        X, y = X.iloc[pick], np.asarray(y)[pick]
    sign = 1.0 if get_metric(task.metric).greater_is_better else -1.0

    def scorer(estimator: Any, X_: pd.DataFrame, y_: np.ndarray) -> float:
        return sign * score_one(task.metric, y_, _predict(estimator, X_, task), task)

    if X.shape[1] > MAX_PERMUTED:  # wide data: every shuffle re-runs the whole pipeline, so the cost is quadratic
        return _screened_permutation(pipeline, X, y, task, scorer, n_repeats, random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _sk_permutation(pipeline, X, y, scoring=scorer, n_repeats=n_repeats, random_state=random_state, n_jobs=1)
    order = np.argsort(-result.importances_mean)[:TOP]
    return Importance("permutation", tuple(str(X.columns[i]) for i in order),
                      tuple(float(result.importances_mean[i]) for i in order),
                      tuple(float(result.importances_std[i]) for i in order),
                      note=f"drop in {task.metric} when the column is shuffled; {len(X)} held-out rows, {n_repeats} repeats")


MAX_PERMUTED = 50  # columns shuffled one by one; wider data is screened first (``_screened_permutation``)


def _screened_permutation(pipeline: Any, X: pd.DataFrame, y: np.ndarray, task: Task, scorer: Any, n_repeats: int,
                          random_state: int) -> Importance:
    """Permutation importance of the ``MAX_PERMUTED`` columns whose values go most with the model's predictions
    (absolute rank correlation, from one prediction), instead of all of them: each shuffle costs a full pipeline
    run, so 5,000 columns x 3 repeats took minutes. The note says so."""
    pred = np.asarray(_predict(pipeline, X, task), dtype=float)
    pred = pred.reshape(len(X), -1)
    ranked_pred = pd.DataFrame(pred).rank().to_numpy()
    strength = np.zeros(X.shape[1])
    for j, name in enumerate(X.columns):
        col = X[name]
        codes = col.astype(float) if pd.api.types.is_numeric_dtype(col) else pd.Series(pd.factorize(col)[0], index=X.index)
        r = codes.rank().to_numpy(dtype=float)
        ok = ~np.isnan(r)
        if ok.sum() < 3 or np.nanstd(r) == 0:
            continue
        with np.errstate(all="ignore"):
            corr = [abs(np.corrcoef(r[ok], ranked_pred[ok, k])[0, 1]) for k in range(ranked_pred.shape[1])]
        strength[j] = np.nanmax(corr) if not np.all(np.isnan(corr)) else 0.0
    chosen = np.argsort(-strength, kind="stable")[:MAX_PERMUTED]
    rng = np.random.default_rng(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = scorer(pipeline, X, y)
        drops = np.zeros((len(chosen), n_repeats))
        for i, j in enumerate(chosen):
            shuffled = X.copy(deep=False)
            name = X.columns[j]
            for k in range(n_repeats):
                shuffled[name] = X[name].to_numpy()[rng.permutation(len(X))]
                drops[i, k] = base - scorer(pipeline, shuffled, y)
    means, stds = drops.mean(axis=1), drops.std(axis=1)
    order = np.argsort(-means)[:TOP]
    return Importance("permutation", tuple(str(X.columns[chosen[i]]) for i in order),
                      tuple(float(means[i]) for i in order), tuple(float(stds[i]) for i in order),
                      note=f"drop in {task.metric} when the column is shuffled; {len(X)} held-out rows, {n_repeats} "
                           f"repeats; only the {len(chosen)} of {X.shape[1]} columns that go most with the "
                           "predictions (rank correlation) were shuffled")


_TREE_MODULES = ("lightgbm", "xgboost", "catboost", "sklearn.ensemble")


def shap_importance(pipeline: Any, X: pd.DataFrame, *, max_rows: int = 500, random_state: int = 0) -> Importance | None:
    """Mean |SHAP value| per transformed feature for tree models (None for other families)."""
    model = pipeline.steps[-1][1]
    if not type(model).__module__.startswith(_TREE_MODULES):  # a model read back from a bundle may wrap its booster
        model = getattr(model, "booster_", None)
        if model is None or not type(model).__module__.startswith(_TREE_MODULES):
            return None
    with warnings.catch_warnings():  # shap's import touches deprecated matplotlib colormap calls
        warnings.simplefilter("ignore")
        import shap

    features = pipeline[:-1]
    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=random_state)
    Xt = features.transform(X)
    Xt = Xt.toarray() if hasattr(Xt, "toarray") else np.asarray(Xt, dtype=float)
    names = [n.split("__", 1)[-1] for n in features.get_feature_names_out()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = shap.TreeExplainer(model).shap_values(Xt)
    arr = np.abs(np.stack(values, axis=-1) if isinstance(values, list) else np.asarray(values))
    mean = arr.mean(axis=0)
    if mean.ndim > 1:
        mean = mean.mean(axis=-1)
    order = np.argsort(-mean)[:TOP]
    return Importance("shap", tuple(names[i] for i in order), tuple(float(mean[i]) for i in order),
                      note=f"mean |SHAP value| (shap.TreeExplainer) over {len(Xt)} held-out rows")
