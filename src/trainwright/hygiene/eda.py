"""Exploratory statistics for the audit's plots (a ``DataProfile``): per-column distribution, missingness and
relation to the target, the numeric correlation matrix and the class balance. Plain data (lists, floats): the
renderers draw it. Not to be confused with the drift package's ``ReferenceProfile``, which a bundle keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.schema import Role, Schema
from trainwright.data.task import Task

__all__ = ["MAX_PROFILED_COLUMNS", "ColumnSummary", "DataProfile", "profile_frame"]

MAX_PROFILED_COLUMNS = 12  # columns drawn one by one (~0.3 s each); the rest are listed in the table only
MAX_ROWS = 50_000  # statistics are computed on a sample of this size
N_BINS = 20
TOP_VALUES = 12
MAX_POINTS = 400


@dataclass(frozen=True)
class ColumnSummary:
    """One column's exploratory statistics, histogram (or top values) and relation to the target."""

    name: str
    role: str
    dtype: str
    missing_fraction: float
    n_unique: int
    stats: dict[str, float] = field(default_factory=dict)
    edges: tuple[float, ...] = ()  # histogram bin edges (numeric)
    counts: tuple[int, ...] = ()  # histogram counts, or counts of top_values
    top_values: tuple[str, ...] = ()  # categorical: the most frequent values
    relation: dict[str, Any] = field(default_factory=dict)  # see _relation

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "dtype": self.dtype, "missing_fraction": self.missing_fraction,
                "n_unique": self.n_unique, "stats": self.stats, "edges": list(self.edges), "counts": list(self.counts),
                "top_values": list(self.top_values), "relation": self.relation}


@dataclass(frozen=True)
class DataProfile:
    """The audit's exploratory statistics of a labelled table (on a sample of at most MAX_ROWS rows)."""

    target: str
    task: str
    n_rows: int
    n_sampled: int
    columns: tuple[ColumnSummary, ...]
    missing: dict[str, float]  # every column's missing share
    correlation_names: tuple[str, ...] = ()
    correlation: tuple[tuple[float, ...], ...] = ()
    class_balance: tuple[tuple[str, int], ...] = ()
    target_edges: tuple[float, ...] = ()
    target_counts: tuple[int, ...] = ()
    n_not_profiled: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "task": self.task, "n_rows": self.n_rows, "n_sampled": self.n_sampled,
                "columns": [c.to_dict() for c in self.columns], "missing": self.missing,
                "correlation": {"names": list(self.correlation_names), "matrix": [list(r) for r in self.correlation]},
                "class_balance": [list(x) for x in self.class_balance], "target_histogram": {
                    "edges": list(self.target_edges), "counts": list(self.target_counts)},
                "n_not_profiled": self.n_not_profiled}


def _f(v: Any) -> float:
    return round(float(v), 6) if v is not None and np.isfinite(v) else float("nan")


def _numeric_relation(x: pd.Series, y: pd.Series, task: Task, edges: np.ndarray) -> dict[str, Any]:
    if task.is_classification:
        per = {}
        for label in task.classes[:8]:
            values = x[y == label].dropna().to_numpy(dtype=float)
            per[str(label)] = np.histogram(values, bins=edges)[0].tolist()
        return {"kind": "hist_by_class", "edges": edges.tolist(), "counts": per}
    both = pd.DataFrame({"x": x, "y": y}).dropna()
    both = both.sample(min(MAX_POINTS, len(both)), random_state=0) if len(both) else both
    return {"kind": "scatter", "x": both["x"].round(6).tolist(), "y": both["y"].round(6).tolist()}


def _categorical_relation(x: pd.Series, y: pd.Series, task: Task, top: list[str]) -> dict[str, Any]:
    xs = x.astype(str).where(x.notna(), "(missing)")
    xs = xs.where(xs.isin(top), "(other)")
    if task.is_classification:
        table = pd.crosstab(xs, y.astype(str)).reindex(index=[*top, "(other)"]).dropna(how="all").fillna(0)
        shares = table.div(table.sum(axis=1), axis=0)
        return {"kind": "share_by_value", "values": [str(v) for v in shares.index],
                "classes": [str(c) for c in shares.columns], "shares": shares.round(4).to_numpy().tolist()}
    means = pd.Series(pd.to_numeric(y, errors="coerce").to_numpy(), index=xs.index).groupby(xs).mean()
    means = means.reindex([*top, "(other)"]).dropna()
    return {"kind": "mean_by_value", "values": [str(v) for v in means.index], "means": means.round(6).tolist()}


def _summarise_column(name: str, s: pd.Series, role: Role, y: pd.Series, task: Task, draw: bool) -> ColumnSummary:
    missing = float(s.isna().mean())
    base: dict[str, Any] = {"name": name, "role": role.value, "dtype": str(s.dtype), "missing_fraction": round(missing, 6),
            "n_unique": int(s.nunique())}
    num = pd.to_numeric(s, errors="coerce") if role is Role.NUMERIC else None
    if num is not None and num.notna().any():
        values = num.dropna().to_numpy(dtype=float)
        stats = {"mean": _f(values.mean()), "std": _f(values.std()), "min": _f(values.min()),
                 "median": _f(np.median(values)), "max": _f(values.max())}
        drawable = values[np.abs(values) <= 1e38]  # inf and huge values have no bin (the data checks name them)
        if not draw or not len(drawable):
            return ColumnSummary(**base, stats=stats)
        edges = np.histogram_bin_edges(drawable, bins=N_BINS if drawable.min() < drawable.max() else 1)
        counts = np.histogram(drawable, bins=edges)[0]
        return ColumnSummary(**base, stats=stats, edges=tuple(edges.round(8).tolist()), counts=tuple(counts.tolist()),
                             relation=_numeric_relation(num, y, task, edges))
    if not draw or role not in (Role.CATEGORICAL, Role.NUMERIC):
        return ColumnSummary(**base)
    counts_s = s.astype(str).where(s.notna(), "(missing)").value_counts()
    top = [str(v) for v in counts_s.index[:TOP_VALUES]]
    return ColumnSummary(**base, top_values=tuple(top), counts=tuple(int(c) for c in counts_s.iloc[:TOP_VALUES]),
                         relation=_categorical_relation(s, y, task, top))


def profile_frame(frame: pd.DataFrame, task: Task, schema: Schema, *, random_state: int = 0) -> DataProfile:
    """Statistics for the audit's plots, on a sample of at most MAX_ROWS rows."""
    labelled = frame.loc[frame[task.target].notna()]
    sample = labelled if len(labelled) <= MAX_ROWS else labelled.sample(MAX_ROWS, random_state=random_state)
    y = sample[task.target]
    y_cmp = pd.Series(task.decode(task.encode(y)), index=y.index) if task.is_classification else y
    drawable = [c for c in schema.columns if c.role in (Role.NUMERIC, Role.CATEGORICAL)]
    drawn = {c.name for c in drawable[:MAX_PROFILED_COLUMNS]}
    columns = tuple(_summarise_column(c.name, sample[c.name], c.role, y_cmp, task, c.name in drawn) for c in schema.columns)
    numeric = [c.name for c in schema.columns if c.role is Role.NUMERIC][:40]
    corr = sample[numeric].apply(pd.to_numeric, errors="coerce").corr().round(4).fillna(0.0) if len(numeric) > 1 else None
    balance: tuple[tuple[str, int], ...] = ()
    edges: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    if task.is_classification:
        balance = tuple((str(k), int(v)) for k, v in labelled[task.target].astype(str).value_counts().items())
    else:
        values = pd.to_numeric(y, errors="coerce").dropna().to_numpy(dtype=float)
        e = np.histogram_bin_edges(values, bins=30)
        edges, counts = tuple(e.round(8).tolist()), tuple(np.histogram(values, bins=e)[0].tolist())
    return DataProfile(
        target=task.target, task=task.kind.value, n_rows=len(frame), n_sampled=len(sample), columns=columns,
        missing={c: round(float(frame[c].isna().mean()), 6) for c in frame.columns},
        correlation_names=tuple(corr.columns) if corr is not None else (),
        correlation=tuple(tuple(r) for r in corr.to_numpy().tolist()) if corr is not None else (),
        class_balance=balance, target_edges=edges, target_counts=counts,
        n_not_profiled=max(len(drawable) - MAX_PROFILED_COLUMNS, 0),
    )
