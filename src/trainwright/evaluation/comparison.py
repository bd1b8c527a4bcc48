"""Champion vs challenger on the same labelled rows: is the difference real or noise?

- a paired bootstrap confidence interval of the metric difference (challenger minus champion): the same resampled
  rows score both models, so what the two share (hard rows, easy rows) cancels out;
- McNemar's test on the rows where exactly one of the two classifiers is right (exact binomial below 25 such rows,
  chi-square with continuity correction above);
- the same difference per value of a categorical column (slices);
- a verdict: better, no significant difference, or worse (the interval lies above zero, straddles it, or lies below,
  with the direction of "better" taken from the metric).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainwright.data import Task
from trainwright.evaluation.metrics import get_metric, score_one

__all__ = ["BETTER", "NO_DIFFERENCE", "WORSE", "Comparison", "McNemar", "SliceDifference", "compare_predictions",
           "mcnemar", "paired_bootstrap", "predicted_labels", "rowwise_bootstrap", "verdict"]

BETTER, NO_DIFFERENCE, WORSE = "better", "no significant difference", "worse"
Scorer = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class McNemar:
    """Rows only the challenger got right (b), rows only the champion got right (c), and the two-sided p-value."""

    challenger_only: int
    champion_only: int
    statistic: float
    p_value: float
    method: str  # exact | chi2


@dataclass(frozen=True)
class SliceDifference:
    value: str
    n: int
    challenger: float
    champion: float
    difference: float
    ci_low: float
    ci_high: float
    verdict: str


@dataclass(frozen=True)
class Comparison:
    metric: str
    greater_is_better: bool
    n: int
    challenger: float
    champion: float
    difference: float  # challenger minus champion, in the metric's units
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int
    verdict: str
    mcnemar: McNemar | None = None
    slice_column: str | None = None
    slices: tuple[SliceDifference, ...] = ()

    @property
    def worse(self) -> bool:
        return self.verdict == WORSE

    def summary(self) -> str:
        pct = round(self.confidence * 100)
        return (f"challenger {self.metric} {self.challenger:.4f} vs champion {self.champion:.4f}: difference "
                f"{self.difference:+.4f}, {pct}% CI [{self.ci_low:+.4f}, {self.ci_high:+.4f}] over {self.n} rows -> "
                f"{self.verdict}")


def verdict(ci_low: float, ci_high: float, greater_is_better: bool) -> str:
    """Better when the whole interval of (challenger - champion) lies on the good side of zero, worse when on the
    bad side, otherwise no significant difference (also when the interval is undefined)."""
    if math.isnan(ci_low) or math.isnan(ci_high):
        return NO_DIFFERENCE
    if ci_low > 0:
        return BETTER if greater_is_better else WORSE
    if ci_high < 0:
        return WORSE if greater_is_better else BETTER
    return NO_DIFFERENCE


def paired_bootstrap(y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, score: Scorer, *,
                     n_boot: int = 1000, confidence: float = 0.95,
                     random_state: int = 0) -> tuple[float, float, float, np.ndarray]:
    """(observed difference, CI low, CI high, the bootstrap differences): percentile interval of
    score(challenger) - score(champion) over rows resampled with replacement, the same rows for both."""
    y, challenger, champion = np.asarray(y), np.asarray(challenger), np.asarray(champion)
    n = len(y)
    observed = score(y, challenger) - score(y, champion)
    rng = np.random.default_rng(random_state)
    diffs = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        diffs[b] = score(y[idx], challenger[idx]) - score(y[idx], champion[idx])
    diffs = diffs[~np.isnan(diffs)]
    if len(diffs) < 2:
        return float(observed), float("nan"), float("nan"), diffs
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(observed), float(low), float(high), diffs


def _rowwise(name: str, y: np.ndarray, pred: np.ndarray, task: Task) -> np.ndarray | None:
    """Per-row values whose mean gives the metric (after ``_FINAL``), for the metrics that decompose that way:
    the bootstrap then needs no call into scikit-learn per resample."""
    if name == "accuracy":
        return (predicted_labels(pred, task) == y).astype(float)
    if name in {"rmse", "mae"}:
        err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
        return err**2 if name == "rmse" else np.abs(err)
    return None


_FINAL: dict[str, Callable[[float], float]] = {"accuracy": float, "rmse": math.sqrt, "mae": float}


def rowwise_bootstrap(challenger_rows: np.ndarray, champion_rows: np.ndarray, final: Callable[[float], float], *,
                      n_boot: int = 1000, confidence: float = 0.95,
                      random_state: int = 0) -> tuple[float, float, float, np.ndarray]:
    """``paired_bootstrap`` for a metric that is ``final(mean(row values))``: the same resampled rows (the same
    draws, in the same order) and the same percentile interval, computed with numpy only."""
    a, b = np.asarray(challenger_rows, dtype=float), np.asarray(champion_rows, dtype=float)
    n = len(a)
    observed = final(a.mean()) - final(b.mean())
    rng = np.random.default_rng(random_state)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        diffs[i] = final(a[idx].mean()) - final(b[idx].mean())
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(observed), float(low), float(high), diffs


def mcnemar(challenger_correct: Sequence[bool], champion_correct: Sequence[bool], *, exact: bool | None = None) -> McNemar:
    """McNemar's test of paired correctness. ``exact=None`` uses the exact binomial test when fewer than 25 rows
    disagree, else the chi-square statistic with continuity correction, (|b - c| - 1)^2 / (b + c), on 1 df."""
    a, c_ = np.asarray(challenger_correct, dtype=bool), np.asarray(champion_correct, dtype=bool)
    b = int(np.sum(a & ~c_))
    c = int(np.sum(~a & c_))
    n = b + c
    use_exact = n < 25 if exact is None else exact
    if n == 0:
        return McNemar(b, c, 0.0, 1.0, "exact" if use_exact else "chi2")
    if use_exact:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2.0**n
        return McNemar(b, c, float(min(b, c)), min(1.0, 2.0 * tail), "exact")
    statistic = (abs(b - c) - 1) ** 2 / n
    return McNemar(b, c, float(statistic), math.erfc(math.sqrt(statistic / 2.0)), "chi2")  # chi2(1) survival


def predicted_labels(pred: np.ndarray, task: Task) -> np.ndarray:
    """Class codes from a probability matrix, by the same rule the accuracy metric uses."""
    return task.decide(pred)


def _slice_values(slices: Sequence[object], max_slices: int) -> tuple[np.ndarray, list[str]]:
    labels = pd.Series(slices).astype(object).where(pd.notna(pd.Series(slices)), "(missing)").astype(str).to_numpy()
    counts = pd.Series(labels).value_counts()
    return labels, [str(v) for v in counts.index[:max_slices]]


def _interval(y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, score: Scorer, metric: str, task: Task, *,
              n_boot: int, confidence: float, random_state: int) -> tuple[float, float, float]:
    rows_a, rows_b = _rowwise(metric, y, challenger, task), _rowwise(metric, y, champion, task)
    if rows_a is not None and rows_b is not None:
        diff, low, high, _ = rowwise_bootstrap(rows_a, rows_b, _FINAL[metric], n_boot=n_boot, confidence=confidence,
                                               random_state=random_state)
    else:
        diff, low, high, _ = paired_bootstrap(y, challenger, champion, score, n_boot=n_boot, confidence=confidence,
                                              random_state=random_state)
    return diff, low, high


def _slices(y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, score: Scorer, slices: Sequence[object],
            task: Task, metric: str, greater: bool, *, n_boot: int, confidence: float, random_state: int,
            max_slices: int = 20) -> tuple[SliceDifference, ...]:
    labels, values = _slice_values(slices, max_slices)
    out = []
    for value in values:
        rows = np.flatnonzero(labels == value)
        a, b = score(y[rows], challenger[rows]), score(y[rows], champion[rows])
        diff, low, high = _interval(y[rows], challenger[rows], champion[rows], score, metric, task, n_boot=n_boot,
                                    confidence=confidence, random_state=random_state)
        out.append(SliceDifference(value, len(rows), float(a), float(b), float(diff), low, high,
                                   verdict(low, high, greater)))
    return tuple(out)


def compare_predictions(y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, task: Task, *,
                        metric: str | None = None, slices: Sequence[object] | None = None,
                        slice_column: str | None = None, n_boot: int = 1000, confidence: float = 0.95,
                        random_state: int = 0) -> Comparison:
    """Compare two models' outputs (probability matrices or regression values) on the same encoded labels."""
    name = metric or task.metric
    greater = get_metric(name).greater_is_better
    y, challenger, champion = np.asarray(y), np.asarray(challenger), np.asarray(champion)

    def score(yy: np.ndarray, pred: np.ndarray) -> float:
        return float(score_one(name, yy, pred, task))

    diff, low, high = _interval(y, challenger, champion, score, name, task, n_boot=n_boot, confidence=confidence,
                                random_state=random_state)
    test = None
    if task.is_classification:
        test = mcnemar(predicted_labels(challenger, task) == y, predicted_labels(champion, task) == y)
    per_slice: tuple[SliceDifference, ...] = ()
    if slices is not None:
        per_slice = _slices(y, challenger, champion, score, slices, task, name, greater, n_boot=max(200, n_boot // 4),
                            confidence=confidence, random_state=random_state)
    return Comparison(name, greater, len(y), score(y, challenger), score(y, champion), diff, low, high, confidence,
                      n_boot, verdict(low, high, greater), test, slice_column, per_slice)
