"""Building blocks of the report objects: findings tables, exploratory figures, evaluation curves.

Everything here returns plain data (strings, lists of floats) so any renderer can draw it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainwright.data import Task
from trainwright.hygiene import AuditReport, DataProfile

__all__ = ["classification_curves", "eda_figures", "findings_rows", "fmt", "regression_points"]

MAX_POINTS = 1500


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def findings_rows(audit: AuditReport) -> tuple[tuple[str, ...], ...]:
    rows = []
    for f in audit.findings:
        where = ", ".join(f.columns[:4]) + (" ..." if len(f.columns) > 4 else "")
        if f.n_rows:
            where = (where + "; " if where else "") + f"{f.n_rows} rows"
        rows.append((f.severity, f.code, f.title, where, "; ".join(f.examples[:3]), f.fix, f.rule))
    return tuple(rows)


def eda_figures(profile: DataProfile) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, title, data) for each exploratory plot."""
    figs: list[tuple[str, str, dict[str, Any]]] = []
    if profile.class_balance:
        figs.append(("class_balance", f"Class balance of '{profile.target}'",
                     {"labels": [k for k, _ in profile.class_balance], "counts": [v for _, v in profile.class_balance]}))
    elif profile.target_counts:
        figs.append(("histogram", f"Distribution of '{profile.target}'",
                     {"edges": list(profile.target_edges), "counts": list(profile.target_counts), "xlabel": profile.target}))
    figs.append(("missingness", "Missing values per column", {"missing": profile.missing}))
    if len(profile.correlation_names) > 1:
        figs.append(("correlation", "Correlation of numeric columns (Pearson r)",
                     {"names": list(profile.correlation_names), "matrix": [list(r) for r in profile.correlation]}))
    for col in profile.columns:
        if col.counts:
            figs.append(("column", f"{col.name} ({col.role})", {**col.to_dict(), "target": profile.target}))
    return figs


def _binary_curves(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    n_bins = int(min(10, max(3, len(y) // 20)))
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
    keep_pr = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), 400)).astype(int))
    return {"roc": {"fpr": fpr[keep].round(5).tolist(), "tpr": tpr[keep].round(5).tolist(), "auc": float(auc(fpr, tpr))},
            "pr": {"recall": recall[keep_pr].round(5).tolist(), "precision": precision[keep_pr].round(5).tolist(),
                   "average_precision": float(average_precision_score(y, p)), "base_rate": float(np.mean(y))},
            "calibration": {"mean_predicted": prob_pred.round(5).tolist(), "fraction_positive": prob_true.round(5).tolist()}}


def classification_curves(y: np.ndarray, proba: np.ndarray, task: Task) -> dict[str, Any]:
    """Confusion matrix, ROC, precision-recall and calibration data (binary: the positive class; multiclass:
    one curve per class, one-vs-rest, at most 8)."""
    from sklearn.metrics import confusion_matrix

    labels = [str(c) for c in task.classes]
    k = len(labels)
    pred = task.decide(proba)
    out: dict[str, Any] = {"labels": labels, "confusion": confusion_matrix(y, pred, labels=list(range(k))).tolist()}
    curves = {}
    targets = [task.classes.index(task.positive_label)] if task.kind.value == "binary" else list(range(min(k, 8)))
    for c in targets:
        yc = (np.asarray(y) == c).astype(int)
        if 0 < yc.sum() < len(yc):
            curves[labels[c]] = _binary_curves(yc, proba[:, c])
    out["curves"] = curves
    return out


def regression_points(y: np.ndarray, pred: np.ndarray, random_state: int = 0) -> dict[str, Any]:
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    pick = np.arange(len(y))
    if len(y) > MAX_POINTS:
        pick = np.sort(np.random.default_rng(random_state).choice(len(y), MAX_POINTS, replace=False))
    return {"actual": y[pick].round(6).tolist(), "predicted": pred[pick].round(6).tolist()}
