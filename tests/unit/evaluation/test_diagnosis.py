"""Diagnosis rules on constructed cases: real deliberately over-fitting and worse-than-baseline models, and
hand-made trials for the boundaries of each stated threshold."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import holdout_plan, infer_schema, infer_task
from trainwright.evaluation import Leaderboard, Trial
from trainwright.evaluation.diagnosis import THRESHOLDS, LearningCurve, diagnose, skill
from trainwright.models import get_spec
from trainwright.training import FitContext, Fitted, fit_candidate
from trainwright.training.learning_curve import learning_curve


def _trial(name: str, rung: int, val: float, train: float, metric: str = "roc_auc", **kw) -> Trial:
    return Trial(name=name, family=name, rung=rung, status="ok", val_scores={metric: val},
                 train_scores={metric: train}, **kw)


def _board(*trials: Trial, metric: str = "roc_auc") -> Leaderboard:
    return Leaderboard(tuple(trials), metric)


DUMMY = _trial("dummy", 0, 0.5, 0.5)


def _noisy_problem(flip: float, seed: int = 0):
    frame = pd.read_csv(dataset_path("breast_cancer"))
    rng = np.random.default_rng(seed)
    y = frame["diagnosis"].to_numpy().copy()
    flips = rng.random(len(y)) < flip
    y[flips] = np.where(y[flips] == "malignant", "benign", "malignant")
    frame["diagnosis"] = y
    task, schema = infer_task(frame["diagnosis"]), infer_schema(frame, "diagnosis")
    X = frame[schema.features]
    codes = task.encode(frame["diagnosis"])
    cut = int(0.7 * len(X))
    return task, schema, X.iloc[:cut], codes[:cut], X.iloc[cut:], codes[cut:]


def _fit(name: str, task, schema, X_tr, y_tr, X_va, y_va, **params) -> Trial:
    spec = get_spec(name)
    X, y = pd.concat([X_tr, X_va]), np.concatenate([y_tr, y_va])
    fitted = fit_candidate(spec, spec.params(params), X, y, holdout_plan(len(X_tr), len(X_va)),
                           FitContext(schema, task, n_jobs=1))
    assert isinstance(fitted, Fitted), fitted
    return fitted.trial


def test_skill_is_zero_at_baseline_one_when_perfect():
    assert skill(0.5, 0.5, "roc_auc") == 0 and skill(1.0, 0.5, "roc_auc") == 1 and skill(0.75, 0.5, "roc_auc") == 0.5
    assert skill(0.0, 2.0, "rmse") == 1 and skill(1.0, 2.0, "rmse") == 0.5 and skill(3.0, 2.0, "rmse") == -0.5
    assert np.isnan(skill(0.9, float("nan"), "roc_auc"))


def test_a_deliberately_over_fitting_model_is_called_over_fitting():
    task, schema, X_tr, y_tr, X_va, y_va = _noisy_problem(flip=0.30)
    dummy = _fit("dummy", task, schema, X_tr, y_tr, X_va, y_va)
    forest = _fit("random_forest", task, schema, X_tr, y_tr, X_va, y_va, n_estimators=50, min_samples_leaf=1)
    d = diagnose(_board(dummy, forest), "random_forest", n_validation=len(y_va))
    v = d.verdict("overfitting")
    assert v.status == "yes", v
    assert forest.train_scores["roc_auc"] > 0.99 and str(THRESHOLDS["overfit_gap"]) in v.rule and v.next_step
    assert "over-fitting" in d.summary


def test_a_model_worse_than_the_baseline_is_called_out():
    task, schema, X_tr, y_tr, X_va, y_va = _noisy_problem(flip=0.0)
    dummy = _fit("dummy", task, schema, X_tr, y_tr, X_va, y_va)
    inverted = _fit("linear", task, schema, X_tr, 1 - y_tr, X_va, y_va)  # learnt the labels backwards
    d = diagnose(_board(dummy, inverted), "linear", n_validation=len(y_va))
    v = d.verdict("underfitting")
    assert v.status == "yes" and v.title == "worse than the dummy baseline" and "skill -" in v.evidence


def test_a_good_model_gets_no_verdict():
    task, schema, X_tr, y_tr, X_va, y_va = _noisy_problem(flip=0.0)
    dummy = _fit("dummy", task, schema, X_tr, y_tr, X_va, y_va)
    linear = _fit("linear", task, schema, X_tr, y_tr, X_va, y_va)
    d = diagnose(_board(dummy, linear), "linear", n_validation=len(y_va))
    assert {v.code: v.status for v in d.verdicts} == {
        "overfitting": "no", "underfitting": "no", "unstable": "unknown", "more_data": "unknown", "leakage": "no"}


def test_under_fitting_close_to_dummy_on_both_parts():
    d = diagnose(_board(DUMMY, _trial("linear", 1, 0.52, 0.55)), "linear", n_validation=500)
    assert d.verdict("underfitting").status == "yes"
    d = diagnose(_board(DUMMY, _trial("linear", 1, 0.52, 0.95)), "linear", n_validation=500)
    assert d.verdict("underfitting").status == "no" and d.verdict("overfitting").status == "yes"


def test_unstable_across_folds_uses_the_stated_threshold():
    wobbly = _trial("linear", 1, 0.80, 0.82, cv_scores=(0.70, 0.90, 0.75, 0.85))
    steady = _trial("linear", 1, 0.80, 0.82, cv_scores=(0.80, 0.81, 0.79, 0.80))
    assert diagnose(_board(DUMMY, wobbly), "linear", n_validation=500).verdict("unstable").status == "yes"
    assert diagnose(_board(DUMMY, steady), "linear", n_validation=500).verdict("unstable").status == "no"
    expected_sd = np.std([skill(v, 0.5, "roc_auc") for v in (0.70, 0.90, 0.75, 0.85)], ddof=1)
    assert f"{expected_sd:.3f}" in diagnose(_board(DUMMY, wobbly), "linear", n_validation=500).verdict("unstable").evidence


def test_more_data_when_the_learning_curve_still_rises():
    rising = LearningCurve("roc_auc", (0.1, 0.25, 0.5, 1.0), (50, 125, 250, 500), (1, 1, 1, 1), (0.70, 0.76, 0.80, 0.86))
    flat = LearningCurve("roc_auc", (0.1, 0.25, 0.5, 1.0), (50, 125, 250, 500), (1, 1, 1, 1), (0.80, 0.85, 0.86, 0.862))
    t = _trial("linear", 1, 0.86, 0.9)
    assert diagnose(_board(DUMMY, t), "linear", n_validation=500, learning_curve=rising).verdict("more_data").status == "yes"
    assert diagnose(_board(DUMMY, t), "linear", n_validation=500, learning_curve=flat).verdict("more_data").status == "no"


def test_leakage_when_validation_is_implausibly_perfect_or_the_audit_says_so():
    perfect = _trial("linear", 1, 0.9999, 1.0)
    assert diagnose(_board(DUMMY, perfect), "linear", n_validation=500).verdict("leakage").status == "yes"
    assert diagnose(_board(DUMMY, perfect), "linear", n_validation=50).verdict("leakage").status == "no"
    ok = _trial("linear", 1, 0.8, 0.85)
    v = diagnose(_board(DUMMY, ok), "linear", n_validation=500, leakage_suspects=("refund_issued",)).verdict("leakage")
    assert v.status == "yes" and "refund_issued" in v.evidence


def test_error_metrics_use_the_same_rules():
    dummy = _trial("dummy", 0, 80.0, 80.0, metric="rmse")
    over = _trial("lightgbm", 6, 60.0, 5.0, metric="rmse")
    d = diagnose(_board(dummy, over, metric="rmse"), "lightgbm", n_validation=300)
    assert d.verdict("overfitting").status == "yes" and d.verdict("underfitting").status == "no"


def test_learning_curve_grows_and_respects_the_deadline():
    task, schema, X_tr, y_tr, X_va, y_va = _noisy_problem(flip=0.0)
    spec = get_spec("linear")
    X, y = pd.concat([X_tr, X_va]), np.concatenate([y_tr, y_va])
    ctx = FitContext(schema, task, n_jobs=1, deadline=time.monotonic() + 60)
    curve = learning_curve(spec, X, y, len(X_tr), spec.params(), ctx, full_fit_seconds=0.05)
    assert curve.fractions == (0.1, 0.25, 0.5, 1.0)
    assert list(curve.n_rows) == sorted(curve.n_rows) and curve.n_rows[-1] == len(y_tr)
    assert all(0.5 < v <= 1.0 for v in curve.val_scores)
    late = learning_curve(spec, X, y, len(X_tr), spec.params(), replace(ctx, deadline=time.monotonic() - 1),
                          full_fit_seconds=0.05)
    assert late.fractions == () and "time budget" in late.note
    v = diagnose(_board(DUMMY, _trial("linear", 1, 0.9, 0.9)), "linear", n_validation=100, learning_curve=late)
    assert v.verdict("more_data").status == "unknown"


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_diagnosis_serialises(metric):
    t = _trial("linear", 1, 0.3, 0.2, metric=metric)
    d = diagnose(_board(_trial("dummy", 0, 0.69, 0.69, metric=metric), t, metric=metric), "linear", n_validation=10)
    data = d.to_dict()
    assert data["model"] == "linear" and len(data["verdicts"]) == 5 and data["thresholds"] == THRESHOLDS


def test_a_cv_skipped_for_time_does_not_leave_the_dummy_alone_in_the_choice():
    dummy = _trial("dummy", 0, 0.5, 0.5, cv_scores=(0.5, 0.5, 0.5), val_se=0.0)
    lgbm = _trial("lightgbm", 6, 0.99, 1.0, val_se=0.005, message="cv skipped: time budget")
    choice = _board(dummy, lgbm).choose()
    assert (choice.chosen, choice.basis) == ("lightgbm", "bootstrap")
