"""Metrics equal scikit-learn's functions on real predictions; bootstrap SE; metric checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import dataset_path
from trainwright.data import Task, infer_task
from trainwright.evaluation import METRICS, bootstrap_se, check_metric, get_metric, score_all, score_one
from trainwright.exceptions import ConfigError


def _fit(name: str, target: str, kind: str) -> tuple[Task, np.ndarray, np.ndarray]:
    """Real held-out predictions of a simple model on numeric columns of a real dataset."""
    frame = pd.read_csv(dataset_path(name))
    task = infer_task(frame[target], kind=kind)
    X = frame.drop(columns=[target]).select_dtypes("number").fillna(0).to_numpy()
    y = task.encode(frame[target])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    tr, te = order[: len(y) // 2], order[len(y) // 2:]
    if task.is_classification:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)).fit(X[tr], y[tr])
        return task, y[te], model.predict_proba(X[te])
    model = LinearRegression().fit(X[tr], y[tr])
    return task, y[te], model.predict(X[te])


@pytest.fixture(scope="module")
def credit() -> tuple[Task, np.ndarray, np.ndarray]:
    return _fit("credit_data", "Status", "auto")  # classes (bad, good), positive 'bad' is code 0


@pytest.fixture(scope="module")
def penguins() -> tuple[Task, np.ndarray, np.ndarray]:
    return _fit("penguins", "species", "auto")


@pytest.fixture(scope="module")
def diabetes() -> tuple[Task, np.ndarray, np.ndarray]:
    return _fit("diabetes", "progression", "auto")


def test_binary_metrics_match_sklearn(credit: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, proba = credit
    assert task.classes == ("bad", "good") and task.positive_label == "bad"
    is_pos = (y == 0).astype(int)
    p_pos = proba[:, 0]
    label = (p_pos >= 0.5).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(is_pos, p_pos),
        "average_precision": skm.average_precision_score(is_pos, p_pos),
        "log_loss": skm.log_loss(y, proba),
        "brier": skm.brier_score_loss(is_pos, p_pos),
        "accuracy": skm.accuracy_score(is_pos, label),
        "balanced_accuracy": skm.balanced_accuracy_score(is_pos, label),
        "f1": skm.f1_score(is_pos, label),
        "fbeta": skm.fbeta_score(is_pos, label, beta=1.0),
        "precision": skm.precision_score(is_pos, label),
        "recall": skm.recall_score(is_pos, label),
        "mcc": skm.matthews_corrcoef(is_pos, label),
        "iou": skm.jaccard_score(is_pos, label),
        "cost": 1 - skm.accuracy_score(is_pos, label),  # without a cost matrix: the error rate
    }
    scores = score_all(y, proba, task)
    assert set(scores) == set(expected)
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, abs=1e-12), name
    assert 0.6 < scores["roc_auc"] < 1.0  # a real model, not a degenerate one


def test_fbeta_uses_task_beta(credit: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, proba = credit
    from dataclasses import replace

    task2 = replace(task, beta=2.0)
    label = (proba[:, 0] >= 0.5).astype(int)
    expected = skm.fbeta_score((y == 0).astype(int), label, beta=2.0)
    assert score_one("fbeta", y, proba, task2) == pytest.approx(expected, abs=1e-12)
    assert score_one("fbeta", y, proba, task2) != pytest.approx(score_one("f1", y, proba, task2))


def test_multiclass_metrics_match_sklearn(penguins: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, proba = penguins
    label = proba.argmax(axis=1)
    expected = {
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr"),
        "log_loss": skm.log_loss(y, proba),
        "accuracy": skm.accuracy_score(y, label),
        "balanced_accuracy": skm.balanced_accuracy_score(y, label),
        "f1": skm.f1_score(y, label, average="macro"),
        "fbeta": skm.fbeta_score(y, label, beta=1.0, average="macro"),
        "precision": skm.precision_score(y, label, average="macro"),
        "recall": skm.recall_score(y, label, average="macro"),
        "mcc": skm.matthews_corrcoef(y, label),
        "iou": skm.jaccard_score(y, label, average="macro"),
    }
    scores = score_all(y, proba, task)
    assert set(scores) == set(expected)
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, abs=1e-12), name


def test_regression_metrics_match_sklearn(diabetes: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, pred = diabetes
    expected = {
        "rmse": np.sqrt(np.mean((y - pred) ** 2)),  # by hand too
        "mae": skm.mean_absolute_error(y, pred),
        "median_ae": skm.median_absolute_error(y, pred),
        "r2": skm.r2_score(y, pred),
    }
    scores = score_all(y, pred, task)
    assert set(scores) == set(expected)
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, rel=1e-10), name
    assert scores["r2"] > 0.3


def test_log_loss_with_a_class_absent_from_y(penguins: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, proba = penguins
    keep = y != 2
    expected = skm.log_loss(y[keep], proba[keep], labels=[0, 1, 2])
    assert score_one("log_loss", y[keep], proba[keep], task) == pytest.approx(expected)
    assert np.isnan(score_one("roc_auc", y[keep], proba[keep], task))  # undefined, not an exception


def test_direction_of_metrics() -> None:
    assert {n for n, m in METRICS.items() if not m.greater_is_better} == {"log_loss", "brier", "cost", "rmse", "mae", "median_ae"}


def test_bootstrap_se_is_a_resampling_standard_error(credit: tuple[Task, np.ndarray, np.ndarray]) -> None:
    task, y, proba = credit
    se = bootstrap_se(y, proba, task, n_boot=60, random_state=0)
    assert se == bootstrap_se(y, proba, task, n_boot=60, random_state=0)  # seeded
    rng = np.random.default_rng(0)
    ref = []
    for _ in range(60):
        idx = rng.integers(0, len(y), len(y))
        ref.append(skm.roc_auc_score((y[idx] == 0).astype(int), proba[idx, 0]))
    assert se == pytest.approx(np.std(ref, ddof=1), rel=1e-12)
    half = bootstrap_se(y[: len(y) // 4], proba[: len(y) // 4], task, n_boot=60, random_state=0)
    assert half > se  # fewer rows, more noise


def test_unknown_metric_suggests_nearest() -> None:
    with pytest.raises(ConfigError) as info:
        get_metric("roc_acu")
    assert "did you mean 'roc_auc'?" in (info.value.problems[0].fix or "")


def test_metric_must_fit_task() -> None:
    regression = Task(kind=infer_task(pd.Series([0.5, 1.5, 2.5])).kind, target="y", metric="roc_auc")
    with pytest.raises(ConfigError) as info:
        check_metric(regression)
    assert "rmse" in (info.value.problems[0].fix or "")
    multiclass = infer_task(pd.Series(["a", "b", "c"]), metric="average_precision")
    with pytest.raises(ConfigError):
        check_metric(multiclass)
    assert check_metric(infer_task(pd.Series(["a", "b"]), metric="mcc")).name == "mcc"


# --- vectorised bootstrap paths: each resample must equal scikit-learn's metric on that resample ------------------


def test_weighted_auc_equals_sklearn_on_each_resample_with_ties():
    from sklearn.metrics import roc_auc_score

    from trainwright.evaluation.metrics import _resample_counts, _weighted_binary_auc

    rng = np.random.default_rng(3)
    n = 2000
    y = rng.integers(0, 2, n)
    score = np.round(y * 0.7 + rng.normal(size=n), 1)  # coarse rounding: many ties
    idx = [rng.integers(0, n, n) for _ in range(6)]
    weights = np.stack([np.bincount(i, minlength=n) for i in idx]).astype(float)
    got = _weighted_binary_auc(y, score, weights)
    want = [roc_auc_score(y[i], score[i]) for i in idx]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert [int(c.sum()) for c in _resample_counts(50, 4, rng)] == [50] * 4


@pytest.mark.parametrize("metric", ["log_loss", "accuracy"])
def test_row_losses_average_to_the_sklearn_metric_multiclass(metric):
    from trainwright.data import Task, TaskKind
    from trainwright.evaluation.metrics import _row_losses, score_one

    rng = np.random.default_rng(4)
    proba = rng.dirichlet([1, 1, 1], 500)
    y = rng.integers(0, 3, 500)
    task = Task(TaskKind.MULTICLASS, "y", metric, classes=(0, 1, 2))
    assert _row_losses(metric, y, proba, task).mean() == pytest.approx(score_one(metric, y, proba, task), abs=1e-12)


def test_bootstrap_se_agrees_with_a_plain_resampling_loop():
    from sklearn.metrics import roc_auc_score

    from trainwright.data import Task, TaskKind
    from trainwright.evaluation.metrics import bootstrap_se

    rng = np.random.default_rng(5)
    n = 3000
    y = rng.integers(0, 2, n)
    s = y * 0.8 + rng.normal(size=n)
    proba = np.column_stack([1 - 1 / (1 + np.exp(-s)), 1 / (1 + np.exp(-s))])
    task = Task(TaskKind.BINARY, "y", "roc_auc", classes=(0, 1), positive_label=1)
    loop = np.std([roc_auc_score(y[i], s[i]) for i in (rng.integers(0, n, n) for _ in range(300))], ddof=1)
    assert bootstrap_se(y, proba, task) == pytest.approx(loop, rel=0.25)  # two bootstraps of ~200: within 25%
