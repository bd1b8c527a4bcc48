"""Building blocks of the report objects: findings tables, exploratory figures, evaluation curves.

Everything here returns plain data (strings, lists of floats) so any renderer can draw it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from trainwright.data import Split, Task
from trainwright.hygiene import AuditReport, DataProfile

__all__ = [
    "bootstrap_interval", "classification_curves", "eda_figures", "epoch_figures", "example_grid", "findings_rows",
    "fmt", "interval_text", "regression_points", "residuals_by_feature", "split_achieved_lines", "worst_mistakes",
]

N_BOOT = 200
MAX_BOOT_ROWS = 20_000  # bigger test parts: resample a sample of this many rows (the interval only gets wider)

MAX_POINTS = 1500


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def bootstrap_interval(y: np.ndarray, pred: np.ndarray, task: Task, metric: str | None = None, *, n_boot: int = N_BOOT,
                       level: float = 0.95, random_state: int = 0) -> dict[str, Any] | None:
    """Percentile bootstrap interval of a test score: the rows resampled with replacement ``n_boot`` times.
    None when too few rows or the metric is undefined on resamples."""
    from trainwright.evaluation.metrics import score_one

    metric = metric or task.metric
    y, pred = np.asarray(y), np.asarray(pred)
    if len(y) < 10:
        return None
    rng = np.random.default_rng(random_state)
    if len(y) > MAX_BOOT_ROWS:
        keep = rng.choice(len(y), MAX_BOOT_ROWS, replace=False)
        y, pred = y[keep], pred[keep]
    scores = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(y), len(y))
        try:
            value = float(score_one(metric, y[pick], pred[pick], task))
        except ValueError:  # a resample without one of the classes
            continue
        if math.isfinite(value):
            scores.append(value)
    if len(scores) < n_boot // 2:
        return None
    low, high = np.quantile(scores, [(1 - level) / 2, (1 + level) / 2])
    return {"metric": metric, "low": float(low), "high": float(high), "level": level, "n_boot": len(scores),
            "n_rows": len(y)}


def interval_text(interval: dict[str, Any] | None) -> str:
    if not interval:
        return ""
    return (f"{interval['level']:.0%} bootstrap interval [{fmt(interval['low'])}, {fmt(interval['high'])}] "
            f"({interval['n_boot']} resamples of {interval['n_rows']} rows)")


def split_achieved_lines(split: Split) -> list[str]:
    """What the split achieved, said plainly: stratified or not, the largest gap, duplicates and chance twins."""
    a, ident = split.achieved, split.identical
    lines = []
    if a.get("stratified") is not None:
        gap = split.balance.get("target_largest_gap", 0.0)
        lines.append(f"Achieved: stratified: {'yes' if a['stratified'] else 'no'} (the target's largest gap between a "
                     f"part and the file is {gap:.3f}).")
    if a.get("largest_gap"):
        lines.append(f"Largest gap of any column: {a['largest_gap']}.")
    lines += [f"Warning: {w}." for w in a.get("warnings", [])[:5]]
    if ident.get("duplicate_rows"):
        lines.append(f"{ident['duplicate_rows']} rows are real duplicates (beyond the {ident.get('expected_by_chance')} "
                     "identical rows chance would give); each group is kept in one part.")
    if ident.get("verdict") in {"expected by chance", "partly duplicates"}:
        chance = ident["identical_rows"] - ident.get("duplicate_rows", 0)
        lines.append(f"{chance} rows are identical to another by chance (about {ident.get('expected_by_chance')} "
                     "expected among independent records): split like any other row.")
    return lines


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


MAX_CLASS_CURVES = 8


def _averaged_curves(y: np.ndarray, proba: np.ndarray, classes: list[int]) -> dict[str, dict[str, Any]]:
    """Micro average (every class's one-vs-rest decisions pooled) and macro average (the per-class curves averaged on
    a common grid) over all classes present in ``y``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    onehot = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(int)
    p = proba[:, classes]
    micro = _binary_curves(onehot.ravel(), p.ravel())
    grid = np.linspace(0, 1, 101)
    tprs, precisions, aps = [], [], []
    for j in range(len(classes)):
        fpr, tpr, _ = roc_curve(onehot[:, j], p[:, j])
        tprs.append(np.interp(grid, fpr, tpr))
        precision, recall, _ = precision_recall_curve(onehot[:, j], p[:, j])
        precisions.append(np.interp(grid, recall[::-1], precision[::-1]))
        aps.append(average_precision_score(onehot[:, j], p[:, j]))
    tpr_mean = np.mean(tprs, axis=0)
    tpr_mean[0] = 0.0
    macro = {"roc": {"fpr": grid.round(5).tolist(), "tpr": tpr_mean.round(5).tolist(),
                     "auc": float(np.trapezoid(tpr_mean, grid))},
             "pr": {"recall": grid.round(5).tolist(), "precision": np.mean(precisions, axis=0).round(5).tolist(),
                    "average_precision": float(np.mean(aps)), "base_rate": float(onehot.mean())},
             "calibration": micro["calibration"]}
    return {"micro average": micro, "macro average": macro}


def classification_curves(y: np.ndarray, proba: np.ndarray, task: Task) -> dict[str, Any]:
    """Confusion matrix, ROC, precision-recall and calibration data. Binary: the positive class. Multiclass: one
    curve per class, one-vs-rest; beyond ``MAX_CLASS_CURVES`` classes, for the most frequent ones
    plus the micro and macro averages over every class. ``note`` says what was left out and why (never silently nothing)."""
    from sklearn.metrics import confusion_matrix

    labels = [str(c) for c in task.classes]
    k = len(labels)
    y = np.asarray(y)
    pred = task.decide(proba)
    out: dict[str, Any] = {"labels": labels, "confusion": confusion_matrix(y, pred, labels=list(range(k))).tolist()}
    curves = {}
    notes = []
    if task.kind.value == "binary":
        targets = [task.classes.index(task.positive_label)]
    else:
        counts = np.bincount(y.astype(int), minlength=k)
        present = [c for c in np.argsort(-counts, kind="stable") if 0 < counts[c] < len(y)]
        targets = sorted(int(c) for c in present[:MAX_CLASS_CURVES])
        if len(present) > MAX_CLASS_CURVES:
            notes.append(f"one-vs-rest curves for the {MAX_CLASS_CURVES} most frequent of {k} classes; the averages "
                         "cover all of them")
        if len(present) < k:
            notes.append(f"{k - len(present)} classes are absent from the test part: no curve for them")
    for c in targets:
        yc = (y == c).astype(int)
        if 0 < yc.sum() < len(yc):
            curves[labels[c]] = _binary_curves(yc, proba[:, c])
        else:
            notes.append(f"no curve: the test part holds {'only' if yc.sum() else 'no'} '{labels[c]}' rows")
    if task.kind.value != "binary" and len(present) > MAX_CLASS_CURVES:
        curves.update(_averaged_curves(y, proba, sorted(present)))
    out["curves"] = curves
    out["note"] = "; ".join(notes)
    return out


def regression_points(y: np.ndarray, pred: np.ndarray, random_state: int = 0) -> dict[str, Any]:
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    pick = np.arange(len(y))
    if len(y) > MAX_POINTS:
        pick = np.sort(np.random.default_rng(random_state).choice(len(y), MAX_POINTS, replace=False))
    return {"actual": y[pick].round(6).tolist(), "predicted": pred[pick].round(6).tolist()}


def residuals_by_feature(y: np.ndarray, pred: np.ndarray, X: Any, importance: Any, n_features: int = 3,
                         random_state: int = 0) -> dict[str, Any] | None:
    """Residuals (actual - predicted) against the most important raw features: numbers as points, categories as
    one box per category (the most frequent 12). None when no importance names a column of ``X``."""
    import pandas as pd

    if X is None or not importance:
        return None
    ranked = sorted(importance, key=lambda i: i.method != "permutation")  # permutation names the raw columns
    names = [f for i in ranked for f in i.features if f in X.columns]
    names = list(dict.fromkeys(names))[:n_features]
    if not names:
        return None
    residual = np.asarray(y, dtype=float) - np.asarray(pred, dtype=float)
    pick = np.arange(len(residual))
    if len(pick) > MAX_POINTS:
        pick = np.sort(np.random.default_rng(random_state).choice(len(pick), MAX_POINTS, replace=False))
    panels = []
    for name in names:
        col = X[name].iloc[pick]
        r = residual[pick]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() > 12
        if numeric:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            panels.append({"feature": str(name), "kind": "numeric", "x": x[ok].round(6).tolist(),
                           "residual": r[ok].round(6).tolist(), "n_missing": int((~ok).sum())})
        else:
            labels = col.astype("string").fillna("(missing)")
            top = labels.value_counts().index[:12]
            panels.append({"feature": str(name), "kind": "categorical", "categories": [str(c) for c in top],
                           "residuals": [r[(labels == c).to_numpy()].round(6).tolist() for c in top]})
    return {"panels": panels}


MAX_CURVES = 8


def epoch_figures(curves: Mapping[str, list[dict[str, float]]], chosen: str) -> list[tuple[str, dict[str, Any], str]]:
    """(title, data, caption) of the per-epoch training curves worth drawing: each trial's own fits on the
    validation part (its id alone as the label, or ``id/fit-2`` for a model trained in phases; the chosen trial's
    first), then the final refit; at most ``MAX_CURVES``. Folds, seeds and learning-curve fits stay in TensorBoard."""
    def rank(label: str) -> tuple[int, str]:
        trial, _, part = label.partition("/")
        own = not part or part.startswith("fit-")
        refit = trial == "refit"
        return (0 if own and trial == chosen else 1 if own and not refit and trial != "analysis" else 2 if refit else 3,
                label)

    out = []
    for label in sorted((k for k in curves if curves[k] and rank(k)[0] < 3), key=rank)[:MAX_CURVES]:
        history = curves[label]
        data: dict[str, Any] = {"label": label, "epoch": [int(r["epoch"]) for r in history],
                                "train_loss": [float(r["train_loss"]) for r in history],
                                "lr": [float(r["lr"]) for r in history]}
        caption = f"{len(history)} epochs"
        if all("val_score" in r for r in history):
            data["val_score"] = [float(r["val_score"]) for r in history]
            best = int(np.argmax(data["val_score"]))
            data["best_epoch"] = data["epoch"][best]
            caption += f"; best validation score {data['val_score'][best]:.4f} at epoch {data['best_epoch']}"
        trial = label.partition("/")[0]
        title = f"{label} (chosen)" if trial == chosen else f"{label}: the chosen model's final fit" \
            if trial == "refit" else label
        out.append((title, data, caption))
    return out


MAX_MISTAKES = 12
MISTAKES_PER_ROW = 6  # the sheet stays about 700 px wide


def example_grid(examples: Mapping[str, list[str]]) -> dict[str, Any]:
    """Thumbnail rows of an ``image_grid`` figure: one row per class, its example files."""
    return {"rows": [{"label": str(label), "items": [{"path": str(p), "caption": ""} for p in paths]}
                     for label, paths in examples.items()]}


def worst_mistakes(y: np.ndarray, pred: np.ndarray, task: Task, paths: Any, n: int = MAX_MISTAKES) -> dict[str, Any]:
    """The test images the model got most wrong, as an ``image_grid`` figure's data. Classification: the wrongly
    decided images whose true class got the lowest probability (the most confident mistakes); regression: the
    largest absolute errors. An empty row list when there is no mistake."""
    y, pred, paths = np.asarray(y), np.asarray(pred), np.asarray(paths, dtype=object)
    if task.is_classification:
        decided = task.decide(pred)
        true_p = pred[np.arange(len(y)), y.astype(int)]
        wrong = np.flatnonzero(decided != y)
        order = wrong[np.argsort(true_p[wrong], kind="stable")][:n]
        labels = [str(c) for c in task.classes]
        items = [{"path": str(paths[i]), "caption": f"{labels[int(y[i])]} → {labels[int(decided[i])]} "
                  f"(p {pred[i, int(decided[i])]:.2f})"} for i in order]
    else:
        error = np.abs(pred.astype(float) - y.astype(float))
        order = np.argsort(-error, kind="stable")[:n]
        items = [{"path": str(paths[i]), "caption": f"{float(y[i]):.3g} → {float(pred[i]):.3g}"} for i in order]
    rows = [{"label": "", "items": items[i:i + MISTAKES_PER_ROW]} for i in range(0, len(items), MISTAKES_PER_ROW)]
    return {"rows": rows, "n_shown": len(items)}
