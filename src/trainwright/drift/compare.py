"""Drift of new data against a reference profile: pure functions, shared by serving and monitoring.

Numeric columns: population stability index (PSI) over the reference's quantile bins, and the two-sample
Kolmogorov-Smirnov test against the reference's stored sample. Categorical columns: PSI over categories, the
chi-square test of homogeneity of training and new counts, and the rate of categories never seen in training.
Every column: the change of its missing rate. The prediction is one more column. With labels, the metric change.
The tests are scipy's (see ``statistics.py``).

A column drifts when any rule fires (all thresholds in ``Thresholds``):
PSI >= psi; or KS p-value < ks_pvalue with statistic >= ks_statistic; or chi-square p-value < chi2_pvalue with
total variation distance >= tv_distance; or unseen rate >= unseen_rate; or |missing-rate change| >= missing_rate.
The significance tests need an effect size too, so a large sample of the training distribution does not alarm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.schema import Role
from trainwright.data.task import Task
from trainwright.drift.reference import (
    OTHER_CATEGORY,
    ColumnProfile,
    ReferenceProfile,
    column_values,
    prediction_values,
)
from trainwright.drift.report import ColumnDrift, DriftReport, MetricChange, Thresholds
from trainwright.drift.statistics import bin_fractions, chi_square, ks_test, psi

__all__ = ["compare", "compare_column", "metric_change"]


def _numeric_drift(ref: ColumnProfile, values: np.ndarray, t: Thresholds) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    if not len(present) or not ref.sample:
        return {}
    d, p = ks_test(np.asarray(ref.sample), present)
    out = {"psi": psi(np.asarray(ref.fractions), bin_fractions(ref.edges, present)), "ks_statistic": d, "ks_pvalue": p}
    reasons = []
    if out["psi"] >= t.psi:
        reasons.append(f"PSI {out['psi']:.3f} >= {t.psi}")
    if p < t.ks_pvalue and d >= t.ks_statistic:
        reasons.append(f"KS statistic {d:.3f} (p={p:.2g})")
    return {**out, "reasons": reasons}


def _categorical_counts(ref: ColumnProfile, present: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Series, bool]:
    """Training fractions and new counts over the training categories (rare training categories pooled as
    OTHER_CATEGORY take the new values never seen among the named ones), the new values never seen, and whether
    pooling exists."""
    cats = dict(ref.categories or {})
    known = [c for c in cats if c != OTHER_CATEGORY]
    pooled = OTHER_CATEGORY in cats
    counts = present.value_counts()
    unseen_mask = ~present.isin(known)
    current = np.array([counts.get(c, 0) for c in known] + ([int(unseen_mask.sum())] if pooled else []), dtype=float)
    fractions = np.array([cats[c] for c in known] + ([cats[OTHER_CATEGORY]] if pooled else []), dtype=float)
    return fractions / fractions.sum(), current, present[unseen_mask], pooled


def _categorical_drift(ref: ColumnProfile, values: pd.Series, t: Thresholds) -> dict[str, Any]:
    present = values.dropna().astype(str)
    if not len(present) or not ref.categories:
        return {}
    expected, observed, unseen, pooled = _categorical_counts(ref, present)
    unseen_rate = 0.0 if pooled else float(len(unseen) / len(present))
    out: dict[str, Any] = {"unseen_rate": unseen_rate,
                           "unseen_examples": () if pooled else tuple(str(v) for v in unseen.unique()[:5])}
    reasons = []
    if observed.sum():
        current = observed / observed.sum()
        n_reference = ref.n * (1.0 - ref.missing_rate)  # the profile keeps frequencies among its present values
        stat, p = chi_square(np.rint(expected * n_reference), observed)
        out |= {"psi": psi(expected, current), "chi2": stat, "chi2_pvalue": p,
                "tv_distance": float(0.5 * np.sum(np.abs(current - expected)))}
        if out["psi"] >= t.psi:
            reasons.append(f"PSI {out['psi']:.3f} >= {t.psi}")
        if p < t.chi2_pvalue and out["tv_distance"] >= t.tv_distance:
            reasons.append(f"chi-square {stat:.1f} (p={p:.2g}), distance {out['tv_distance']:.3f}")
    if unseen_rate >= t.unseen_rate:
        reasons.append(f"{unseen_rate:.1%} of values are categories never seen in training")
    return {**out, "reasons": reasons}


def compare_column(ref: ColumnProfile, values: np.ndarray | pd.Series, thresholds: Thresholds | None = None) -> ColumnDrift:
    """Drift of one column's new ``values`` (numbers, or strings with NaN/None for missing) against ``ref``."""
    t = thresholds or Thresholds()
    if ref.kind == "categorical":
        series = pd.Series(values, dtype=object)
        missing = float(series.isna().mean()) if len(series) else math.nan
        stats = _categorical_drift(ref, series, t)
    else:
        arr = np.asarray(values, dtype=float)
        missing = float(np.isnan(arr).mean()) if len(arr) else math.nan
        stats = _numeric_drift(ref, arr, t)
    reasons = list(stats.pop("reasons", []))
    change = missing - ref.missing_rate
    if abs(change) >= t.missing_rate:
        reasons.append(f"missing rate {ref.missing_rate:.1%} -> {missing:.1%}")
    return ColumnDrift(name=ref.name, kind=ref.kind, n=len(values), missing_rate_reference=ref.missing_rate,
                       missing_rate_current=missing, drifted=bool(reasons), reasons=tuple(reasons), **stats)


def compare(profile: ReferenceProfile, X: pd.DataFrame, *, pred: np.ndarray | None = None, task: Task | None = None,
            thresholds: Thresholds | None = None) -> DriftReport:
    """Drift of ``X`` (feature columns coerced to the model's schema) and of ``pred`` (the model's output on X,
    as ``probabilities``/values) against ``profile``. A column absent from X counts as entirely missing."""
    t = thresholds or Thresholds()
    columns = []
    notes = []
    for ref in profile.columns:
        if ref.name in X.columns:
            values = column_values(X[ref.name], ref.role)
        else:
            notes.append(f"column {ref.name!r} is absent from the new data")
            values = np.full(len(X), np.nan) if ref.kind == "numeric" else pd.Series([None] * len(X), dtype=object)
        columns.append(compare_column(ref, values, t))
    prediction = None
    if pred is not None and task is not None and profile.prediction is not None:
        role, values = prediction_values(pred, task)
        prediction = compare_column(profile.prediction, values if role is Role.CATEGORICAL else np.asarray(values), t)
    if len(X) < t.min_rows:
        notes.append(f"only {len(X)} rows: at least {t.min_rows} are needed for a verdict")
    return DriftReport(len(X), tuple(columns), prediction, t, notes=tuple(notes))


def metric_change(metric: str, reference: float, current: float, *, greater_is_better: bool,
                  tolerance: float) -> MetricChange:
    """The metric on labelled new data against the reference (the bundle's test score); degraded when it is
    worse by more than ``tolerance`` (absolute)."""
    worse = (reference - current) if greater_is_better else (current - reference)
    degraded = bool(math.isfinite(worse) and worse > tolerance)
    return MetricChange(metric, float(reference), float(current), greater_is_better, degraded)

