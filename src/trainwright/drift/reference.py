"""The reference profile of the training data (``ReferenceProfile``), kept in the bundle for drift monitoring.

Per feature column: numeric columns (dates as days since 1970, text as its length in words) keep quantile bin
edges with the training fraction per bin, summary statistics and a bounded seeded sample (for the
Kolmogorov-Smirnov test); categorical columns keep their category frequencies. Every column keeps its missing
rate. The prediction distribution is profiled the same way: the positive-class probability (binary), the predicted
class (multiclass) or the predicted value (regression). Everything is plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.schema import Role, Schema
from trainwright.data.task import Task, TaskKind
from trainwright.data.times import parse_times

__all__ = ["OTHER_CATEGORY", "PREDICTION", "SAMPLE_SIZE", "ColumnProfile", "ReferenceProfile", "build_profile",
           "column_values", "numeric_values", "prediction_values", "profile_column"]

PREDICTION = "__prediction__"
OTHER_CATEGORY = "__other__"
N_BINS = 10
SAMPLE_SIZE = 2000
MAX_CATEGORIES = 100


@dataclass(frozen=True)
class ColumnProfile:
    """One column's reference distribution. ``kind`` is "numeric" or "categorical"."""

    name: str
    kind: str
    role: str
    n: int
    missing_rate: float
    edges: tuple[float, ...] = ()  # numeric: inner quantile bin edges (bins are (-inf, e0], (e0, e1], ... (ek, inf))
    fractions: tuple[float, ...] = ()  # numeric: training fraction per bin (present values)
    sample: tuple[float, ...] = ()  # numeric: a bounded seeded sample of present values
    stats: Mapping[str, float] | None = None  # numeric: mean, std, min, max
    categories: Mapping[str, float] | None = None  # categorical: category -> frequency among present values

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stats"] = dict(self.stats) if self.stats is not None else None
        data["categories"] = dict(self.categories) if self.categories is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        return cls(name=data["name"], kind=data["kind"], role=data["role"], n=int(data["n"]),
                   missing_rate=float(data["missing_rate"]), edges=tuple(data.get("edges") or ()),
                   fractions=tuple(data.get("fractions") or ()), sample=tuple(data.get("sample") or ()),
                   stats=data.get("stats"), categories=data.get("categories"))


@dataclass(frozen=True)
class ReferenceProfile:
    """The training part's distributions, the reference that new data is compared with: one ColumnProfile per
    feature, and one for the prediction. Saved in the bundle as profile.json."""

    n_rows: int
    columns: tuple[ColumnProfile, ...]
    prediction: ColumnProfile | None = None
    task_kind: str | None = None

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"format": "trainwright-profile/1", "n_rows": self.n_rows, "task_kind": self.task_kind,
                "columns": [c.to_dict() for c in self.columns],
                "prediction": self.prediction.to_dict() if self.prediction is not None else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        pred = data.get("prediction")
        return cls(n_rows=int(data["n_rows"]), columns=tuple(ColumnProfile.from_dict(c) for c in data["columns"]),
                   prediction=ColumnProfile.from_dict(pred) if pred else None, task_kind=data.get("task_kind"))


def numeric_values(s: pd.Series, role: Role | str) -> np.ndarray:
    """A feature column as float64 (NaN for missing): dates as days since 1970, text as its word count."""
    role = Role(role)
    if role is Role.DATETIME:
        d = parse_times(s)
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_convert(None)
        days = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
        return days.to_numpy(dtype=float, na_value=np.nan)
    if role is Role.TEXT:
        text = s.astype(object).where(s.notna(), None)
        counts = text.map(lambda v: np.nan if v is None or str(v) == "" else float(len(str(v).split())))
        return counts.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def column_values(s: pd.Series, role: Role | str) -> np.ndarray | pd.Series:
    """Numbers for numeric-like roles, strings (NaN for missing) for categoricals."""
    if Role(role) is Role.CATEGORICAL:
        return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return numeric_values(s, role)


def _numeric_profile(name: str, role: str, values: np.ndarray, random_state: int) -> ColumnProfile:
    n = len(values)
    present = values[~np.isnan(values)]
    missing = 1.0 - len(present) / n if n else 0.0
    if not len(present):
        return ColumnProfile(name, "numeric", role, n, missing)
    edges = np.unique(np.quantile(present, np.linspace(0, 1, N_BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    rng = np.random.default_rng(random_state)
    sample = present if len(present) <= SAMPLE_SIZE else rng.choice(present, SAMPLE_SIZE, replace=False)
    stats = {"mean": float(np.mean(present)), "std": float(np.std(present)), "min": float(np.min(present)),
             "max": float(np.max(present))}
    return ColumnProfile(name, "numeric", role, n, float(missing), tuple(float(e) for e in edges),
                         tuple(float(c) / len(present) for c in counts), tuple(float(v) for v in np.sort(sample)), stats)


def _categorical_profile(name: str, role: str, values: pd.Series) -> ColumnProfile:
    n = len(values)
    present = values.dropna()
    missing = 1.0 - len(present) / n if n else 0.0
    freq = present.value_counts(normalize=True)
    top = {str(k): float(v) for k, v in freq.iloc[:MAX_CATEGORIES].items()}
    rest = float(freq.iloc[MAX_CATEGORIES:].sum())
    if rest > 0:
        top[OTHER_CATEGORY] = rest
    return ColumnProfile(name, "categorical", role, n, float(missing), categories=top)


def profile_column(name: str, role: Role | str, values: np.ndarray | pd.Series, random_state: int = 0) -> ColumnProfile:
    role = Role(role)
    if role is Role.CATEGORICAL:
        return _categorical_profile(name, role.value, pd.Series(values, dtype=object))
    return _numeric_profile(name, role.value, np.asarray(values, dtype=float), random_state)


def prediction_values(pred: np.ndarray, task: Task) -> tuple[Role, np.ndarray | pd.Series]:
    """The prediction as one column: the positive-class probability (binary), the class (multiclass), the value."""
    pred = np.asarray(pred)
    if task.kind is TaskKind.REGRESSION:
        return Role.NUMERIC, pred.astype(float).ravel()
    if task.kind is TaskKind.BINARY:
        return Role.NUMERIC, pred[:, task.classes.index(task.positive_label)].astype(float)
    labels = np.asarray(task.classes, dtype=object)[task.decide(pred)]
    return Role.CATEGORICAL, pd.Series([str(v) for v in labels], dtype=object)


def build_profile(X: pd.DataFrame, schema: Schema, task: Task | None = None, pred: np.ndarray | None = None,
                  *, random_state: int = 0) -> ReferenceProfile:
    """Profile the feature columns of ``X`` (and ``pred``, the model's output on X, when given)."""
    columns = []
    for info in schema.columns:
        if info.name not in X.columns or info.role in (Role.IDENTIFIER, Role.IGNORED):
            continue
        columns.append(profile_column(info.name, info.role, column_values(X[info.name], info.role), random_state))
    prediction = None
    if pred is not None and task is not None:
        role, values = prediction_values(pred, task)
        prediction = profile_column(PREDICTION, role, values, random_state)
    return ReferenceProfile(len(X), tuple(columns), prediction, task.kind.value if task is not None else None)
