"""The diagnosis after training: plain verdicts, each a stated rule with its threshold, the evidence and a next step.

Scores are compared on one scale, *skill*: 0 is the dummy baseline, 1 is a perfect score
(skill = (score - dummy) / (perfect - dummy); perfect is 1 for scores and 0 for errors), so one threshold
serves roc_auc, log_loss, rmse or r2 alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from trainwright.evaluation.leaderboard import Leaderboard, Trial
from trainwright.evaluation.metrics import get_metric

__all__ = ["THRESHOLDS", "Diagnosis", "LearningCurve", "Verdict", "diagnose", "skill"]

THRESHOLDS = {
    "overfit_gap": 0.20,  # train skill minus validation skill
    "underfit_val": 0.10,  # validation skill below this ...
    "underfit_train": 0.20,  # ... and train skill below this
    "unstable_sd": 0.05,  # standard deviation of skill across folds or seeds
    "more_data_gain": 0.02,  # validation skill gained from 50% to 100% of the training rows
    "leakage_skill": 0.995,  # validation skill at least this ...
    "leakage_min_rows": 200,  # ... on at least this many validation rows
}


@dataclass(frozen=True)
class LearningCurve:
    """Train and validation scores of the chosen model fitted on growing fractions of the training rows."""

    metric: str
    fractions: tuple[float, ...]
    n_rows: tuple[int, ...]
    train_scores: tuple[float, ...]
    val_scores: tuple[float, ...]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    code: str  # overfitting | underfitting | unstable | more_data | leakage
    title: str
    status: str  # yes | no | unknown
    evidence: str
    rule: str
    next_step: str = ""

    @property
    def flagged(self) -> bool:
        return self.status == "yes"


@dataclass(frozen=True)
class Diagnosis:
    model: str
    metric: str
    verdicts: tuple[Verdict, ...]
    learning_curve: LearningCurve | None = None
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))

    def verdict(self, code: str) -> Verdict:
        return next(v for v in self.verdicts if v.code == code)

    @property
    def flagged(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.flagged)

    @property
    def summary(self) -> str:
        if not self.flagged:
            return f"{self.model}: no problem found by the rules below"
        return f"{self.model}: " + "; ".join(v.title for v in self.flagged)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "metric": self.metric, "summary": self.summary,
                "verdicts": [asdict(v) for v in self.verdicts], "thresholds": self.thresholds,
                "learning_curve": self.learning_curve.to_dict() if self.learning_curve else None}


def skill(score: float, dummy: float, metric: str) -> float:
    """(score - dummy) / (perfect - dummy): 0 at the baseline, 1 when perfect, negative when worse than baseline."""
    perfect = 1.0 if get_metric(metric).greater_is_better else 0.0
    span = perfect - dummy
    if not math.isfinite(score) or not math.isfinite(dummy) or abs(span) < 1e-12:
        return float("nan")
    return (score - dummy) / span


def _dummy_score(board: Leaderboard, part: str) -> float:
    for t in board.ok():
        if t.rung == 0:
            scores = t.val_scores if part == "val" else t.train_scores
            return float(scores.get(board.metric, float("nan")))
    return float("nan")


def _overfitting(t: Trial, m: str, dv: float, dt: float) -> Verdict:
    rule = f"train skill - validation skill > {THRESHOLDS['overfit_gap']}"
    tr, va = t.train_scores.get(m, float("nan")), t.val_scores.get(m, float("nan"))
    gap = skill(tr, dt, m) - skill(va, dv, m)
    if math.isnan(gap):
        return Verdict("overfitting", "over-fitting", "unknown", "no baseline to scale the gap", rule)
    evidence = f"train {m} {tr:.4f} vs validation {va:.4f}: skill gap {gap:.2f}"
    if gap > THRESHOLDS["overfit_gap"]:
        return Verdict("overfitting", "over-fitting: train far above validation", "yes", evidence, rule,
                       "regularise (fewer leaves / more min samples, stronger penalty), add data, or choose a simpler rung")
    return Verdict("overfitting", "over-fitting", "no", evidence, rule)


def _underfitting(t: Trial, m: str, dv: float, dt: float) -> Verdict:
    rule = (f"validation skill < {THRESHOLDS['underfit_val']} and train skill < {THRESHOLDS['underfit_train']} "
            "(0 = dummy baseline)")
    sv, st = skill(t.score(m), dv, m), skill(t.train_scores.get(m, float("nan")), dt, m)
    if math.isnan(sv):
        return Verdict("underfitting", "under-fitting", "unknown", "no dummy baseline on the leaderboard", rule)
    evidence = f"validation {m} {t.score(m):.4f} vs dummy {dv:.4f} (skill {sv:.2f}); train skill {st:.2f}"
    if sv < 0:
        return Verdict("underfitting", "worse than the dummy baseline", "yes", evidence, rule,
                       "check the target and the features (leaked or shuffled labels, wrong target column), "
                       "then try a more flexible model")
    if sv < THRESHOLDS["underfit_val"] and st < THRESHOLDS["underfit_train"]:
        return Verdict("underfitting", "under-fitting: close to the dummy baseline on both parts", "yes", evidence, rule,
                       "add informative features, or try more flexible models (boosted trees)")
    return Verdict("underfitting", "under-fitting", "no", evidence, rule)


def _unstable(t: Trial, m: str, dv: float) -> Verdict:
    rule = f"standard deviation of skill across folds or seeds > {THRESHOLDS['unstable_sd']}"
    values = t.cv_scores if len(t.cv_scores) > 1 else t.seed_scores
    what = "folds" if len(t.cv_scores) > 1 else "seeds"
    if len(values) < 2 or math.isnan(dv):
        return Verdict("unstable", "unstable", "unknown", "no repeated folds or seeds (or no baseline)", rule)
    skills = np.array([skill(v, dv, m) for v in values])
    sd = float(np.std(skills, ddof=1))
    evidence = f"{m} over {len(values)} {what}: {', '.join(f'{v:.4f}' for v in values)} (skill sd {sd:.3f})"
    if sd > THRESHOLDS["unstable_sd"]:
        return Verdict("unstable", f"unstable across {what}", "yes", evidence, rule,
                       "use more folds or seeds before trusting small differences; more data or a simpler model helps")
    return Verdict("unstable", "unstable", "no", evidence, rule)


def _more_data(curve: LearningCurve | None, m: str, dv: float) -> Verdict:
    rule = f"validation skill rose by more than {THRESHOLDS['more_data_gain']} from 50% to 100% of the training rows"
    if curve is None or len(curve.val_scores) < 2 or curve.fractions[-1] < 1.0 or math.isnan(dv):
        note = curve.note if curve is not None and curve.note else "no learning curve"
        return Verdict("more_data", "more data would help", "unknown", note, rule)
    half = min(range(len(curve.fractions)), key=lambda i: abs(curve.fractions[i] - 0.5))
    gain = skill(curve.val_scores[-1], dv, m) - skill(curve.val_scores[half], dv, m)
    points = ", ".join(f"{f:.0%}: {v:.4f}" for f, v in zip(curve.fractions, curve.val_scores, strict=True))
    evidence = f"validation {m} by training share {points}; skill gain {gain:+.3f} from {curve.fractions[half]:.0%}"
    if gain > THRESHOLDS["more_data_gain"]:
        return Verdict("more_data", "more data would help: the learning curve is still rising", "yes", evidence, rule,
                       "collect more labelled rows; the model has not saturated")
    return Verdict("more_data", "more data would help", "no", evidence, rule)


def _leakage(t: Trial, m: str, dv: float, n_val: int, suspects: tuple[str, ...]) -> Verdict:
    rule = (f"validation skill >= {THRESHOLDS['leakage_skill']} on >= {THRESHOLDS['leakage_min_rows']:.0f} rows, "
            "or the audit flagged a leakage suspect")
    sv = skill(t.score(m), dv, m)
    near_perfect = not math.isnan(sv) and sv >= THRESHOLDS["leakage_skill"] and n_val >= THRESHOLDS["leakage_min_rows"]
    evidence = f"validation {m} {t.score(m):.4f} on {n_val} rows (skill {sv:.3f})"
    if suspects:
        evidence += f"; audit suspects: {', '.join(suspects)}"
    if near_perfect or suspects:
        return Verdict("leakage", "leakage suspected", "yes", evidence, rule,
                       "check every suspect is known at prediction time; drop columns derived from the target")
    return Verdict("leakage", "leakage suspected", "no", evidence, rule)


def diagnose(board: Leaderboard, chosen: str, *, n_validation: int, learning_curve: LearningCurve | None = None,
             leakage_suspects: tuple[str, ...] = ()) -> Diagnosis:
    """Apply every rule to the chosen trial; the dummy trial (rung 0) on ``board`` is the baseline."""
    t, m = board.get(chosen), board.metric
    dv, dt = _dummy_score(board, "val"), _dummy_score(board, "train")
    verdicts = (
        _overfitting(t, m, dv, dt), _underfitting(t, m, dv, dt), _unstable(t, m, dv),
        _more_data(learning_curve, m, dv), _leakage(t, m, dv, n_validation, leakage_suspects),
    )
    return Diagnosis(model=chosen, metric=m, verdicts=verdicts, learning_curve=learning_curve)
