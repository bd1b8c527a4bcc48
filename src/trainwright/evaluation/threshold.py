"""The decision threshold a business metric asks for: where a binary model's scores are cut to maximise F-beta
(or F1, MCC, accuracy, balanced accuracy) or to minimise the expected cost of its decisions.

The workflow tunes it on out-of-fold predictions of the choice rows (never the test part), scores the candidates at
their own thresholds, and the bundle carries the chosen one, so predict and serve decide the same way.
"""

from __future__ import annotations

import numpy as np

from trainwright.data import Task, TaskKind
from trainwright.evaluation.metrics import cost_matrix

__all__ = ["TUNABLE_METRICS", "tune_threshold", "tunes_threshold"]

# metrics of a hard decision whose best threshold is not 0.5 in general; precision and recall alone are left out:
# tuned, they run to the extremes (a threshold of 1 for precision, 0 for recall)
TUNABLE_METRICS = frozenset({"fbeta", "f1", "iou", "mcc", "accuracy", "balanced_accuracy", "cost"})


def tunes_threshold(task: Task) -> bool:
    return task.kind is TaskKind.BINARY and task.metric in TUNABLE_METRICS


def _scores(tp: np.ndarray, fp: np.ndarray, positives: int, negatives: int, task: Task) -> np.ndarray:
    """The task's metric for every cut at once (higher is better: cost is negated)."""
    fn, tn = positives - tp, negatives - fp
    n = positives + negatives
    with np.errstate(divide="ignore", invalid="ignore"):
        if task.metric in {"fbeta", "f1"}:
            b2 = (task.beta if task.metric == "fbeta" else 1.0) ** 2
            values = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp)
        elif task.metric == "iou":
            values = tp / (tp + fp + fn)
        elif task.metric == "accuracy":
            values = (tp + tn) / n
        elif task.metric == "balanced_accuracy":
            values = (tp / max(positives, 1) + tn / max(negatives, 1)) / 2
        elif task.metric == "mcc":
            values = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        else:  # cost
            c = cost_matrix(task)
            values = -(c["tp"] * tp + c["fp"] * fp + c["fn"] * fn + c["tn"] * tn) / n
    return np.nan_to_num(values, nan=-np.inf)


def tune_threshold(y: np.ndarray, proba: np.ndarray, task: Task) -> float:
    """The threshold on the positive class's probability that gives the best ``task.metric`` on (y, proba).

    Every distinct score is a candidate cut (rows at or above it are called positive); the threshold returned is
    the midpoint between that score and the next lower one, so it does not sit on a training row's exact score.
    Ties go to the cut nearest 0.5. ``y`` holds class codes; ``proba`` is (n, 2) in class-code order."""
    pos = task.classes.index(task.positive_label)
    scores = np.asarray(proba, dtype=np.float64)[:, pos]
    truth = np.asarray(y) == pos
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # the last row of each run of equal scores
    tp = np.r_[0, np.cumsum(t)[last]]  # cut k: rows 0..last[k-1] positive; cut 0: no row positive
    fp = np.r_[0, np.cumsum(~t)[last]]
    values = _scores(tp, fp, int(t.sum()), int((~t).sum()), task)
    upper = np.r_[1.0 + 1e-9, s[last]]  # the score of the lowest row called positive at each cut
    lower = np.r_[s[last], -1e-9]  # the next lower score (none: below every score)
    cuts = (upper + lower) / 2
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return float(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]])
