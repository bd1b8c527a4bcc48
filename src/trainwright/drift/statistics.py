"""The drift statistics: PSI (hand-written: a sum over bins), and the two-sample tests from ``scipy.stats``.

Both tests are two-sample tests, because both sides are samples: the reference is the training part, not the
population. Numeric columns: ``scipy.stats.ks_2samp`` between the profile's stored sample of training values and
the new values. Categorical columns: ``scipy.stats.chi2_contingency`` on the 2 x K table of training counts (the
profile's frequencies times its present rows) and new counts, a test of homogeneity. A goodness-of-fit test
(``scipy.stats.chisquare`` with the training fractions as the expected ones) would treat the training fractions as
exact and overstate the evidence when the training part is small; with a large one the two agree.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EPSILON", "bin_fractions", "chi_square", "ks_test", "psi"]

EPSILON = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index: sum over bins of (actual - expected) * ln(actual / expected).

    Both are fractions per bin; empty bins are floored at ``epsilon`` so the log stays finite."""
    e = np.clip(np.asarray(expected, dtype=float), epsilon, None)
    a = np.clip(np.asarray(actual, dtype=float), epsilon, None)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_fractions(edges: np.ndarray | tuple[float, ...], values: np.ndarray) -> np.ndarray:
    """Fraction of ``values`` in each bin (-inf, e0], (e0, e1], ..., (ek, inf)."""
    edges = np.asarray(edges, dtype=float)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.ks_2samp`` (two-sided): the largest gap between the two empirical CDFs, and its p-value.

    ``method="asymp"``: the exact p-value costs O(m n) and scipy falls back with a warning when it fails; the
    asymptotic one is what a drift check of thousands of rows needs. NaN when either side is empty."""
    from scipy.stats import ks_2samp

    a, b = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if not len(a) or not len(b):
        return math.nan, math.nan
    result = ks_2samp(a, b, alternative="two-sided", method="asymp")
    return float(result.statistic), float(result.pvalue)


def chi_square(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.chi2_contingency`` of the 2 x K table (training counts, new counts): Pearson's statistic
    (no continuity correction, whatever K) and its p-value. Categories empty on both sides are dropped; NaN when
    fewer than two categories remain or a side has no rows."""
    from scipy.stats import chi2_contingency

    table = np.vstack([np.asarray(reference_counts, dtype=float), np.asarray(current_counts, dtype=float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return math.nan, math.nan
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)
