"""The ladder: order, baselines always, time budget and size limits, failures contained, events, cross-validation."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.data import Fold, FoldPlan, holdout_plan, make_split
from trainwright.evaluation import score_one
from trainwright.models import get_spec, resolve
from trainwright.training import (
    Event,
    FitContext,
    Fitted,
    climb,
    cross_validate,
    fit_candidate,
    fit_pipeline,
    predict_matrix,
)
from trainwright.workflow import Prepared, prepare


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # tiny fits: spinning OpenMP threads only cost time on a shared box
        yield


@pytest.fixture(scope="module")
def data() -> tuple[Prepared, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    prep = prepare(pd.read_csv(dataset_path("penguins")), load_config(None, target="species"))
    split = make_split(prep.X, pd.Series(prep.y, index=prep.X.index), classification=True)
    tr, va = prep.X.index.get_indexer(split.train), prep.X.index.get_indexer(split.validation)
    return prep, prep.X.iloc[tr], prep.y[tr], prep.X.iloc[va], prep.y[va]


def _ctx(data: Any, deadline: float = float("inf"), events: list[Event] | None = None, **kw: Any) -> FitContext:
    prep = data[0]
    return FitContext(prep.schema, prep.task, random_state=0, deadline=deadline, n_jobs=1,
                      listener=(events.append if events is not None else None), **kw)


def _choice_rows(data: Any) -> tuple[pd.DataFrame, np.ndarray, FoldPlan]:
    """Train then validation rows, and the hold-out plan over them."""
    _, X_tr, y_tr, X_va, y_va = data
    return pd.concat([X_tr, X_va]), np.concatenate([y_tr, y_va]), holdout_plan(len(X_tr), len(X_va))


def _climb(data: Any, specs: list[Any], deadline: float, events: list[Event] | None = None) -> list[Any]:
    X, y, plan = _choice_rows(data)
    return climb(specs, X, y, plan, _ctx(data, deadline, events, size_scale=0.1))


def test_ladder_fits_in_order_and_reports_events(data: Any) -> None:
    events: list[Event] = []
    results = _climb(data, resolve(["knn", "dummy", "random_forest"]), time.monotonic() + 300, events)
    assert [r.trial.name for r in results] == ["dummy", "knn", "random_forest"]
    assert all(isinstance(r, Fitted) and r.trial.ok for r in results)
    assert [(e.stage, e.spec.name) for e in events] == [
        ("start", "dummy"), ("done", "dummy"), ("start", "knn"), ("done", "knn"),
        ("start", "random_forest"), ("done", "random_forest")]
    assert events[1].trial is results[0].trial
    assert results[2].trial.params["n_estimators"] == 30  # size_scale applied (300 * 0.1)


def test_time_budget_skips_all_but_the_baseline(data: Any) -> None:
    events: list[Event] = []
    results = _climb(data, resolve(["dummy", "linear", "lightgbm"]), time.monotonic() - 1, events)
    statuses = {(r.trial if isinstance(r, Fitted) else r).name: r for r in results}
    assert isinstance(statuses["dummy"], Fitted) and statuses["dummy"].trial.ok
    for name in ("linear", "lightgbm"):
        trial = statuses[name]
        assert trial.status == "skipped" and "time budget" in trial.message
    assert [e.stage for e in events] == ["start", "done", "skipped", "skipped"]


def test_size_limit_skips_and_says_so(data: Any) -> None:
    small_knn = replace(get_spec("knn"), max_rows=10)
    (_, knn) = _climb(data, [get_spec("dummy"), small_knn], time.monotonic() + 300)
    assert knn.status == "skipped" and "above its limit of 10" in knn.message


def test_failing_candidate_does_not_stop_the_ladder(data: Any) -> None:
    def broken(ctx: Any, params: Any) -> Any:
        raise RuntimeError("no such solver\nsecond line")

    bad = replace(get_spec("linear"), name="broken", build=broken)
    results = _climb(data, [get_spec("dummy"), bad, get_spec("knn")], time.monotonic() + 300)
    assert results[1].status == "failed" and results[1].message == "RuntimeError: no such solver"
    assert isinstance(results[2], Fitted) and results[2].trial.ok


@pytest.fixture(scope="module")
def linear(data: Any) -> Fitted:
    (fitted,) = _climb(data, [get_spec("linear")], time.monotonic() + 300)
    return fitted


def test_trial_records_scores_and_costs(data: Any, linear: Fitted) -> None:
    prep, X_tr, y_tr, _X_va, y_va = data
    fitted = linear
    t = fitted.trial
    assert t.val_scores["log_loss"] == pytest.approx(score_one("log_loss", y_va, fitted.val_pred, prep.task))
    train_pred = predict_matrix(fitted.pipeline, X_tr, prep.task)
    assert t.train_scores["accuracy"] == pytest.approx(score_one("accuracy", y_tr, train_pred, prep.task))
    assert t.val_se > 0 and t.fit_seconds > 0 and t.predict_ms_per_1k > 0 and t.size_bytes > 1000


def test_early_stopping_records_iterations_and_refits_without_stopping(data: Any) -> None:
    _prep, X_tr, y_tr, _X_va, _y_va = data
    spec = get_spec("lightgbm")
    (fitted,) = _climb(data, [spec], time.monotonic() + 300)
    best = fitted.trial.best_iteration
    assert best is not None and best < 200  # 2000 * 0.1, stopped early on the easy penguins
    pipeline, again, _ = fit_pipeline(spec, _ctx(data), X_tr, y_tr, fitted.trial.params)
    assert again is None  # no validation part: iterations fixed
    assert pipeline.named_steps["model"].n_estimators == best


def test_cross_validate_matches_a_manual_loop(data: Any, linear: Fitted) -> None:
    prep, X_tr, y_tr, _, _ = data
    spec, fitted = get_spec("linear"), linear
    folds = [(np.arange(0, 160), np.arange(160, len(X_tr))), (np.arange(80, len(X_tr)), np.arange(0, 80))]
    plan = FoldPlan("kfold", tuple(Fold(a, b) for a, b in folds), len(X_tr))
    trial, run = cross_validate(fitted.trial, spec, X_tr, y_tr, plan, _ctx(data))
    expected, manual = [], np.full((len(X_tr), 3), np.nan)
    for tr, te in folds:
        pipe, _, _ = fit_pipeline(spec, _ctx(data), X_tr.iloc[tr], y_tr[tr], fitted.trial.params)
        manual[te] = predict_matrix(pipe, X_tr.iloc[te], prep.task)
        expected.append(score_one("log_loss", y_tr[te], manual[te], prep.task))
    assert trial.cv_scores == pytest.approx(expected)
    assert trial.val_scores == fitted.trial.val_scores  # the rest of the trial is unchanged
    assert run is not None and run.oof.dtype == np.float32 and run.oof.shape == (len(X_tr), 3)
    np.testing.assert_allclose(run.oof, manual, rtol=1e-6)  # rows never held out (80-159) stay NaN in both


def test_train_scores_come_from_a_seeded_sample_above_the_row_limit(data: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import trainwright.training.fit as fit

    prep, X_tr, y_tr, _X_va, _y_va = data
    spec = get_spec("linear")
    X, y, plan = _choice_rows(data)

    def run(limit: int) -> dict[str, float]:
        monkeypatch.setattr(fit, "TRAIN_SCORE_ROWS", limit)
        result = fit_candidate(spec, spec.defaults, X, y, plan, _ctx(data))
        assert isinstance(result, Fitted)
        return dict(result.trial.train_scores)

    full = run(len(X_tr))
    reference = score_one("log_loss", y_tr, predict_matrix(
        fit_pipeline(spec, _ctx(data), X_tr, y_tr, spec.defaults)[0], X_tr, prep.task), prep.task)
    assert full["log_loss"] == pytest.approx(reference)  # at or under the limit: every train row
    sampled, again = run(60), run(60)
    assert sampled == again  # seeded: the same rows each time
    assert sampled["log_loss"] != full["log_loss"]  # a different set of rows
    assert sampled["accuracy"] > 0.9  # and still an estimate of the same model's fit on train
