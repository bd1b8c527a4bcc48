"""Drift statistics: scipy's tests are what the report uses, PSI against hand-worked values; no false alarm on fresh
samples, an alarm on shifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trainwright.data import Role, Schema, Task, TaskKind
from trainwright.data.schema import ColumnInfo
from trainwright.drift import (
    Thresholds,
    bin_fractions,
    build_profile,
    compare,
    compare_column,
    metric_change,
    profile_column,
    psi,
)

CATS = np.array(["a", "b", "c", "d"], dtype=object)
P_CATS = [0.4, 0.3, 0.2, 0.1]


def _draw(rng: np.random.Generator, n: int, *, shift: float = 0.0, p=P_CATS, missing: float = 0.05) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < missing] = np.nan
    cat = pd.Series(rng.choice(CATS, n, p=p), dtype=object)
    return pd.DataFrame({"x": x, "cat": cat})


SCHEMA = Schema("y", (ColumnInfo("x", Role.NUMERIC, "float64", "", 0, 0.0),
                      ColumnInfo("cat", Role.CATEGORICAL, "str", "", 4, 0.0)))


@pytest.fixture(scope="module")
def reference():
    return build_profile(_draw(np.random.default_rng(0), 20_000), SCHEMA)


@pytest.mark.parametrize(("n", "m", "integers"), [(2000, 3000, False), (1500, 500, True), (150, 80, False)])
def test_the_reports_ks_is_scipys_on_the_stored_sample(n, m, integers):
    rng = np.random.default_rng(n + m)
    train, new = rng.normal(0, 1, n), rng.normal(0.2, 1.2, m)
    if integers:  # ties
        train, new = np.round(train * 2), np.round(new * 2)
    ref = profile_column("x", Role.NUMERIC, train)  # n <= SAMPLE_SIZE: the stored sample is every training value
    assert sorted(ref.sample) == sorted(train.tolist())
    drift = compare_column(ref, new)
    direct = stats.ks_2samp(train, new, method="asymp")  # asymptotic: what a drift check of many rows uses
    assert drift.ks_statistic == direct.statistic and drift.ks_pvalue == direct.pvalue
    assert drift.ks_statistic == pytest.approx(stats.ks_2samp(train, new).statistic, abs=1e-12)  # any method


def test_the_reports_chi_square_is_scipys_test_of_homogeneity():
    rng = np.random.default_rng(3)
    train = pd.Series(rng.choice(CATS, 5000, p=P_CATS), dtype=object)
    new = pd.Series(rng.choice(CATS, 800, p=[0.35, 0.3, 0.2, 0.15]), dtype=object)
    drift = compare_column(profile_column("cat", Role.CATEGORICAL, train), new)
    table = [[int((train == c).sum()) for c in CATS], [int((new == c).sum()) for c in CATS]]
    direct = stats.chi2_contingency(table, correction=False)
    assert drift.chi2 == pytest.approx(direct.statistic, rel=1e-12)
    assert drift.chi2_pvalue == pytest.approx(direct.pvalue, rel=1e-9)
    # a goodness-of-fit test would take the 5000 training rows as the population: a smaller p-value
    fit = stats.chisquare(table[1], np.array(table[0]) / 5000 * 800)
    assert fit.pvalue < drift.chi2_pvalue


def test_psi_by_hand_and_bins():
    # expected (0.25, 0.25, 0.5), actual (0.5, 0.25, 0.25):
    # (0.5 - 0.25) ln(0.5 / 0.25) + 0 + (0.25 - 0.5) ln(0.25 / 0.5) = 0.25 ln 2 + 0.25 ln 2 = 0.5 ln 2 = 0.346574
    assert psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25]) == pytest.approx(0.346574, abs=1e-6)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5))
    # bins are (-inf, 1], (1, 2], (2, inf)
    np.testing.assert_allclose(bin_fractions((1.0, 2.0), np.array([0.0, 1.0, 1.5, 2.0, 9.0])), [0.4, 0.4, 0.2])


def test_psi_of_a_column_worked_by_hand():
    # training values 1..10: deciles at 1.9, 2.8, ..., 9.1, so each of the 10 bins holds one value (0.1 each)
    ref = profile_column("x", Role.NUMERIC, np.arange(1.0, 11.0))
    np.testing.assert_allclose(ref.edges, [1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    assert ref.fractions == pytest.approx([0.1] * 10)
    # new values 1,1,1,1,1,2,3,4,5,6: first bin 0.5, the next five 0.1, the last four empty (floored at 1e-4)
    # PSI = (0.5 - 0.1) ln 5 + 5 * 0 + 4 * (0.0001 - 0.1) ln(0.0001 / 0.1)
    #     = 0.4 * 1.609438 + 4 * (-0.0999) * (-6.907755) = 0.643775 + 2.760339 = 3.404114
    drift = compare_column(ref, np.array([1.0, 1, 1, 1, 1, 2, 3, 4, 5, 6]))
    assert drift.psi == pytest.approx(3.404114, abs=1e-6)


@pytest.mark.parametrize("seed", range(1, 6))
def test_no_false_alarm_on_fresh_samples(reference, seed):
    fresh = _draw(np.random.default_rng(seed), 3000)
    report = compare(reference, fresh)
    assert not report.drifted, [c.reasons for c in report.columns]
    x = next(c for c in report.columns if c.name == "x")
    assert x.ks_pvalue > 0.001 and x.psi < 0.05


def test_alarm_on_numeric_shift(reference):
    report = compare(reference, _draw(np.random.default_rng(7), 3000, shift=0.5))
    x = next(c for c in report.columns if c.name == "x")
    assert report.drifted and report.drifted_columns == ["x"]
    assert x.psi > 0.2 and x.ks_pvalue < 1e-6 and x.ks_statistic > 0.15


def test_alarm_on_category_mix_unseen_and_missing(reference):
    rng = np.random.default_rng(8)
    mix = compare(reference, _draw(rng, 3000, p=[0.1, 0.2, 0.3, 0.4]))
    cat = next(c for c in mix.columns if c.name == "cat")
    assert cat.drifted and cat.chi2_pvalue < 1e-10 and cat.unseen_rate == 0.0
    new = _draw(rng, 1000)
    new.loc[:199, "cat"] = "zebra"
    unseen = next(c for c in compare(reference, new).columns if c.name == "cat")
    assert unseen.unseen_rate == pytest.approx(0.2) and unseen.unseen_examples == ("zebra",) and unseen.drifted
    gaps = compare(reference, _draw(rng, 3000, missing=0.4))
    x = next(c for c in gaps.columns if c.name == "x")
    assert x.drifted and x.missing_rate_change == pytest.approx(0.35, abs=0.03)
    assert any("missing rate" in r for r in x.reasons)


def test_thresholds_are_configurable(reference):
    shifted = _draw(np.random.default_rng(9), 3000, shift=0.3)
    assert compare(reference, shifted).drifted
    lax = Thresholds(psi=5.0, ks_statistic=0.5)
    assert not compare(reference, shifted, thresholds=lax).drifted
    assert Thresholds.from_dict({"psi": 0.1, "unknown": 1}).psi == 0.1


def test_too_few_rows_gives_no_verdict(reference):
    report = compare(reference, _draw(np.random.default_rng(1), 10, shift=3.0))
    assert not report.drifted and not report.enough_rows and report.notes


def test_prediction_drift_and_metric_change():
    task = Task(TaskKind.BINARY, "y", "roc_auc", (0, 1), 1)
    rng = np.random.default_rng(0)
    p = rng.beta(2, 5, 5000)
    X = pd.DataFrame({"x": rng.normal(size=5000), "cat": "a"})
    profile = build_profile(X, SCHEMA, task, np.column_stack([1 - p, p]))
    same = rng.beta(2, 5, 2000)
    moved = rng.beta(5, 2, 2000)
    new = X.iloc[:2000]
    assert not compare(profile, new, pred=np.column_stack([1 - same, same]), task=task).prediction.drifted
    assert compare(profile, new, pred=np.column_stack([1 - moved, moved]), task=task).prediction.drifted
    assert metric_change("roc_auc", 0.85, 0.70, greater_is_better=True, tolerance=0.05).degraded
    assert not metric_change("roc_auc", 0.85, 0.83, greater_is_better=True, tolerance=0.05).degraded
    assert metric_change("rmse", 1.0, 1.2, greater_is_better=False, tolerance=0.05).degraded


def test_compare_column_all_missing_and_absent_column(reference):
    ref = profile_column("x", Role.NUMERIC, np.arange(100.0))
    drift = compare_column(ref, np.full(50, np.nan))
    assert drift.drifted and drift.missing_rate_current == 1.0 and math.isnan(drift.psi)
    report = compare(reference, pd.DataFrame({"x": np.random.default_rng(2).normal(size=500)}))
    assert "cat" in report.drifted_columns and any("absent" in n for n in report.notes)
    assert report.to_dict()["columns"][1]["psi"] is None
