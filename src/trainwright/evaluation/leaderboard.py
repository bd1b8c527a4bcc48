"""Trials, the leaderboard, and the choice: the simplest model within one standard error of the best.

A trial is known by its ``trial_id``, unique within its run; ``name`` is the spec it came from. Search makes many
trials of one spec, bagging k of one configuration, an ensemble is a trial made of trials: none of them is found by
its model's name. The ladder's first trial of a spec gets the spec's name as its id (``lightgbm``), later trials of
the same spec ``lightgbm#2``, ``lightgbm#3``... (see ``TrialIds``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainwright.evaluation.metrics import get_metric

__all__ = ["Choice", "Leaderboard", "Trial", "TrialIds"]


class TrialIds:
    """Hands out trial ids unique within one run: the spec's name first, then ``name#2``, ``name#3``..."""

    def __init__(self, taken: tuple[str, ...] = ()) -> None:
        self._taken = set(taken)

    def new(self, spec_name: str) -> str:
        candidate, n = spec_name, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{spec_name}#{n}"
        self._taken.add(candidate)
        return candidate


@dataclass(frozen=True)
class Trial:
    """One candidate: a spec with its parameters and seed, fitted on train, scored on validation (and train, to
    show the gap). ``trial_id`` defaults to the spec's name (a trial made by hand, or the first of its spec)."""

    name: str
    family: str
    rung: int
    status: str  # ok | failed | skipped
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    val_scores: Mapping[str, float] = field(default_factory=dict)
    train_scores: Mapping[str, float] = field(default_factory=dict)
    val_se: float = float("nan")  # bootstrap standard error of the validation score
    cv_scores: tuple[float, ...] = ()
    seed_scores: tuple[float, ...] = ()
    fit_seconds: float = 0.0
    predict_ms_per_1k: float = float("nan")
    size_bytes: int = 0
    best_iteration: int | None = None
    message: str = ""
    trial_id: str = ""
    members: tuple[tuple[str, float], ...] = ()  # an ensemble's member trial ids and weights
    threshold: float | None = None  # binary: the decision threshold tuned for the metric (None: 0.5, not tuned)

    def __post_init__(self) -> None:
        if not self.trial_id:
            object.__setattr__(self, "trial_id", self.name)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def score(self, metric: str) -> float:
        return float(self.val_scores.get(metric, float("nan")))


@dataclass(frozen=True)
class Choice:
    """Which trial was chosen, which scored best (both trial ids), and why."""

    chosen: str
    best: str
    basis: str  # cv | seeds | bootstrap | single
    chosen_score: float
    best_score: float
    standard_error: float
    reason: str


def _mean_and_standard_error(trial: Trial, basis: str, metric: str) -> tuple[float, float]:
    if basis == "cv":
        values = np.asarray(trial.cv_scores, dtype=float)
    elif basis == "seeds":
        values = np.asarray(trial.seed_scores, dtype=float)
    else:
        return trial.score(metric), trial.val_se
    se = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(np.mean(values)), se


def _basis(ok: list[Trial], sign: int, metric: str) -> str:
    """How the trials are compared: CV folds, else seeds, else the validation part. A basis counts only when a
    non-baseline trial has it (a CV skipped for time must not leave the dummy alone), and only when no model
    without it (no trial of its spec has it: its CV was skipped for time) is ahead on the validation part: such a
    model must not drop out of the choice, so then every trial is compared on the validation part instead (a CV
    mean is never compared with a hold-out score). A search trial whose family's best was re-scored is
    represented by that one."""
    for basis, scores in (("cv", lambda t: t.cv_scores), ("seeds", lambda t: t.seed_scores)):
        having = [t for t in ok if len(scores(t)) > 1 and t.rung > 0]
        if not having:
            continue
        covered = {t.name for t in having}  # a model whose every trial lacks the basis (its CV skipped for time)
        lacking = [t for t in ok if len(scores(t)) <= 1 and t.rung > 0 and not t.members and t.name not in covered]
        best_having = max(sign * t.score(metric) for t in having)
        if not lacking or max(sign * t.score(metric) for t in lacking) <= best_having:
            return basis
        return "bootstrap"
    return "bootstrap"


@dataclass(frozen=True)
class Leaderboard:
    """Trials in ladder order, with the metric that ranks them."""

    trials: tuple[Trial, ...]
    metric: str

    @property
    def greater_is_better(self) -> bool:
        return get_metric(self.metric).greater_is_better

    def ok(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    def __post_init__(self) -> None:
        ids = [t.trial_id for t in self.trials]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"trial ids must be unique within a leaderboard: {twice}")

    def get(self, trial_id: str) -> Trial:
        """The trial with this id (never looked up by its model's name: a spec may have many trials)."""
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise KeyError(trial_id)

    def ranked(self) -> list[Trial]:
        """Baselines first, then the rest best-first, then failed and skipped ones."""
        sign = 1 if self.greater_is_better else -1
        ok = [t for t in self.ok() if not math.isnan(t.score(self.metric))]
        base = [t for t in ok if t.rung == 0]
        rest = sorted((t for t in ok if t.rung != 0), key=lambda t: -sign * t.score(self.metric))
        return base + rest + [t for t in self.trials if t not in base and t not in rest]

    def choose(self, rule: str = "simplest") -> Choice:
        """``simplest``: the simplest trial whose score is within one standard error of the best; ``best``: the
        trial with the best expected score (ensembles included). Scores come from CV folds, seeds or a bootstrap of
        the validation part, whichever is available, in that order; only trials scored the same way compete (a CV
        mean is never compared with a hold-out score)."""
        if rule not in {"simplest", "best"}:
            raise ValueError(f"unknown choice rule {rule!r}: simplest or best")
        ok = [t for t in self.ok() if not math.isnan(t.score(self.metric))]
        if not ok:
            raise ValueError("no trial finished")
        sign = 1 if self.greater_is_better else -1
        basis = _basis(ok, sign, self.metric)
        pool = [t for t in ok if basis == "bootstrap" or len(t.cv_scores if basis == "cv" else t.seed_scores) > 1]
        estimates = {t.trial_id: _mean_and_standard_error(t, basis, self.metric) for t in pool}
        best = max(pool, key=lambda t: sign * estimates[t.trial_id][0])
        best_mean, best_se = estimates[best.trial_id]
        se = 0.0 if math.isnan(best_se) else best_se
        if basis == "bootstrap" and math.isnan(best_se):
            basis = "single"
        order = {t.trial_id: i for i, t in enumerate(self.trials)}
        eligible = [t for t in pool if sign * estimates[t.trial_id][0] >= sign * best_mean - se - 1e-12]
        chosen = best if rule == "best" else min(eligible, key=lambda t: (t.rung, order[t.trial_id]))
        chosen_mean = estimates[chosen.trial_id][0]
        what = {"cv": "cross-validated", "seeds": "mean over seeds", "bootstrap": "validation", "single": "validation"}[basis]
        simplest = min(eligible, key=lambda t: (t.rung, order[t.trial_id]))
        if rule == "best":
            reason = f"{chosen.trial_id} has the best {what} {self.metric} ({chosen_mean:.4f}; chosen by --choose best)"
            if simplest.trial_id != best.trial_id:
                gap = abs(chosen_mean - estimates[simplest.trial_id][0])
                reason += (f"; the simplest within one standard error ({se:.4f}) is {simplest.trial_id} "
                           f"({estimates[simplest.trial_id][0]:.4f}), {gap:.4f} behind")
        elif chosen.trial_id == best.trial_id:
            reason = f"{chosen.trial_id} has the best {what} {self.metric} ({chosen_mean:.4f})"
            simpler = [t for t in pool if t.rung < chosen.rung]
            if simpler:
                runner = max(simpler, key=lambda t: sign * estimates[t.trial_id][0])
                reason += (f"; the best simpler model, {runner.trial_id} ({estimates[runner.trial_id][0]:.4f}), is more "
                           f"than one standard error ({se:.4f}) behind")
        else:
            reason = (f"{chosen.trial_id} ({what} {self.metric} {chosen_mean:.4f}) is within one standard error "
                      f"({se:.4f}) of the best, {best.trial_id} ({best_mean:.4f}, {abs(best_mean - chosen_mean):.4f} "
                      f"ahead), and simpler (rung {chosen.rung} vs {best.rung}): the extra complexity does not pay")
        return Choice(chosen.trial_id, best.trial_id, basis, chosen_mean, best_mean, se, reason)

    def to_frame(self) -> pd.DataFrame:
        m = self.metric
        rows = []
        for t in self.ranked():
            cv = np.asarray(t.cv_scores, dtype=float)
            seeds = np.asarray(t.seed_scores, dtype=float)
            rows.append({
                "trial_id": t.trial_id, "model": t.name, "family": t.family, "rung": t.rung, "status": t.status,
                f"val_{m}": t.score(m), f"train_{m}": float(t.train_scores.get(m, float("nan"))),
                "val_se": t.val_se,
                "cv_mean": float(cv.mean()) if len(cv) else float("nan"),
                "cv_std": float(cv.std(ddof=1)) if len(cv) > 1 else float("nan"),
                "seed_mean": float(seeds.mean()) if len(seeds) else float("nan"),
                "seed_std": float(seeds.std(ddof=1)) if len(seeds) > 1 else float("nan"),
                "fit_s": round(t.fit_seconds, 3), "predict_ms_per_1k": round(t.predict_ms_per_1k, 3),
                "size_kb": round(t.size_bytes / 1024, 1),
                "threshold": t.threshold if t.threshold is not None else float("nan"), "note": t.message,
            })
        return pd.DataFrame(rows)
