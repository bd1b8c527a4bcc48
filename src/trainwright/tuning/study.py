"""Optuna studies for the search: sampler, pruner and a journal file beside the run, so a search can be resumed.

Optuna is imported inside these functions only (``trainwright --help`` never imports it). One journal file holds
one study per searched model (its search space is its own); ``open_study`` creates it or loads it again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PRUNERS", "SAMPLERS", "grid_points", "grid_values", "make_pruner", "make_sampler", "open_study", "study_storage"]

SAMPLERS = ("tpe", "random", "grid")
GRID_POINTS = 3  # values per numeric parameter in a grid: low, middle (geometric for a log scale), high


def grid_values(distribution: Any, points: int = GRID_POINTS) -> list[Any]:
    """A few values spanning one distribution: its choices, or ``points`` values from low to high."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    low, high = float(distribution.low), float(distribution.high)
    log = bool(getattr(distribution, "log", False))
    if log:
        values = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (points - 1)) for i in range(points)]
    else:
        values = [low + (high - low) * i / (points - 1) for i in range(points)]
    if isinstance(distribution, IntDistribution):
        return sorted({round(v) for v in values})
    if isinstance(distribution, FloatDistribution):
        return values
    raise TypeError(f"no grid for {type(distribution).__name__}")


def grid_points(space: Mapping[str, Any], seed: int) -> list[dict[str, Any]]:
    """Every combination of ``grid_values`` of the space, in a seeded random order (a short budget then samples
    the grid evenly instead of walking one corner of it)."""
    import itertools
    import random

    names = list(space)
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid_values(space[n]) for n in names))]
    random.Random(seed).shuffle(points)
    return points


def make_sampler(name: str, space: Mapping[str, Any], seed: int) -> Any:
    """TPE (default), random or grid, seeded with the run's seed."""
    import optuna

    if name == "tpe":
        # a handful of random trials after the portfolio, then TPE
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":  # the grid points are enqueued (see ``grid_points``); Optuna's GridSampler stops the study
        return optuna.samplers.RandomSampler(seed=seed)  # from inside ``tell``, which only ``optimize`` allows
    raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")


PRUNERS = ("median", "halving", "none")
ROUND_WARMUP = 50  # boosting rounds before a trial may be pruned on its validation curve


def make_pruner(n_folds: int, kind: str = "median") -> Any:
    """The search's pruner. Over folds (k-fold plans): after the first fold of a trial, stop it when its running
    mean is worse than the median of earlier trials at the same fold. Over boosting rounds (a hold-out plan; the
    validation score is reported every few rounds, models/_rounds.py): ``median`` stops a trial whose score at a
    round is worse than the median of earlier trials at that round, after ROUND_WARMUP rounds; ``halving`` is
    asynchronous successive halving (a third of the trials go on at each rung of 3x more rounds). Five trials finish
    before any pruning. ``none``: no pruning."""
    import optuna

    if kind == "none":
        return optuna.pruners.NopPruner()
    if n_folds >= 2:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=ROUND_WARMUP, reduction_factor=3,
                                                      min_early_stopping_rate=0)
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=ROUND_WARMUP)
    raise ValueError(f"unknown pruner {kind!r}: choose one of {', '.join(PRUNERS)}")


def study_storage(path: Path) -> Any:
    """A journal file (append-only, safe for several processes): the study's record beside the run."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def open_study(path: Path | None, name: str, *, maximize: bool, sampler: Any, pruner: Any) -> Any:
    """The study ``name`` in the journal at ``path`` (created, or loaded to continue); in memory when no path."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = study_storage(path) if path is not None else None
    return optuna.create_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner,
                               direction="maximize" if maximize else "minimize", load_if_exists=True)
