"""Seed variance: refit the top candidates with N seeds and let the choice rule use that spread.

On small data (train+validation within the preset's CV row limit) each seed is a repeated cross-validation: the
folds are redrawn with the seed and the model gets the same seed, so the spread covers both the data partition
and the model's own randomness. On larger data each seed refits on train and scores on validation.
Seeds are ``seed, seed+1, ..., seed+N-1``: the first one is the run's own seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from trainwright.config import Config
from trainwright.data import Schema, Split, Task, cv_folds, rows_of
from trainwright.evaluation import Choice, Leaderboard, Trial, score_one
from trainwright.models import ModelSpec, get_spec
from trainwright.training.fit import fit_pipeline, predict_matrix
from trainwright.training.ladder import Event

__all__ = ["choose_with_seeds", "seed_candidates", "seed_scores", "seed_values", "with_seeds"]

Folds = Sequence[tuple[np.ndarray, np.ndarray]]


def seed_values(base: int, n_seeds: int) -> list[int]:
    """The seeds of a run: its own first, then the next ones."""
    return [base + i for i in range(n_seeds)]


def seed_candidates(trials: Sequence[Trial], metric: str, top: int) -> list[Trial]:
    """The simple rungs (so the one-standard-error rule can fall back to them) and the ``top`` best others."""
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok]
    simple = [t for t in ranked if t.rung <= 1]
    rest = [t for t in ranked if t.rung > 1][:top]
    return list({t.name: t for t in simple + rest}.values())


def seed_scores(trial: Trial, spec: ModelSpec, schema: Schema, task: Task, parts: dict[int, tuple[pd.DataFrame, np.ndarray, Folds]],
                seeds: Sequence[int], *, n_jobs: int = -1) -> tuple[float, ...]:
    """The trial's metric for each seed and each fold of that seed's partition (its final parameters, fixed)."""
    scores = []
    for seed in seeds:
        X, y, folds = parts[seed]
        for train_idx, test_idx in folds:
            pipeline, _, _ = fit_pipeline(spec, schema, task, X.iloc[train_idx], y[train_idx], trial.params,
                                          random_state=seed, n_jobs=n_jobs)
            pred = predict_matrix(pipeline, X.iloc[test_idx], task)
            scores.append(float(score_one(task.metric, y[test_idx], pred, task)))
    return tuple(scores)


def _partitions(X: pd.DataFrame, y: np.ndarray, split: Split, cfg: Config, task: Task,
                seeds: Sequence[int]) -> tuple[dict[int, tuple[pd.DataFrame, np.ndarray, Folds]], str]:
    """Per seed: the rows to use and the (train, test) position pairs; and a phrase saying which scheme."""
    settings = cfg.preset_settings
    n_folds = cfg.cv_folds or settings.cv_folds
    rows = np.concatenate([split.train, split.validation])
    Xr, pos = rows_of(X, rows)
    yr = y[pos]
    if len(rows) <= settings.cv_max_rows and n_folds >= 2:
        parts: dict[int, tuple[pd.DataFrame, np.ndarray, Folds]] = {
            s: (Xr, yr, cv_folds(replace(split, random_state=s), Xr.index, pd.Series(yr), n_folds=n_folds,
                                 classification=task.is_classification))
            for s in seeds
        }
        return parts, f"{len(seeds)} seeds x {len(parts[seeds[0]][2])} folds"
    n_train = len(split.train)
    fixed = [(np.arange(n_train), np.arange(n_train, len(rows)))]
    return {s: (Xr, yr, fixed) for s in seeds}, f"{len(seeds)} seeds on the validation part"


def with_seeds(trials: list[Trial], schema: Schema, task: Task, X: pd.DataFrame, y: np.ndarray, split: Split,
               cfg: Config, deadline: float, notify: Callable[[Event], None] | None = None) -> list[Trial]:
    """Trials with ``seed_scores`` filled for the candidates (within the time budget for the complex ones)."""
    notify = notify or (lambda e: None)
    seeds = seed_values(cfg.seed, cfg.seeds)
    parts, scheme = _partitions(X, y, split, cfg, task, seeds)
    n_fits = sum(len(parts[s][2]) for s in seeds)
    updated = {t.name: t for t in trials}
    for trial in seed_candidates(trials, task.metric, cfg.preset_settings.cv_top):
        spec = get_spec(trial.name)
        if time.monotonic() + trial.fit_seconds * n_fits * 1.2 > deadline and trial.rung > 1:
            updated[trial.name] = replace(trial, message=_note(trial, "seeds skipped: time budget"))
            continue
        notify(Event("start", spec, step="seeds"))
        try:
            scores = seed_scores(trial, spec, schema, task, parts, seeds)
        except Exception as exc:  # one candidate that breaks must not stop the run
            updated[trial.name] = replace(trial, message=_note(trial, f"seeds failed: {type(exc).__name__}"))
            continue
        updated[trial.name] = replace(trial, seed_scores=scores, message=_note(trial, scheme))
        notify(Event("done", spec, updated[trial.name], step="seeds"))
    return [updated[t.name] for t in trials]


def _note(trial: Trial, text: str) -> str:
    return f"{trial.message}; {text}" if trial.message else text


def choose_with_seeds(board: Leaderboard) -> Choice:
    """The one-standard-error choice on the seed scores (mean and spread over seeds, and folds on small data)."""
    if not any(len(t.seed_scores) > 1 for t in board.trials):
        return board.choose()
    seeded = Leaderboard(tuple(replace(t, cv_scores=()) for t in board.trials), board.metric)
    return seeded.choose()
