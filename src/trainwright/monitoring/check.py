"""Monitor a bundle on new data: drift of every column and of the prediction, and the metric when labels come.

Data first (a ``Monitoring`` value holding the DriftReport and what the plots need), rendered second (render.py).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle import Model, load
from trainwright.data import coerce_frame, load_table
from trainwright.drift import (
    DriftReport,
    Thresholds,
    bin_fractions,
    column_values,
    compare,
    metric_change,
    prediction_values,
)
from trainwright.evaluation import METRICS, score_one
from trainwright.exceptions import BundleError, GateFailed, Problem

__all__ = ["Monitoring", "gate", "monitor"]


@dataclass(frozen=True)
class Monitoring:
    """The drift report, where it came from, and per column the reference vs current distributions to plot."""

    bundle: str
    source: str
    model: str
    report: DriftReport
    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "source": self.source, "model": self.model, **self.report.to_dict()}


def _distribution(ref: Any, values: Any) -> dict[str, Any]:
    if ref.kind == "categorical":
        current = pd.Series(values, dtype=object).dropna().astype(str).value_counts(normalize=True)
        labels = list(dict.fromkeys([*(ref.categories or {}), *current.index[:20]]))[:30]
        return {"kind": "categorical", "labels": labels, "reference": [float((ref.categories or {}).get(c, 0.0)) for c in labels],
                "current": [float(current.get(c, 0.0)) for c in labels]}
    arr = np.asarray(values, dtype=float)
    present = arr[~np.isnan(arr)]
    edges = list(ref.edges)
    labels = [f"<= {edges[0]:.3g}" if i == 0 else (f"> {edges[-1]:.3g}" if i == len(edges) else f"{edges[i - 1]:.3g}-{edges[i]:.3g}")
              for i in range(len(edges) + 1)] if edges else ["all"]
    current = bin_fractions(ref.edges, present).tolist() if len(present) else [0.0] * len(labels)
    return {"kind": "numeric", "labels": labels, "reference": list(ref.fractions) or [1.0], "current": current}


def _raw_output(model: Model, X: pd.DataFrame) -> np.ndarray:
    if model.task.is_classification:
        return model.predict_proba_array(X)
    return np.asarray(model.pipeline.predict(X), dtype=float)


def _with_metric(report: DriftReport, model: Model, frame: pd.DataFrame, raw: np.ndarray, t: Thresholds) -> DriftReport:
    task = model.task
    if task.target not in frame.columns:
        return report
    labelled = frame[task.target].notna().to_numpy()
    reference = (model.metrics.get("test") or {}).get(task.metric)
    if not labelled.any() or reference is None or not math.isfinite(float(reference)):
        return report
    y = task.encode(frame.loc[labelled, task.target])
    current = score_one(task.metric, y, raw[labelled], task)
    return report.with_metric(metric_change(task.metric, float(reference), current,
                                            greater_is_better=METRICS[task.metric].greater_is_better,
                                            tolerance=t.metric_tolerance))


def monitor(bundle: str | Path | Model, data: str | Path | pd.DataFrame, thresholds: Thresholds | None = None) -> Monitoring:
    """Compare ``data`` (a file or a frame, with or without the target column) with the bundle's reference."""
    t = thresholds or Thresholds()
    model = bundle if isinstance(bundle, Model) else load(bundle)
    if model.profile is None:
        raise BundleError(f"{model.path} has no reference profile (profile.json)", [Problem(
            "monitor.no_profile", "the bundle was written without a reference profile", fix="retrain to get one")])
    frame = data if isinstance(data, pd.DataFrame) else load_table(data)
    X = coerce_frame(frame, model.schema, strict=False)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        raw = _raw_output(model, X)
    report = compare(model.profile, X, pred=raw, task=model.task, thresholds=t)
    report = _with_metric(report, model, frame, raw, t)
    dists = {ref.name: _distribution(ref, column_values(X[ref.name], ref.role)) for ref in model.profile.columns
             if ref.name in X.columns}
    if model.profile.prediction is not None:
        _, values = prediction_values(raw, model.task)
        dists["prediction"] = _distribution(model.profile.prediction, values)
    source = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
    return Monitoring(str(model.path), source, str(model.metadata.get("model", "?")), report, dists)


def gate(result: Monitoring) -> None:
    """Raise GateFailed (exit code 6) when the drift crossed a threshold; one problem per reason."""
    report = result.report
    if not report.drifted:
        return
    problems = [Problem("drift.column", "; ".join(c.reasons), column=c.name) for c in report.columns if c.drifted]
    if report.prediction is not None and report.prediction.drifted:
        problems.append(Problem("drift.prediction", "; ".join(report.prediction.reasons), column="prediction"))
    if report.metric is not None and report.metric.degraded:
        m = report.metric
        problems.append(Problem("drift.metric", f"{m.metric} {m.reference:.4f} -> {m.current:.4f}", column=m.metric,
                                fix="retrain on recent data"))
    raise GateFailed(f"drift detected in {result.source} against the model's training data", problems)
