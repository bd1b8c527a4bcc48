"""The regression gate's statistics, against hand-computed cases and independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trainwright.data import Task, TaskKind
from trainwright.evaluation.comparison import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    compare_predictions,
    mcnemar,
    paired_bootstrap,
    predicted_labels,
    rowwise_bootstrap,
    verdict,
)

BINARY_ACC = Task(kind=TaskKind.BINARY, target="y", metric="accuracy", classes=(0, 1), positive_label=1)
REGRESSION = Task(kind=TaskKind.REGRESSION, target="y", metric="rmse")


def proba(labels: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    """A probability matrix whose predicted label is ``labels``."""
    labels = np.asarray(labels)
    p1 = np.where(labels == 1, confidence, 1 - confidence)
    return np.column_stack([1 - p1, p1])


def test_mcnemar_exact_matches_the_hand_computed_binomial_tail_and_scipy():
    # 10 rows only the challenger got right, 2 only the champion: p = 2 * P(X <= 2 | n=12, 1/2)
    a = [True] * 10 + [False] * 2 + [True] * 5
    b = [False] * 10 + [True] * 2 + [True] * 5
    result = mcnemar(a, b)
    assert (result.challenger_only, result.champion_only, result.method) == (10, 2, "exact")
    assert result.p_value == pytest.approx(2 * (1 + 12 + 66) / 4096)  # = 0.03857...
    assert result.p_value == pytest.approx(stats.binomtest(2, 12, 0.5).pvalue)


def test_mcnemar_chi2_with_continuity_correction_matches_hand_and_scipy():
    a = [True] * 30 + [False] * 10
    b = [False] * 30 + [True] * 10
    result = mcnemar(a, b)
    assert result.method == "chi2"
    assert result.statistic == pytest.approx((30 - 10 - 1) ** 2 / 40)  # 9.025
    assert result.p_value == pytest.approx(stats.chi2.sf(9.025, df=1))
    assert mcnemar(a, b, exact=True).p_value == pytest.approx(stats.binomtest(10, 40, 0.5).pvalue)


def test_mcnemar_without_disagreement_is_not_significant():
    assert mcnemar([True, False, True], [True, False, True]).p_value == 1.0


@pytest.mark.parametrize(("low", "high", "greater", "expected"), [
    (0.01, 0.05, True, BETTER), (-0.05, -0.01, True, WORSE), (-0.01, 0.02, True, NO_DIFFERENCE),
    (0.01, 0.05, False, WORSE), (-0.05, -0.01, False, BETTER), (0.0, 0.0, True, NO_DIFFERENCE),
    (float("nan"), 0.1, True, NO_DIFFERENCE),
])
def test_verdict_follows_the_metric_direction(low, high, greater, expected):
    assert verdict(low, high, greater) == expected


def test_identical_models_have_a_zero_interval_and_no_significant_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = proba(rng.integers(0, 2, 300))
    result = compare_predictions(y, p, p.copy(), BINARY_ACC, n_boot=200)
    assert (result.difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
    assert result.verdict == NO_DIFFERENCE and not result.worse


def test_hand_computed_accuracy_difference_and_mcnemar_counts():
    y = np.array([1, 1, 0, 0, 1, 0])
    champion = proba(np.array([1, 0, 0, 1, 0, 0]))   # right on rows 0, 2, 5 -> 3/6
    challenger = proba(y)                            # right everywhere -> 6/6
    result = compare_predictions(y, challenger, champion, BINARY_ACC, n_boot=300)
    assert result.challenger == 1.0 and result.champion == 0.5
    assert result.difference == pytest.approx(0.5)
    assert (result.mcnemar.challenger_only, result.mcnemar.champion_only) == (3, 0)
    assert result.mcnemar.p_value == pytest.approx(2 * 1 / 8)  # exact: 2 * P(X <= 0 | n=3)
    assert 0 < result.ci_low <= 0.5 <= result.ci_high <= 1.0


def test_paired_bootstrap_agrees_with_the_normal_approximation_for_accuracy():
    # accuracy difference = mean of d_i = right_a - right_b; its CI ~ mean +/- 1.96 sd / sqrt(n)
    rng = np.random.default_rng(42)
    n = 4000
    y = rng.integers(0, 2, n)
    right_b = rng.random(n) < 0.78
    right_a = np.where(rng.random(n) < 0.7, right_b, rng.random(n) < 0.84)
    pred_a, pred_b = np.where(right_a, y, 1 - y), np.where(right_b, y, 1 - y)
    result = compare_predictions(y, proba(pred_a), proba(pred_b), BINARY_ACC, n_boot=2000, random_state=1)
    d = right_a.astype(float) - right_b.astype(float)
    half = 1.959964 * d.std(ddof=1) / math.sqrt(n)
    assert result.difference == pytest.approx(d.mean())
    assert result.ci_low == pytest.approx(d.mean() - half, abs=0.003)
    assert result.ci_high == pytest.approx(d.mean() + half, abs=0.003)
    assert result.verdict == (BETTER if d.mean() - half > 0 else NO_DIFFERENCE)


def test_paired_bootstrap_cancels_what_the_models_share():
    """Two models whose scores move together: the paired interval is far narrower than unpaired noise."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=500)
    noise = rng.normal(size=500)
    a, b = y + noise, y + noise + 0.05

    def rmse(t: np.ndarray, p: np.ndarray) -> float:
        return float(np.sqrt(np.mean((t - p) ** 2)))

    diff, low, high, diffs = paired_bootstrap(y, a, b, rmse, n_boot=500, random_state=0)
    assert len(diffs) == 500 and low <= diff <= high
    assert high - low < 0.02  # each RMSE alone varies by ~0.06 over resamples


def test_regression_challenger_with_larger_errors_is_worse_and_smaller_is_better():
    rng = np.random.default_rng(7)
    y = rng.normal(size=400)
    good = y + rng.normal(scale=0.3, size=400)
    bad = y + rng.normal(scale=0.6, size=400)
    assert compare_predictions(y, bad, good, REGRESSION, n_boot=300).verdict == WORSE
    better = compare_predictions(y, good, bad, REGRESSION, n_boot=300)
    assert better.verdict == BETTER and better.difference < 0 and better.mcnemar is None


def test_slices_report_each_value_with_its_own_difference():
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    champion = proba(np.array([1, 0, 1, 0, 0, 1, 0, 1]))  # right on slice a (rows 0-3), wrong on slice b
    challenger = proba(y)
    slices = ["a"] * 4 + ["b"] * 4
    result = compare_predictions(y, challenger, champion, BINARY_ACC, slices=slices, slice_column="s", n_boot=200)
    by_value = {s.value: s for s in result.slices}
    assert by_value["a"].difference == 0.0 and by_value["a"].verdict == NO_DIFFERENCE
    assert by_value["b"].difference == 1.0 and by_value["b"].n == 4
    assert (by_value["b"].ci_low, by_value["b"].ci_high) == (1.0, 1.0) and by_value["b"].verdict == BETTER


def test_missing_slice_values_form_their_own_slice():
    y = np.array([1, 0, 1, 0])
    p = proba(y)
    result = compare_predictions(y, p, p, BINARY_ACC, slices=["x", None, "x", float("nan")], n_boot=100)
    assert sorted(s.value for s in result.slices) == ["(missing)", "x"]


def test_predicted_labels_use_the_positive_class_threshold():
    task = Task(kind=TaskKind.BINARY, target="y", metric="accuracy", classes=("no", "yes"), positive_label="no")
    p = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    assert predicted_labels(p, task).tolist() == [0, 1, 0]


@pytest.mark.parametrize("metric", ["accuracy", "rmse"])
def test_the_numpy_fast_path_equals_the_generic_bootstrap_over_scikit_learn(metric):
    from trainwright.evaluation import score_one

    rng = np.random.default_rng(5)
    if metric == "accuracy":
        task, y = BINARY_ACC, rng.integers(0, 2, 200)
        a, b = proba(rng.integers(0, 2, 200)), proba(np.where(rng.random(200) < 0.8, y, 1 - y))
        rows_a, rows_b, final = (predicted_labels(a, task) == y) * 1.0, (predicted_labels(b, task) == y) * 1.0, float
    else:
        task, y = REGRESSION, rng.normal(size=200)
        a, b = y + rng.normal(size=200), y + rng.normal(scale=0.5, size=200)
        rows_a, rows_b, final = (a - y) ** 2, (b - y) ** 2, math.sqrt
    generic = paired_bootstrap(y, a, b, lambda t, p: score_one(metric, t, p, task), n_boot=150, random_state=9)
    fast = rowwise_bootstrap(rows_a, rows_b, final, n_boot=150, random_state=9)
    assert fast[:3] == pytest.approx(generic[:3], abs=1e-12)
    np.testing.assert_allclose(fast[3], generic[3], atol=1e-12)
