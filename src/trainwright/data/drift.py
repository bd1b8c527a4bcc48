"""Drift of new data against a reference profile: pure functions, shared by serving and monitoring.

Numeric columns: population stability index (PSI) over the reference's quantile bins, and the two-sample
Kolmogorov-Smirnov test against the reference sample. Categorical columns: PSI over categories, Pearson's
chi-square goodness of fit against the reference frequencies, and the rate of categories never seen in training.
Every column: the change of its missing rate. The prediction is one more column. With labels, the metric change.

A column drifts when any rule fires (all thresholds in ``Thresholds``):
PSI >= psi; or KS p-value < ks_pvalue with statistic >= ks_statistic; or chi-square p-value < chi2_pvalue with
total variation distance >= tv_distance; or unseen rate >= unseen_rate; or |missing-rate change| >= missing_rate.
The significance tests need an effect size too, so a large sample of the training distribution does not alarm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.profile import (
    OTHER_CATEGORY,
    ColumnProfile,
    Profile,
    column_values,
    prediction_values,
)
from trainwright.data.schema import Role
from trainwright.data.task import Task

__all__ = ["ColumnDrift", "DriftReport", "MetricChange", "Thresholds", "bin_fractions", "chi_square", "compare",
           "compare_column", "ks_2samp", "metric_change", "psi"]

EPSILON = 1e-4


@dataclass(frozen=True)
class Thresholds:
    """When a statistic counts as drift. ``min_rows``: fewer new rows than this give no verdict."""

    psi: float = 0.2
    ks_pvalue: float = 0.01
    ks_statistic: float = 0.1
    chi2_pvalue: float = 0.01
    tv_distance: float = 0.1
    unseen_rate: float = 0.05
    missing_rate: float = 0.1
    metric_tolerance: float = 0.05
    min_rows: int = 30

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Thresholds:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in (data or {}).items() if k in known and v is not None})


@dataclass(frozen=True)
class ColumnDrift:
    """The statistics for one column, and whether (and why) it drifted. NaN where a statistic does not apply."""

    name: str
    kind: str
    n: int
    psi: float = math.nan
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan
    chi2: float = math.nan
    chi2_pvalue: float = math.nan
    tv_distance: float = math.nan
    unseen_rate: float = math.nan
    unseen_examples: tuple[str, ...] = ()
    missing_rate_reference: float = math.nan
    missing_rate_current: float = math.nan
    drifted: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def missing_rate_change(self) -> float:
        return self.missing_rate_current - self.missing_rate_reference

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["missing_rate_change"] = self.missing_rate_change
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


@dataclass(frozen=True)
class MetricChange:
    metric: str
    reference: float
    current: float
    greater_is_better: bool
    degraded: bool

    @property
    def change(self) -> float:
        return self.current - self.reference

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift, the prediction's drift, the metric change (with labels), and the verdict."""

    n_rows: int
    columns: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None
    thresholds: Thresholds
    metric: MetricChange | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def enough_rows(self) -> bool:
        return self.n_rows >= self.thresholds.min_rows

    @property
    def drifted_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.drifted]

    @property
    def drifted(self) -> bool:
        """The verdict: any column, the prediction or the metric crossed its threshold."""
        if not self.enough_rows:
            return False
        pred = self.prediction is not None and self.prediction.drifted
        return bool(self.drifted_columns) or pred or (self.metric is not None and self.metric.degraded)

    def with_metric(self, metric: MetricChange) -> DriftReport:
        return DriftReport(self.n_rows, self.columns, self.prediction, self.thresholds, metric, self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "drifted": self.drifted, "enough_rows": self.enough_rows,
                "drifted_columns": self.drifted_columns, "thresholds": asdict(self.thresholds),
                "columns": [c.to_dict() for c in self.columns],
                "prediction": self.prediction.to_dict() if self.prediction is not None else None,
                "metric": self.metric.to_dict() if self.metric is not None else None, "notes": list(self.notes)}


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index: sum over bins of (actual - expected) * ln(actual / expected).

    Both are fractions per bin; empty bins are floored at ``epsilon`` so the log stays finite."""
    e = np.clip(np.asarray(expected, dtype=float), epsilon, None)
    a = np.clip(np.asarray(actual, dtype=float), epsilon, None)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_fractions(edges: np.ndarray | tuple[float, ...], values: np.ndarray) -> np.ndarray:
    """Fraction of ``values`` in each bin (-inf, e0], (e0, e1], ..., (ek, inf)."""
    edges = np.asarray(edges, dtype=float)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def ks_2samp(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov: the largest gap between the two empirical CDFs, and its
    p-value from the finite-n Kolmogorov distribution at round(m n / (m + n)) (scipy's asymptotic method)."""
    from scipy.stats import kstwo

    a = np.sort(np.asarray(reference, dtype=float))
    b = np.sort(np.asarray(current, dtype=float))
    if not len(a) or not len(b):
        return math.nan, math.nan
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b)
    d = float(np.max(np.abs(gap)))
    m, n = sorted([float(len(a)), float(len(b))], reverse=True)
    p = float(np.clip(kstwo.sf(d, np.round(m * n / (m + n))), 0.0, 1.0))
    return d, p


def chi_square(observed: np.ndarray, expected_fractions: np.ndarray, epsilon: float = EPSILON) -> tuple[float, float]:
    """Pearson's chi-square goodness of fit of ``observed`` counts to ``expected_fractions`` (rescaled to the
    observed total); categories with expected fraction 0 get ``epsilon``. Returns (statistic, p-value)."""
    from scipy.stats import chi2

    observed = np.asarray(observed, dtype=float)
    if len(observed) < 2 or observed.sum() == 0:
        return math.nan, math.nan
    frac = np.clip(np.asarray(expected_fractions, dtype=float), epsilon, None)
    expected = frac / frac.sum() * observed.sum()
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, len(observed) - 1))


def _numeric_drift(ref: ColumnProfile, values: np.ndarray, t: Thresholds) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    if not len(present) or not ref.sample:
        return {}
    d, p = ks_2samp(np.asarray(ref.sample), present)
    out = {"psi": psi(np.asarray(ref.fractions), bin_fractions(ref.edges, present)), "ks_statistic": d, "ks_pvalue": p}
    reasons = []
    if out["psi"] >= t.psi:
        reasons.append(f"PSI {out['psi']:.3f} >= {t.psi}")
    if p < t.ks_pvalue and d >= t.ks_statistic:
        reasons.append(f"KS statistic {d:.3f} (p={p:.2g})")
    return {**out, "reasons": reasons}


def _categorical_drift(ref: ColumnProfile, values: pd.Series, t: Thresholds) -> dict[str, Any]:
    present = values.dropna().astype(str)
    cats = dict(ref.categories or {})
    if not len(present) or not cats:
        return {}
    known = [c for c in cats if c != OTHER_CATEGORY]
    counts = present.value_counts()
    unseen_mask = ~present.isin(known)
    other_ok = OTHER_CATEGORY in cats  # rare training categories were pooled: unseen values may be among them
    observed = np.array([counts.get(c, 0) for c in known] + ([int(unseen_mask.sum())] if other_ok else []), dtype=float)
    expected = np.array([cats[c] for c in known] + ([cats[OTHER_CATEGORY]] if other_ok else []), dtype=float)
    unseen = present[unseen_mask]
    unseen_rate = 0.0 if other_ok else float(len(unseen) / len(present))
    seen_total = observed.sum()
    current = observed / seen_total if seen_total else observed
    stat, p = chi_square(observed, expected) if seen_total else (math.nan, math.nan)
    tv = float(0.5 * np.sum(np.abs(current - expected / expected.sum()))) if seen_total else math.nan
    out: dict[str, Any] = {"psi": psi(expected / expected.sum(), current) if seen_total else math.nan, "chi2": stat,
                           "chi2_pvalue": p, "tv_distance": tv, "unseen_rate": unseen_rate,
                           "unseen_examples": tuple(str(v) for v in unseen.unique()[:5]) if not other_ok else ()}
    reasons = []
    if seen_total and out["psi"] >= t.psi:
        reasons.append(f"PSI {out['psi']:.3f} >= {t.psi}")
    if seen_total and p < t.chi2_pvalue and tv >= t.tv_distance:
        reasons.append(f"chi-square {stat:.1f} (p={p:.2g}), distance {tv:.3f}")
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


def compare(profile: Profile, X: pd.DataFrame, *, pred: np.ndarray | None = None, task: Task | None = None,
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

