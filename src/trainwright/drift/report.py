"""The drift report's values: thresholds, one column's statistics and verdict, the metric change, the report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from trainwright.fileio import jsonable

__all__ = ["ColumnDrift", "DriftReport", "MetricChange", "Thresholds"]


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
        return dict(jsonable(data))


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
