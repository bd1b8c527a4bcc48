"""Seed variance: refit the top candidates with N seeds and let the choice rule use that spread.

On small data (train+validation within the preset's CV row limit) each seed is a repeated cross-validation: the
folds are redrawn with the seed and the model gets the same seed, so the spread covers both the data partition
and the model's own randomness. On larger data each seed refits on train and scores on validation.
Seeds are ``seed, seed+1, ..., seed+N-1``: the first one is the run's own seed. All of it is one repeated plan
through the fold engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from trainwright.data import FoldPlan, Split, Task, choice_folds, holdout_plan, repeated_plan
from trainwright.evaluation import Choice, Leaderboard, Trial
from trainwright.models import ModelSpec
from trainwright.training.engine import FitContext, run_folds
from trainwright.training.executor import Executor

__all__ = ["choose_with_seeds", "seed_candidates", "seed_plan", "seed_scores", "seed_values"]


def seed_values(base: int, n_seeds: int) -> list[int]:
    """The seeds of a run: its own first, then the next ones."""
    return [base + i for i in range(n_seeds)]


def seed_candidates(trials: Sequence[Trial], metric: str, top: int) -> list[Trial]:
    """The simple rungs (so the one-standard-error rule can fall back to them) and the ``top`` best others."""
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok]
    simple = [t for t in ranked if t.rung <= 1]
    rest = [t for t in ranked if t.rung > 1][:top]
    return list({t.trial_id: t for t in simple + rest}.values())


def seed_plan(split: Split, index: pd.Index, y: np.ndarray, task: Task, seeds: Sequence[int], *, n_folds: int,
              cv_max_rows: int) -> tuple[FoldPlan, str]:
    """One repeated plan over the choice rows (positions into ``index``: train then validation) and a phrase
    saying which scheme: k folds redrawn per seed on small data, the validation part per seed on larger data."""
    if len(index) <= cv_max_rows and n_folds >= 2:
        plans = [choice_folds(split, index, y, n_folds=n_folds, classification=task.is_classification, seed=s)
                 for s in seeds]
        return repeated_plan(plans), f"{len(seeds)} seeds x {len(plans[0])} folds"
    n_train = len(split.train)
    plans = [holdout_plan(n_train, len(index) - n_train, seed=s, early_stopping=False) for s in seeds]
    return repeated_plan(plans), f"{len(seeds)} seeds on the validation part"


def seed_scores(trial: Trial, spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *,
                executor: Executor | None = None) -> tuple[float, ...]:
    """The trial's metric for each seed and each fold of that seed's partition (its final parameters, fixed)."""
    return run_folds(spec, trial.params, X, y, replace(plan, early_stopping=False), ctx, executor=executor).scores


def choose_with_seeds(board: Leaderboard, rule: str = "simplest") -> Choice:
    """The choice (``rule``: simplest within one standard error, or best) on the seed scores (mean and spread over
    seeds, and folds on small data)."""
    if not any(len(t.seed_scores) > 1 for t in board.trials):
        return board.choose(rule=rule)
    seeded = Leaderboard(tuple(replace(t, cv_scores=()) for t in board.trials), board.metric)
    return seeded.choose(rule=rule)
