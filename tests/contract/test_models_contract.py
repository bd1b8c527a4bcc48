"""Every registered model through the same invariants, on small real data for each task it supports.

fit/predict shapes, probabilities in [0, 1] summing to 1, refit with the same seed gives identical predictions,
a bundle round trip (write_bundle + load) gives identical predictions, and a quality floor (beats the dummy
baseline on validation). One fit per (model, task) is shared by the tests through a module-level cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.bundle import load, write_bundle
from trainwright.config import load_config
from trainwright.data import Split, TaskKind, holdout_plan, make_split
from trainwright.evaluation import get_metric, score_one
from trainwright.models import ModelSpec, all_specs, get_spec
from trainwright.training import FitContext, Fitted, fit_candidate, fit_pipeline, predict_matrix
from trainwright.workflow import Prepared, prepare

SEED = 0
DATA = {  # task kind -> (dataset, target, rows): binary with categoricals and missing values, etc.
    TaskKind.BINARY: ("credit_data", "Status", 300),
    TaskKind.MULTICLASS: ("penguins", "species", None),
    TaskKind.REGRESSION: ("diabetes", "progression", None),
}
# every model that reads tables (models tagged "images_only" or "audio_only" have their own tests:
# tests/integration/test_images.py, tests/unit/transfer/, tests/unit/audio/)
TABULAR = [spec for spec in all_specs() if not {"images_only", "audio_only"} & spec.tags]
CASES = [pytest.param(spec.name, kind, id=f"{spec.name}-{kind.value}") for spec in TABULAR for kind in DATA
         if spec.supports(kind)]


@dataclass(frozen=True)
class Case:
    prep: Prepared
    split: Split
    spec: ModelSpec
    fitted: Fitted

    def part(self, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        pos = self.prep.X.index.get_indexer(rows)
        return self.prep.X.iloc[pos], self.prep.y[pos]


_prepared: dict[TaskKind, tuple[Prepared, Split]] = {}
_fitted: dict[tuple[str, TaskKind], Case] = {}


def _data(kind: TaskKind) -> tuple[Prepared, Split]:
    if kind not in _prepared:
        name, target, rows = DATA[kind]
        frame = pd.read_csv(dataset_path(name))
        if rows:
            frame = frame.sample(rows, random_state=SEED).reset_index(drop=True)
        prep = prepare(frame, load_config(None, target=target, seed=SEED))
        assert prep.task.kind is kind
        split = make_split(prep.X, pd.Series(prep.y, index=prep.X.index), classification=prep.task.is_classification,
                           random_state=SEED)
        _prepared[kind] = (prep, split)
    return _prepared[kind]


def _params(spec: ModelSpec) -> dict[str, Any]:
    return spec.params({"n_estimators": 50} if "n_estimators" in spec.defaults else None)


def _context(prep: Prepared) -> FitContext:
    return FitContext(prep.schema, prep.task, random_state=SEED, n_jobs=1)


def _fit(spec: ModelSpec, prep: Prepared, split: Split, params: dict[str, Any] | None = None) -> Fitted:
    """fit_candidate on train then validation rows: the hold-out fold the ladder fits (early stopping on validation)."""
    pos_tr, pos_va = prep.X.index.get_indexer(split.train), prep.X.index.get_indexer(split.validation)
    X, y = prep.X.iloc[np.concatenate([pos_tr, pos_va])], prep.y[np.concatenate([pos_tr, pos_va])]
    result = fit_candidate(spec, params or _params(spec), X, y, holdout_plan(len(pos_tr), len(pos_va), seed=SEED),
                           _context(prep))
    assert isinstance(result, Fitted), f"{spec.name} failed: {result.message}"
    return result


def case(name: str, kind: TaskKind) -> Case:
    if (name, kind) not in _fitted:
        prep, split = _data(kind)
        spec = get_spec(name)
        _fitted[(name, kind)] = Case(prep, split, spec, _fit(spec, prep, split))
    return _fitted[(name, kind)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """One OpenMP/BLAS thread: these fits are tiny, and spinning threads on a shared 2-core box cost seconds each."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def test_every_model_supports_every_tabular_task() -> None:
    assert len(CASES) == 3 * len(TABULAR)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_fit_predict_shapes_and_trial(name: str, kind: TaskKind) -> None:
    c = case(name, kind)
    X_val, y_val = c.part(c.split.validation)
    pred = c.fitted.val_pred
    n_classes = len(c.prep.task.classes)
    assert pred.shape == ((len(X_val), n_classes) if kind is not TaskKind.REGRESSION else (len(X_val),))
    assert np.isfinite(pred).all()
    trial = c.fitted.trial
    assert trial.ok and trial.name == name and trial.rung == c.spec.rung
    assert set(trial.val_scores) == set(trial.train_scores) and c.prep.task.metric in trial.val_scores
    assert trial.val_scores[c.prep.task.metric] == pytest.approx(score_one(c.prep.task.metric, y_val, pred, c.prep.task))
    assert trial.fit_seconds > 0 and trial.size_bytes > 0 and trial.predict_ms_per_1k > 0
    if c.spec.early_stopping is not None:
        assert trial.best_iteration is not None and 1 <= trial.best_iteration <= 50
        assert trial.params["n_estimators"] == trial.best_iteration  # refits use the count early stopping found


@pytest.mark.parametrize(("name", "kind"), [c for c in CASES if c.values[1] is not TaskKind.REGRESSION])
def test_probabilities_are_a_distribution(name: str, kind: TaskKind) -> None:
    c = case(name, kind)
    X_test, _ = c.part(c.split.test)
    for proba in (c.fitted.val_pred, predict_matrix(c.fitted.pipeline, X_test, c.prep.task)):
        assert proba.shape[1] == len(c.prep.task.classes)
        assert (proba >= 0).all() and (proba <= 1).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_refit_with_same_seed_is_identical(name: str, kind: TaskKind) -> None:
    c = case(name, kind)
    (X_tr, y_tr), (X_val, y_val) = c.part(c.split.train), c.part(c.split.validation)
    pipeline, best, _ = fit_pipeline(c.spec, _context(c.prep), X_tr, y_tr, _params(c.spec), random_state=SEED,
                                     X_val=X_val, y_val=y_val)  # the same path fit_candidate takes
    np.testing.assert_array_equal(predict_matrix(pipeline, X_val, c.prep.task), c.fitted.val_pred)
    assert best == c.fitted.trial.best_iteration


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_bundle_round_trip_gives_identical_predictions(name: str, kind: TaskKind, tmp_path: Path) -> None:
    c = case(name, kind)
    task, schema = c.prep.task, c.prep.schema
    documents = {"schema": schema.to_dict(), "task": task.to_dict(), "metadata": {"model": name},
                 "metrics": {"validation": dict(c.fitted.trial.val_scores)}}
    model = load(write_bundle(tmp_path / "model", c.fitted.pipeline, documents))
    raw = c.prep.frame.loc[c.split.validation]  # as a user sends it: raw columns, target included
    out = model.predict(raw)
    assert list(out.index) == list(raw.index)
    if kind is TaskKind.REGRESSION:
        np.testing.assert_array_equal(out["prediction"].to_numpy(), c.fitted.val_pred)
        return
    proba = out[[f"proba_{k}" for k in task.classes]].to_numpy()
    np.testing.assert_array_equal(proba, c.fitted.val_pred)
    assert set(out["prediction"]) <= set(task.classes)


@pytest.mark.parametrize(("name", "kind"), [c for c in CASES if c.values[0] != "dummy"])
def test_beats_the_dummy_baseline(name: str, kind: TaskKind) -> None:
    c = case(name, kind)
    dummy = case("dummy", kind)
    metric = c.prep.task.metric
    sign = 1 if get_metric(metric).greater_is_better else -1
    ours, base = c.fitted.trial.score(metric), dummy.fitted.trial.score(metric)
    assert sign * ours > sign * base, f"{name} {metric} {ours:.4f} does not beat dummy {base:.4f}"


@pytest.mark.parametrize("kind", [TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION])
def test_the_linear_svm_form_also_survives_a_bundle_round_trip(kind: TaskKind, tmp_path: Path) -> None:
    """Above KERNEL_MAX_ROWS the SVM is a calibrated LinearSVC (or LinearSVR): its types must be on the allowlist too."""
    prep, split = _data(kind)
    spec = get_spec("svm")
    fitted = _fit(spec, prep, split, spec.params({"kernel": "linear"}))
    assert "Linear" in type(getattr(fitted.pipeline[-1], "estimator", fitted.pipeline[-1])).__name__
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "svm"},
                 "metrics": {"validation": dict(fitted.trial.val_scores)}}
    model = load(write_bundle(tmp_path / "model", fitted.pipeline, documents))
    out = model.predict(prep.frame.loc[split.validation])
    columns = [f"proba_{k}" for k in prep.task.classes] if prep.task.is_classification else ["prediction"]
    np.testing.assert_array_equal(out[columns].to_numpy().squeeze(), fitted.val_pred)
