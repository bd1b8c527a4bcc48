"""Fold plans: which rows each fit trains on and which rows it is scored on, for every caller of the fold engine.

A plan is data, not code: positions into one frame of rows (the choice rows, train then validation, for the ladder
and cross-validation; the training part for a learning curve). The engine in ``training/engine.py`` fits a
pipeline per fold; the plan says how the folds were drawn (hold-out, k-fold, repeated, grouped, by time, nested
subsamples) so every result can say it too. Test rows are never in a plan: the plans are built from the choice rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from trainwright.data.split import Split

__all__ = ["Fold", "FoldPlan", "choice_folds", "holdout_plan", "kfold_plan", "repeated_plan", "subsample_plan"]


@dataclass(frozen=True)
class Fold:
    """Positions (into the plan's rows) to fit on and to predict; ``repeat`` numbers repeated partitions."""

    fit: np.ndarray
    held_out: np.ndarray
    repeat: int = 0
    seed: int = 0


@dataclass(frozen=True)
class FoldPlan:
    """The folds of one scheme. ``early_stopping``: a boosted model may stop on the held-out rows (hold-out
    only: on k folds the iteration count is fixed beforehand, so no fold's score is chosen on that fold)."""

    kind: str  # holdout | kfold | stratified | grouped | stratified-grouped | time | repeated | subsample
    folds: tuple[Fold, ...]
    n_rows: int
    early_stopping: bool = False

    def __len__(self) -> int:
        return len(self.folds)

    @property
    def covers_all_rows(self) -> bool:
        """Every row is held out exactly once per repeat (k-fold): out-of-fold predictions cover all rows."""
        held = np.concatenate([f.held_out for f in self.folds if f.repeat == 0]) if self.folds else np.array([])
        return len(held) == self.n_rows and len(np.unique(held)) == self.n_rows

    def describe(self) -> str:
        repeats = len({f.repeat for f in self.folds})
        per = len(self.folds) // max(repeats, 1)
        return f"{self.kind}: {repeats} x {per} folds" if repeats > 1 else f"{self.kind}: {per} fold(s)"


def holdout_plan(n_fit: int, n_held_out: int, *, seed: int = 0, early_stopping: bool = True) -> FoldPlan:
    """The first ``n_fit`` rows to fit on, the next ``n_held_out`` to score (train then validation)."""
    fold = Fold(np.arange(n_fit), np.arange(n_fit, n_fit + n_held_out), seed=seed)
    return FoldPlan("holdout", (fold,), n_fit + n_held_out, early_stopping=early_stopping)


def choice_folds(split: Split, index: pd.Index, y: pd.Series | np.ndarray, *, n_folds: int,
                 classification: bool, seed: int | None = None) -> FoldPlan:
    """K folds over the choice rows (train+validation, positions into ``index``), keeping twins and groups
    together, stratified for classes, forward in time for a time split. ``seed`` redraws the partition."""
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        StratifiedGroupKFold,
        StratifiedKFold,
        TimeSeriesSplit,
    )

    y = pd.Series(np.asarray(y))
    seed = split.random_state if seed is None else seed
    n = len(index)
    dummy = np.zeros(n)
    if split.strategy == "time":
        pairs, kind = list(TimeSeriesSplit(n_splits=n_folds).split(dummy)), "time"
    else:
        pos = pd.Index(np.sort(np.concatenate([split.train, split.validation, split.test]))).get_indexer(index)
        groups = split.groups[pos]
        has_groups = len(np.unique(groups)) < n
        if classification:
            n_folds = max(2, min(n_folds, int(y.value_counts().min())))
        if classification and has_groups:
            cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            pairs, kind = list(cv.split(dummy, y, groups)), "stratified-grouped"
        elif classification:
            cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            pairs, kind = list(cv.split(dummy, y)), "stratified"
        elif has_groups:
            cv = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            pairs, kind = list(cv.split(dummy, y, groups)), "grouped"
        else:
            pairs, kind = list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(dummy)), "kfold"
    folds = tuple(Fold(np.asarray(a), np.asarray(b), seed=seed) for a, b in pairs)
    return FoldPlan(kind, folds, n)


def kfold_plan(y: np.ndarray, *, n_folds: int, classification: bool, seed: int) -> FoldPlan:
    """K shuffled folds over all rows of ``y``, stratified for classes (k capped by the rarest class)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    dummy = np.zeros(len(y))
    if classification:
        n_folds = max(2, min(n_folds, int(np.bincount(y.astype(int)).min())))
        pairs, kind = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(dummy, y), "stratified"
    else:
        pairs, kind = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(dummy), "kfold"
    return FoldPlan(kind, tuple(Fold(np.asarray(a), np.asarray(b), seed=seed) for a, b in pairs), len(y))


def repeated_plan(plans: Sequence[FoldPlan]) -> FoldPlan:
    """Several partitions (one per seed) as one plan; each fold keeps its seed and repeat number."""
    folds = tuple(replace(f, repeat=r) for r, plan in enumerate(plans) for f in plan.folds)
    return FoldPlan("repeated", folds, plans[0].n_rows, early_stopping=plans[0].early_stopping)


def _per_class(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    picked = []
    for code in np.unique(y):
        members = np.flatnonzero(y == code)
        k = min(len(members), max(2, round(fraction * len(members))))
        picked.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(picked))


def subsample_plan(y_fit: np.ndarray, n_held_out: int, fractions: Sequence[float], *, classification: bool,
                   seed: int) -> FoldPlan:
    """Learning-curve folds: a growing fraction of the first ``len(y_fit)`` rows (per class for classes, at least
    two rows of each) to fit on, the same ``n_held_out`` rows after them to score on."""
    rng = np.random.default_rng(seed)
    n = len(y_fit)
    held = np.arange(n, n + n_held_out)
    folds = []
    for fraction in fractions:
        if fraction >= 1.0:
            fit = np.arange(n)
        elif classification:
            fit = _per_class(y_fit, fraction, rng)
        else:
            fit = np.sort(rng.choice(n, max(round(fraction * n), 10), replace=False))
        folds.append(Fold(fit, held, seed=seed))
    return FoldPlan("subsample", tuple(folds), n + n_held_out)
