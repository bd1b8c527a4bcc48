"""Identical rows are not always duplicates: with a few low-cardinality columns, different records collide by chance.

``identical_rows`` compares the rows identical to another with what independent records would produce (a
permutation baseline: each column shuffled on its own, so every column keeps its values and frequencies but rows no
longer belong together), and names as duplicates only the excess: the groups whose values are least likely to recur
by chance, and always those that chance would almost never repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CHANCE_SLACK", "RARE_CHANCE", "IdenticalRows", "identical_rows"]

CHANCE_SLACK = 1.5  # real columns are correlated and collide more than shuffled ones: up to 1.5x the baseline is chance
RARE_CHANCE = 1e-3  # groups whose values would recur by chance < 0.001 / (number of groups) times: duplicates regardless
N_SHUFFLES = 3
BASELINE_MAX_ROWS = 200_000  # the baseline of bigger frames is measured on a sample and scaled


@dataclass(frozen=True)
class IdenticalRows:
    """Rows identical to another (on the given columns): how many, how many chance would give, which are duplicates."""

    n_rows: int
    n_identical: int  # rows in a group of identical rows
    n_expected: float  # the same count for independent records (permutation baseline)
    duplicate: np.ndarray = field(repr=False)  # bool per row: in a group of real duplicates
    group: np.ndarray = field(repr=False)  # group id per row (equal rows, equal id)
    chance: np.ndarray = field(repr=False)  # per row: expected number of other rows with its values, if independent

    @property
    def n_duplicate(self) -> int:
        return int(self.duplicate.sum())

    @property
    def n_extra_copies(self) -> int:
        """Rows that dropping duplicates would remove (all copies of a real-duplicate group but its first)."""
        dup_groups = self.group[self.duplicate]
        return int(len(dup_groups) - len(np.unique(dup_groups)))

    @property
    def verdict(self) -> str:
        if not self.n_identical:
            return "none"
        if not self.n_duplicate:
            return "expected by chance"
        return "duplicates" if self.n_duplicate == self.n_identical else "partly duplicates"

    def drop_mask(self) -> np.ndarray:
        """True for every copy of a real duplicate but the first of its group."""
        first = ~pd.Series(self.group).duplicated(keep="first").to_numpy()
        return self.duplicate & ~first

    def summary(self) -> dict[str, Any]:
        return {"rows": self.n_rows, "identical_rows": self.n_identical,
                "expected_by_chance": round(self.n_expected, 1), "duplicate_rows": self.n_duplicate,
                "extra_copies": self.n_extra_copies, "verdict": self.verdict,
                "rule": f"permutation baseline (each column shuffled alone, {N_SHUFFLES} draws); identical rows beyond "
                        f"{CHANCE_SLACK}x the baseline are duplicates, least likely groups first, and always groups "
                        f"expected to recur by chance fewer than {RARE_CHANCE} / (number of groups) times"}


def _codes(frame: pd.DataFrame) -> list[np.ndarray]:
    return [pd.factorize(frame[c], use_na_sentinel=False)[0] for c in frame.columns]


def _hash_codes(codes: list[np.ndarray]) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.DataFrame({i: c for i, c in enumerate(codes)}), index=False).to_numpy()


def _n_identical(hashes: np.ndarray) -> int:
    return int(pd.Series(hashes).duplicated(keep=False).sum())


def _baseline(codes: list[np.ndarray], random_state: int) -> float:
    """Rows identical to another among independent records: each column shuffled on its own, averaged over draws."""
    n = len(codes[0])
    rng = np.random.default_rng(random_state)
    scale = 1.0
    if n > BASELINE_MAX_ROWS:  # collisions grow with the square of the rows: measure a sample, scale up
        take = rng.choice(n, BASELINE_MAX_ROWS, replace=False)
        codes = [c[take] for c in codes]
        scale = n / BASELINE_MAX_ROWS
    counts = []
    for _ in range(N_SHUFFLES):
        shuffled = [c[rng.permutation(len(c))] for c in codes]
        counts.append(_n_identical(_hash_codes(shuffled)))
    m = float(np.mean(counts))
    if scale == 1.0:
        return m
    return float(min(n, m * scale * scale))  # pairs grow as n^2 (an upper estimate while collisions are rare)


def identical_rows(frame: pd.DataFrame, *, random_state: int = 0) -> IdenticalRows:
    """Tell chance collisions from real duplicates among the rows of ``frame`` (every column counts)."""
    n = len(frame)
    if n == 0 or frame.shape[1] == 0:
        empty = np.zeros(n, dtype=bool)
        return IdenticalRows(n, 0, 0.0, empty, np.arange(n), np.zeros(n))
    codes = _codes(frame)
    hashes = _hash_codes(codes)
    _, group = np.unique(hashes, return_inverse=True)
    size = np.bincount(group)[group]
    in_group = size > 1
    n_identical = int(in_group.sum())
    log_p = np.zeros(n)
    for c in codes:
        log_p += np.log(np.bincount(c)[c] / n)
    chance = (n - 1) * np.exp(log_p)
    duplicate = np.zeros(n, dtype=bool)
    if not n_identical:
        return IdenticalRows(n, 0, 0.0, duplicate, group, chance)
    expected = _baseline(codes, random_state)
    duplicate = in_group & (chance < RARE_CHANCE / len(np.unique(group[in_group])))
    excess = n_identical - CHANCE_SLACK * expected - duplicate.sum()
    if excess > 0:  # more identical rows than chance explains: the least likely groups are the duplicates
        groups = pd.DataFrame({"g": group[in_group & ~duplicate], "chance": chance[in_group & ~duplicate]})
        per_group = groups.groupby("g").agg(size=("chance", "size"), chance=("chance", "first")).sort_values("chance")
        take = per_group.index[np.cumsum(per_group["size"].to_numpy()) - per_group["size"].to_numpy() < excess]
        duplicate |= np.isin(group, take.to_numpy())
    return IdenticalRows(n, n_identical, expected, duplicate, group, chance)
