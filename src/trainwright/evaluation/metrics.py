"""Metric sets per task, computed with scikit-learn's implementations.

Classification inputs are encoded labels 0..K-1 and a probability matrix (n, K); regression inputs are values.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from trainwright.data import Task, TaskKind
from trainwright.exceptions import ConfigError, Problem

__all__ = ["DEFAULT_COSTS", "METRICS", "Metric", "bootstrap_se", "check_metric", "cost_matrix", "get_metric", "score_all",
           "score_one"]


@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool
    tasks: frozenset[TaskKind]
    fn: Callable[[np.ndarray, np.ndarray, Task], float]


_BIN, _MULTI, _REG = TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION
_CLS = frozenset({_BIN, _MULTI})


def _pos(task: Task) -> int:
    return task.classes.index(task.positive_label) if task.kind is _BIN else 1


def _labels(p: np.ndarray, task: Task) -> np.ndarray:
    return task.decide(p)


def _binary_y(y: np.ndarray, task: Task) -> np.ndarray:
    return (y == _pos(task)).astype(int)


def _roc_auc(y: np.ndarray, p: np.ndarray, task: Task) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    if task.kind is _BIN:
        return skm.roc_auc_score(_binary_y(y, task), p[:, _pos(task)])
    if len(np.unique(y)) < p.shape[1]:
        return float("nan")
    return skm.roc_auc_score(y, p, multi_class="ovr", labels=list(range(p.shape[1])))


def _bin_only(fn: Callable[..., float], **kw: object) -> Callable[[np.ndarray, np.ndarray, Task], float]:
    def score(y: np.ndarray, p: np.ndarray, task: Task) -> float:
        if task.kind is _BIN:
            return float(fn(_binary_y(y, task), (_labels(p, task) == _pos(task)).astype(int), zero_division=0, **kw))
        return float(fn(y, _labels(p, task), average="macro", zero_division=0, **kw))

    return score


def _fbeta(y: np.ndarray, p: np.ndarray, task: Task) -> float:
    return _bin_only(skm.fbeta_score, beta=task.beta)(y, p, task)


DEFAULT_COSTS = {"tp": 0.0, "fp": 1.0, "fn": 1.0, "tn": 0.0}  # without a cost matrix, cost is the error rate


def cost_matrix(task: Task) -> dict[str, float]:
    """The task's costs per decision (tp, fp, fn, tn); unset entries cost 0, no matrix at all: the error rate."""
    return {k: dict(task.costs).get(k, 0.0) for k in DEFAULT_COSTS} if task.costs else dict(DEFAULT_COSTS)


def _cost(y: np.ndarray, p: np.ndarray, task: Task) -> float:
    """Mean cost per row of the task's decisions, from sklearn's confusion matrix."""
    pos = _pos(task)
    tn, fp, fn, tp = skm.confusion_matrix((y == pos).astype(int), (_labels(p, task) == pos).astype(int),
                                          labels=[0, 1]).ravel()
    c = cost_matrix(task)
    return float((c["tp"] * tp + c["fp"] * fp + c["fn"] * fn + c["tn"] * tn) / max(len(y), 1))


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", True, _CLS, _roc_auc),
    Metric("average_precision", True, frozenset({_BIN}),
           lambda y, p, t: float(skm.average_precision_score(_binary_y(y, t), p[:, _pos(t)]))),
    Metric("log_loss", False, _CLS, lambda y, p, t: float(skm.log_loss(y, p, labels=list(range(p.shape[1]))))),
    Metric("brier", False, frozenset({_BIN}), lambda y, p, t: float(skm.brier_score_loss(_binary_y(y, t), p[:, _pos(t)]))),
    Metric("accuracy", True, _CLS, lambda y, p, t: float(skm.accuracy_score(y, _labels(p, t)))),
    Metric("balanced_accuracy", True, _CLS, lambda y, p, t: float(skm.balanced_accuracy_score(y, _labels(p, t)))),
    Metric("f1", True, _CLS, _bin_only(skm.f1_score)),
    Metric("fbeta", True, _CLS, _fbeta),
    Metric("precision", True, _CLS, _bin_only(skm.precision_score)),
    Metric("recall", True, _CLS, _bin_only(skm.recall_score)),
    Metric("mcc", True, _CLS, lambda y, p, t: float(skm.matthews_corrcoef(y, _labels(p, t)))),
    # intersection over union of the predicted and true sets (Jaccard): the positive class, or the classes' mean
    Metric("iou", True, _CLS, _bin_only(skm.jaccard_score)),
    Metric("cost", False, frozenset({_BIN}), _cost),
    Metric("rmse", False, frozenset({_REG}), lambda y, p, t: float(skm.root_mean_squared_error(y, p))),
    Metric("mae", False, frozenset({_REG}), lambda y, p, t: float(skm.mean_absolute_error(y, p))),
    Metric("median_ae", False, frozenset({_REG}), lambda y, p, t: float(skm.median_absolute_error(y, p))),
    Metric("r2", True, frozenset({_REG}), lambda y, p, t: float(skm.r2_score(y, p))),
]}


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        close = difflib.get_close_matches(name, list(METRICS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError("unknown metric", [Problem("config.unknown_metric", f"unknown metric '{name}'",
                                                     fix=f"{hint}valid: {', '.join(METRICS)}")])
    return METRICS[name]


def check_metric(task: Task) -> Metric:
    """The task's metric, refused with the valid ones when it does not fit the task."""
    metric = get_metric(task.metric)
    if task.kind not in metric.tasks:
        valid = [m.name for m in METRICS.values() if task.kind in m.tasks]
        raise ConfigError("metric does not fit the task", [Problem(
            "config.metric_task", f"'{task.metric}' is not defined for {task.kind.value} tasks",
            fix=f"choose one of: {', '.join(valid)}")])
    return metric


def score_one(name: str, y: np.ndarray, pred: np.ndarray, task: Task) -> float:
    return METRICS[name].fn(np.asarray(y), np.asarray(pred), task)


def score_all(y: np.ndarray, pred: np.ndarray, task: Task) -> dict[str, float]:
    """Every metric that applies to the task (the chosen one included)."""
    return {m.name: score_one(m.name, y, pred, task) for m in METRICS.values() if task.kind in m.tasks}


def _row_losses(name: str, y: np.ndarray, pred: np.ndarray, task: Task) -> np.ndarray | None:
    """Per-row terms whose mean is the metric (RMSE: the mean before the square root), or None."""
    if name == "log_loss":
        eps = np.finfo(float).eps
        return -np.log(np.clip(pred[np.arange(len(y)), y.astype(int)], eps, 1.0))
    if name == "accuracy":
        return (_labels(pred, task) == y).astype(float)
    if name == "brier":
        return (pred[:, _pos(task)] - _binary_y(y, task)) ** 2
    if name in {"rmse", "mae"}:
        diff = y.astype(float) - pred
        return diff**2 if name == "rmse" else np.abs(diff)
    return None


def _weighted_binary_auc(positive: np.ndarray, score: np.ndarray, weights: Iterable[np.ndarray]) -> np.ndarray:
    """ROC-AUC for each weight vector (resample counts), ties counted half: the Mann-Whitney statistic.

    Weight vectors are consumed one at a time, so memory stays O(rows) whatever the number of resamples."""
    order = np.argsort(score, kind="stable")
    _, group = np.unique(score[order], return_inverse=True)
    pos = positive[order].astype(float)
    n_groups = int(group.max()) + 1
    auc = []
    for w in weights:
        w_sorted = np.asarray(w, dtype=float)[order]
        p = np.bincount(group, weights=w_sorted * pos, minlength=n_groups)
        q = np.bincount(group, weights=w_sorted * (1 - pos), minlength=n_groups)
        below = np.cumsum(q) - q
        denom = p.sum() * q.sum()
        auc.append(float((p * (below + 0.5 * q)).sum() / denom) if denom > 0 else np.nan)
    return np.asarray(auc)


def _resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Counts of each row in ``n_boot`` bootstrap resamples, one vector at a time."""
    for _ in range(n_boot):
        yield np.bincount(rng.integers(0, n, n), minlength=n)


def bootstrap_se(y: np.ndarray, pred: np.ndarray, task: Task, *, n_boot: int = 200, random_state: int = 0) -> float:
    """Standard error of the task's metric by resampling rows.

    Metrics that are means of per-row terms, and binary ROC-AUC (as a weighted Mann-Whitney statistic), are
    resampled without calling scikit-learn per resample; the others call the metric per resample (30 resamples
    above 20k rows, where the error is small anyway).
    """
    y, pred = np.asarray(y), np.asarray(pred)
    n = len(y)
    rng = np.random.default_rng(random_state)
    rows = _row_losses(task.metric, y, pred, task)
    if task.metric == "roc_auc" and task.kind is _BIN:
        arr = _weighted_binary_auc(_binary_y(y, task), pred[:, _pos(task)], _resample_counts(n, n_boot, rng))
    elif rows is not None:
        values = np.empty(n_boot)
        for start in range(0, n_boot, 10):  # bounded memory: at most 10 x n indices at once
            idx = rng.integers(0, n, (min(10, n_boot - start), n))
            values[start:start + len(idx)] = rows[idx].mean(axis=1)
        arr = np.sqrt(values) if task.metric == "rmse" else values
    else:
        n_boot = n_boot if n <= 20_000 else 30
        arr = np.asarray([score_one(task.metric, y[idx], pred[idx], task)
                          for idx in (rng.integers(0, n, n) for _ in range(n_boot))], dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(np.std(arr, ddof=1)) if len(arr) > 1 else float("nan")
