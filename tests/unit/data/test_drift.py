"""Drift statistics against scipy and hand computations; no false alarm on fresh samples, an alarm on shifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trainwright.data import Role, Schema, Task, TaskKind
from trainwright.data.drift import (
    Thresholds,
    bin_fractions,
    chi_square,
    compare,
    compare_column,
    ks_2samp,
    metric_change,
    psi,
)
from trainwright.data.profile import build_profile, profile_column
from trainwright.data.schema import ColumnInfo

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


@pytest.mark.parametrize(("n", "m", "integers"), [(2000, 3000, False), (2000, 500, True), (150, 80, False)])
def test_ks_matches_scipy(n, m, integers):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(0, 1, n), rng.normal(0.2, 1.2, m)
    if integers:  # ties
        a, b = np.round(a * 2), np.round(b * 2)
    d, p = ks_2samp(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


def test_chi_square_matches_scipy():
    observed = np.array([410, 290, 215, 85])
    stat, p = chi_square(observed, np.array(P_CATS))
    ref = stats.chisquare(observed, np.array(P_CATS) * observed.sum())
    assert stat == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_psi_by_hand_and_bins():
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5))
    # bins are (-inf, 1], (1, 2], (2, inf)
    np.testing.assert_allclose(bin_fractions((1.0, 2.0), np.array([0.0, 1.0, 1.5, 2.0, 9.0])), [0.4, 0.4, 0.2])


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
