"""``finetune``: carry a saved model on to new labelled rows, and say whether that helped.

Two cases, decided by the new rows' labels:

- **same labels** (every label is one the model knows; any regression): the model continues from what it learned —
  a torch network from its weights (lower learning rate, early-stopped on the new rows' validation part), boosted
  trees from their existing trees (LightGBM ``init_model``, XGBoost ``xgb_model``, CatBoost ``init_model``, more
  rounds for scikit-learn's histogram boosting and more trees for the forests, both ``warm_start``), a logistic
  regression warm-started (``warm_start``; being convex it converges to the new rows' optimum, from the old one),
  a ridge regression pulled towards its old coefficients (ridge on the old model's residuals). The result and the
  original are then scored on the new rows' held-out part by the regression gate (``evaluation/comparison.py``,
  what ``trainwright compare`` runs), and the verdict is reported.
- **new labels** (a different set of classes): networks only. The body is kept and a new output layer trained,
  first with the body frozen, then everything at a lower learning rate (``NeuralEstimator.fit_new_head``; the
  pretrained backbone keeps its ImageNet body frozen throughout). The schedule that ran is reported.

The preprocessing stays the parent's, fitted as it was: the new rows must have the columns the model was trained on.
The new bundle records its lineage: the parent bundle (path, manifest SHA-256, run and trial) and the new data's
fingerprints (``lineage.parent_lineage``), under ``metadata.fine_tuned_from``.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle import load, write_bundle
from trainwright.bundle.manifest import bundle_fingerprint
from trainwright.data import Task, file_fingerprint, frame_fingerprint, infer_task, load_table, make_split
from trainwright.drift import build_profile
from trainwright.evaluation import score_all
from trainwright.evaluation.comparison import Comparison, compare_predictions
from trainwright.exceptions import ConfigError, DataError, Problem, SchemaMismatchError
from trainwright.fileio import jsonable
from trainwright.lineage import lineage, parent_lineage
from trainwright.models import BuildContext, get_spec
from trainwright.training import predict_matrix

__all__ = ["NEW_LABELS", "SAME_LABELS", "Carried", "FinetuneResult", "carry_on", "check_can_carry_on", "continue_linear",
           "finetune", "summary", "threads"]

SAME_LABELS, NEW_LABELS = "same labels", "new labels"
_VALIDATION = 0.2  # of the rows left after the held-out part: early stopping
_MIN_EPOCHS = 30  # a network carried on trains for at least this many epochs, unless early stopping ends it


@dataclass(frozen=True)
class FinetuneResult:
    """What ``finetune`` did: the new bundle, how the model was carried on, and how it scores on held-out rows."""

    bundle: Path
    parent: Path
    mode: str  # SAME_LABELS | NEW_LABELS
    model: str
    method: str
    schedule: tuple[dict[str, Any], ...]
    rows: dict[str, int]
    metric: str
    held_out_scores: dict[str, float]
    comparison: Comparison | None  # same labels: fine-tuned (challenger) vs the parent (champion)

    @property
    def worse(self) -> bool:
        return self.comparison is not None and self.comparison.worse


def _read(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, dict[str, str]]:
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>", {"frame_sha256": frame_fingerprint(data)}
    frame = load_table(data)
    return frame, str(data), {"frame_sha256": frame_fingerprint(frame), "file_sha256": file_fingerprint(data)}


def _labelled(frame: pd.DataFrame, target: str, source: str) -> pd.DataFrame:
    if target not in frame.columns:
        raise DataError(f"cannot fine-tune on {source}", [Problem(
            "finetune.no_target", f"the target column '{target}' is not in the new data", column=target,
            fix=f"pass --target (columns: {', '.join(map(str, frame.columns[:20]))})")])
    frame = frame.loc[frame[target].notna()]
    if len(frame) < 10:
        raise DataError(f"cannot fine-tune on {source}", [Problem(
            "finetune.too_few_rows", f"{len(frame)} labelled row(s) in '{target}'", column=target,
            fix="fine-tune on at least 10 labelled rows (a few dozen per class)")])
    return frame


def _features(model: Any, frame: pd.DataFrame, target: str, source: str) -> pd.DataFrame:
    """The new rows' features in the parent's schema; missing or ill-typed columns refused by name."""
    try:
        return model.prepare(frame.drop(columns=[target]))
    except SchemaMismatchError as exc:
        wanted = ", ".join(model.schema.features[:20])
        raise DataError(f"cannot fine-tune {model.path} on {source}: the new data does not have the model's "
                        "features", [*exc.problems, Problem(
                            "finetune.schema", exc.message, fix=f"give rows with the columns the model was trained "
                            f"on ({wanted}), or train a new model with 'trainwright train'")]) from None


def _task_and_mode(parent: Task, labels: pd.Series) -> tuple[Task, str]:
    if not parent.is_classification:
        return parent, SAME_LABELS
    try:
        parent.encode(labels)
        return parent, SAME_LABELS
    except DataError:
        new = infer_task(labels, kind="multiclass" if labels.nunique() > 2 else "binary")
        return new, NEW_LABELS


def _split(X: pd.DataFrame, y: np.ndarray, task: Task, held_out: float, seed: int) -> Any:
    train = (1.0 - held_out) * (1.0 - _VALIDATION)
    return make_split(X, pd.Series(y, index=X.index), classification=task.is_classification,
                      fractions=(train, 1.0 - held_out - train, held_out), random_state=seed)


def _part(X: pd.DataFrame, y: np.ndarray, ids: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    pos = X.index.get_indexer(ids)
    return X.iloc[pos], y[pos]


def finetune(bundle: str | Path, data: str | Path | pd.DataFrame, *, target: str | None = None,
             output_dir: str | Path = "runs", seed: int = 0, time_budget: float = 600.0, held_out: float = 0.2,
             lr_scale: float = 0.3, n_jobs: int = -1, device: str = "auto", n_boot: int = 1000) -> FinetuneResult:
    """Carry the model in ``bundle`` on to the labelled rows of ``data`` (see the module docstring); the new bundle
    goes to ``output_dir/<run id>/model``. ``held_out``: the share of the new rows kept for the verdict, which
    ``n_boot`` bootstrap resamples decide."""
    if not 0.0 < held_out < 0.6:
        raise DataError("held_out must be above 0 and below 0.6", [Problem(
            "finetune.held_out", f"got {held_out}", fix="keep a fifth of the rows, e.g. 0.2")])
    deadline = time.monotonic() + time_budget
    bundle = Path(bundle)
    parent = load(bundle)
    check_can_carry_on(parent)
    frame, source, fingerprints = _read(data)
    target = target or parent.task.target
    frame = _labelled(frame, target, source)
    X = _features(parent, frame, target, source)
    task, mode = _task_and_mode(parent.task, frame[target])
    y = task.encode(frame[target])
    split = _split(X, y, task, held_out, seed)
    (X_fit, y_fit), (X_val, y_val), (X_out, y_out) = (_part(X, y, ids) for ids in
                                                      (split.train, split.validation, split.test))
    carried = carry_on(parent, X_fit, y_fit, X_val, y_val, new_classes=task.classes if mode == NEW_LABELS else None,
                       deadline=deadline, lr_scale=lr_scale, n_jobs=n_jobs, device=device, seed=seed)
    pred = predict_matrix(carried.pipeline, X_out, task)
    comparison = None
    if mode == SAME_LABELS:
        comparison = compare_predictions(y_out, pred, predict_matrix(parent.pipeline, X_out, task), task,
                                         n_boot=n_boot, random_state=seed)
    rows = {"train": len(y_fit), "validation": len(y_val), "held_out": len(y_out)}
    result = FinetuneResult(bundle=Path(), parent=bundle, mode=mode, model=str(parent.metadata.get("model", "?")),
                            method=carried.method, schedule=tuple(carried.schedule), rows=rows, metric=task.metric,
                            held_out_scores=score_all(y_out, pred, task), comparison=comparison)
    lineage_doc = parent_lineage(bundle, bundle_fingerprint(bundle), parent.metadata, source, fingerprints)
    return _publish(result, parent, task, lineage_doc, split, X_fit, carried.pipeline, seed=seed,
                    output_dir=Path(output_dir))


def _publish(result: FinetuneResult, parent: Any, task: Task, lineage_doc: dict[str, Any], split: Any,
             X_fit: pd.DataFrame, pipeline: Any, *, seed: int, output_dir: Path) -> FinetuneResult:
    """The new run folder: the bundle (written atomically), then ``finetune.json`` beside it."""
    run_id = _run_id()
    documents = _documents(parent, task, result, lineage_doc, split, X_fit, pipeline, seed, run_id)
    out = write_bundle(output_dir / run_id / "model", pipeline, documents)
    (output_dir / run_id / "finetune.json").write_text(json.dumps(summary(result, out), indent=2, default=str),
                                                       encoding="utf-8")
    return replace(result, bundle=out)


def _run_id() -> str:
    return "finetune-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _comparison_doc(comparison: Comparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    keys = ("metric", "n", "challenger", "champion", "difference", "ci_low", "ci_high", "confidence", "verdict")
    return {k: jsonable(getattr(comparison, k)) for k in keys}


def _documents(parent: Any, task: Task, result: FinetuneResult, lineage_doc: dict[str, Any], split: Any,
               X_fit: pd.DataFrame, pipeline: Any, seed: int, run_id: str) -> dict[str, Any]:
    metadata = {
        **parent.metadata, "run_id": run_id, "created": datetime.now(UTC).isoformat(),
        "source": lineage_doc["data"]["source"], "fingerprints": lineage_doc["data"]["fingerprints"],
        "lineage": lineage(seed), "fine_tuned_from": lineage_doc["parent"],
        "fine_tune": {"mode": result.mode, "method": result.method, "schedule": list(result.schedule),
                      "rows": result.rows, "verdict": result.comparison.verdict if result.comparison else None},
    }
    metrics = {"metric": task.metric, "held_out": jsonable(result.held_out_scores),
               "comparison": _comparison_doc(result.comparison), "parent_metrics": parent.metrics}
    profile = build_profile(X_fit, parent.schema, task, predict_matrix(pipeline, X_fit, task), random_state=seed)
    return {"schema": parent.schema.to_dict(), "task": task.to_dict(), "metrics": metrics,
            "split": split.manifest(), "metadata": metadata, "profile": profile.to_dict()}


def summary(result: FinetuneResult, bundle: Path) -> dict[str, Any]:
    """The run's record (``finetune.json`` beside the bundle): what the CLI prints, as data."""
    return {"bundle": str(bundle), "parent": str(result.parent), "mode": result.mode, "model": result.model,
            "method": result.method, "schedule": list(result.schedule), "rows": result.rows, "metric": result.metric,
            "held_out": jsonable(result.held_out_scores), "comparison": _comparison_doc(result.comparison)}


# --- carrying one model on, family by family --------------------------------------------------------------------
@dataclass(frozen=True)
class Carried:
    pipeline: Any
    method: str
    schedule: list[dict[str, Any]]


_FORESTS = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")
_HGB = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")
_BOOSTING_INIT = {"lightgbm": "init_model", "xgboost": "xgb_model", "catboost": "init_model"}


def _final(model: Any) -> Any:
    return model.pipeline.steps[-1][1]


def _library(estimator: Any) -> str | None:
    """The boosting library that owns ``estimator`` (the bundle's LightGBM booster wrapper included), or None."""
    if type(estimator).__name__.startswith("LGBMBooster"):
        return "lightgbm"
    root = type(estimator).__module__.split(".")[0]
    return root if root in _BOOSTING_INIT else None


def _is_network(estimator: Any) -> bool:
    return hasattr(estimator, "fit_new_head")


def check_can_carry_on(model: Any) -> None:
    """A ConfigError (exit code 2) for a model no fine-tuning applies to: an ensemble, or a family without a way to
    continue (k-nearest neighbours, the SVM, the baseline)."""
    estimator = _final(model)
    name = type(estimator).__name__
    known = _is_network(estimator) or _library(estimator) is not None or name in (*_FORESTS, *_HGB,
                                                                                 "LogisticRegression", "Ridge")
    if not known or getattr(type(estimator), "__bundle_composite__", False):
        raise ConfigError(f"the model in {model.path} ({model.metadata.get('model', name)}) cannot be fine-tuned", [
            Problem("finetune.unsupported_model", f"no way to continue a {name}",
                    fix="fine-tune a network, boosted trees, a forest or a linear model; or retrain on all the data "
                    "with 'trainwright train'")])


def _with_final(pipeline: Any, estimator: Any) -> Any:
    out = copy.copy(pipeline)
    out.steps = [*pipeline.steps[:-1], (pipeline.steps[-1][0], estimator)]
    return out


def _network_history(net: Any, lr: float, name: str) -> list[dict[str, Any]]:
    history = list(getattr(net, "history_", []))
    return [{"phase": name, "lr": lr, "max_epochs": int(net.max_epochs), "epochs_run": len(history),
             "best_epoch": int(net.best_epoch_), "stopped": str(getattr(net, "stopped_", ""))}]


def _network(estimator: Any, Xt: Any, y: np.ndarray, Xv: Any, yv: np.ndarray, *, new_head: bool, lr_scale: float,
             deadline: float, n_jobs: int, device: str) -> tuple[Any, str, list[dict[str, Any]]]:
    net = copy.deepcopy(estimator)
    net.__dict__.pop("schedule_", None)
    # the new rows are often few: batches sized so an epoch still takes about ten steps (as models/neural.py does),
    # and room for as many epochs as a fit from scratch gets; early stopping on the validation part decides
    batch = int(max(8, min(int(net.batch_size), len(y) // 10)))
    net.set_params(deadline=deadline, device=device, n_jobs=threads(n_jobs), batch_size=batch,
                   max_epochs=max(_MIN_EPOCHS, int(net.max_epochs)))
    if new_head:
        schedule = net.fit_new_head(Xt, y, eval_set=(Xv, yv), lr_scale=lr_scale)
        return net, "body kept, new output layer: trained with the body frozen, then unfrozen at a lower rate", schedule
    if "warm_start" not in net.get_params():
        raise ConfigError(f"this {type(net).__name__} cannot continue from its weights (it has no warm start)", [
            Problem("finetune.no_warm_start", "same labels need a network that can warm-start",
                    fix="retrain with 'trainwright train', or fine-tune it on new labels")])
    changes: dict[str, Any] = {"warm_start": True, "lr": float(net.lr) * lr_scale}
    if "head_lr" in net.get_params():
        changes["head_lr"] = float(net.head_lr) * lr_scale
    net.set_params(**changes)
    net.fit(Xt, y, eval_set=(Xv, yv))
    schedule = getattr(net, "schedule_", None) or _network_history(net, changes["lr"], "all layers, continued")
    return net, f"continued from its weights at {lr_scale:g} x its learning rate", list(schedule)


def _init_model(library: str, estimator: Any) -> Any:
    """What the library continues from: LightGBM's booster (the bundle gives back a booster wrapper), XGBoost's
    booster, CatBoost's model itself."""
    if library == "lightgbm":
        return getattr(estimator, "booster", None) or estimator.booster_
    if library == "xgboost":
        return estimator.get_booster()
    return estimator


def _boosting(parent: Any, estimator: Any, Xt: Any, y: np.ndarray, Xv: Any, yv: np.ndarray, *, n_jobs: int,
              seed: int, deadline: float) -> tuple[Any, str, list[dict[str, Any]]]:
    library = _library(estimator) or ""
    spec = get_spec(str(parent.metadata["model"]))
    ctx = BuildContext(task=parent.task.kind, n_rows=len(y), n_classes=len(parent.task.classes), random_state=seed,
                       n_jobs=n_jobs, deadline=deadline)
    model = spec.build(ctx, dict(parent.metadata.get("params", {})))
    if "early_stopping_rounds" in model.get_params():
        model.set_params(early_stopping_rounds=20)
    init = _init_model(library, estimator)
    kwargs = spec.early_stopping.fit_kwargs(Xv, yv, model) if spec.early_stopping is not None else {}
    model.fit(Xt, y, **kwargs, **{_BOOSTING_INIT[library]: init})
    best = spec.early_stopping.best_iteration(model) if spec.early_stopping is not None else None
    params = model.get_params()
    added = params.get("n_estimators") or params.get("iterations") or 0  # CatBoost names them iterations
    return model, f"{library}: more rounds from the existing trees ({_BOOSTING_INIT[library]})", [
        {"phase": "boosting continued", "rounds_added_at_most": int(added), "best_round": best}]


def _grown(estimator: Any, Xt: Any, y: np.ndarray) -> tuple[Any, str, list[dict[str, Any]]]:
    """Forests get as many new trees as they had, boosting as many rounds: fitted on the new rows (warm_start)."""
    grown = copy.deepcopy(estimator)
    if type(grown).__name__ in _FORESTS:
        before = int(grown.n_estimators)
        grown.set_params(warm_start=True, n_estimators=2 * before)
        grown.fit(Xt, y)
        return grown, f"warm start: {before} new trees on the new rows", [{"phase": "trees added", "trees": before}]
    before = int(grown.n_iter_)
    grown.set_params(warm_start=True, early_stopping=False, max_iter=2 * before)
    grown.fit(Xt, y)
    return grown, f"warm start: up to {before} more boosting rounds", [{"phase": "rounds added", "rounds": before}]


def continue_linear(estimator: Any, Xt: Any, y: np.ndarray) -> tuple[Any, str, list[dict[str, Any]]]:
    """A logistic regression warm-started from its coefficients; a ridge regression fitted on the new rows with its
    penalty centred on the old coefficients instead of zero (so few new rows move it little)."""
    from sklearn.linear_model import Ridge

    model = copy.deepcopy(estimator)
    if type(model).__name__ == "LogisticRegression":
        model.set_params(warm_start=True)
        model.fit(Xt, y)
        return model, "warm start from the saved coefficients", [{"phase": "refit from the old coefficients"}]
    # ridge towards the old weights: argmin |y - X(w0 + d) - b|^2 + alpha |d|^2 is a ridge fit on the residuals
    step = Ridge(alpha=float(model.alpha)).fit(Xt, np.asarray(y, dtype=float) - estimator.predict(Xt))
    model.coef_ = estimator.coef_ + step.coef_
    model.intercept_ = estimator.intercept_ + step.intercept_
    return model, "ridge pulled towards the saved coefficients", [{"phase": "ridge on the old model's residuals"}]


def _check_classes(task: Task, y: np.ndarray, estimator: Any) -> None:
    missing = sorted(set(range(len(task.classes))) - set(np.unique(y).tolist()))
    if task.is_classification and missing and not _is_network(estimator):
        raise DataError("the new rows' training part lacks some of the model's classes", [Problem(
            "finetune.missing_classes", f"no rows of {[task.classes[i] for i in missing][:10]}", column=task.target,
            fix="give rows of every class (a network can also carry on with fewer)")])


def carry_on(parent: Any, X_fit: pd.DataFrame, y_fit: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray, *,
             new_classes: tuple[Any, ...] | None, deadline: float, lr_scale: float, n_jobs: int, device: str,
             seed: int) -> Carried:
    """The parent's pipeline with its final estimator carried on to the new rows (the preprocessing as fitted)."""
    estimator = _final(parent)
    features = parent.pipeline[:-1]
    Xt, Xv = features.transform(X_fit), features.transform(X_val)
    if new_classes is not None and not _is_network(estimator):
        raise DataError("new labels need a network: only its body can be kept under a new head", [Problem(
            "finetune.new_labels", f"the new rows have classes {list(new_classes)[:10]}, the model "
            f"{list(parent.task.classes)[:10]}", column=parent.task.target,
            fix="train a new model on these labels with 'trainwright train', or fine-tune a CNN/MLP bundle")])
    if _is_network(estimator):
        new, method, schedule = _network(estimator, Xt, y_fit, Xv, y_val, new_head=new_classes is not None,
                                         lr_scale=lr_scale, deadline=deadline, n_jobs=n_jobs, device=device)
    else:
        _check_classes(parent.task, y_fit, estimator)
        if _library(estimator) is not None:
            new, method, schedule = _boosting(parent, estimator, Xt, y_fit, Xv, y_val, n_jobs=n_jobs, seed=seed,
                                              deadline=deadline)
        elif type(estimator).__name__ in (*_FORESTS, *_HGB):
            new, method, schedule = _grown(estimator, Xt, y_fit)
        else:
            new, method, schedule = continue_linear(estimator, Xt, y_fit)
    return Carried(_with_final(parent.pipeline, new), method, schedule)


def threads(n_jobs: int) -> int:
    """Torch threads for a fine-tuning fit: one on a machine of two cores or fewer (see models/neural.py)."""
    cores = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    return 1 if cores <= 2 else cores
