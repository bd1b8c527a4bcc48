"""The time budget, held: how much of it each step may take, and what is kept back for the steps after the choice.

Why: ``--time-budget S`` promises the whole command (loading to bundle) in S seconds. The search and the ladder can
always use more time, the refit, the bundle, the analysis and the report cannot be skipped; so every step before the
choice runs against a *work deadline* that keeps a reserve for those, and the reserve is re-estimated as soon as the
ladder has timed the candidates. Estimates are deliberately simple (seconds measured on this run, scaled by rows), and
a fit that runs long is stopped between its boosting rounds or epochs (models/_rounds.py), so a wrong estimate costs a
smaller model, not the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from trainwright.evaluation import Trial

__all__ = ["TAIL_FIXED_S", "contention", "predict_seconds_after_choice", "refit_seconds", "seconds_since_process_start",
           "tail_seconds"]

TAIL_FIXED_S = 2.0  # bundle (profile + files), importance and report, on a small table and an idle machine
TRACKING_S = 1.5  # the tracking writer logging the model and the run's files after the bundle


def tail_seconds(budget: float, n_rows: int, *, tracking: bool = True, contention: float = 1.0) -> float:
    """Seconds kept for what follows the refit and the test: the bundle, the analysis, the report and, when the run
    is tracked, the wait for the tracking writer to log the model. They grow with the rows (the profile, the report's
    plots), are a few seconds at least on an idle machine, and take longer on a shared one: by half the measured
    ``contention`` beyond 1 (part of them is file and process work the CPU share does not slow), plus a slack of
    5% of the budget."""
    work = TAIL_FIXED_S + (TRACKING_S if tracking else 0.0) + min(30.0, n_rows * 2e-4)
    return work * (1.0 + 0.5 * (contention - 1.0)) + 0.05 * budget


def predict_seconds_after_choice(predict_ms_per_1k: float, *, n_train: int, n_test: int, n_columns: int) -> float:
    """The predictions made after the choice, from the model's measured speed: the test part, the reference profile
    of the bundle (every training row), and the permutation importance (3 shuffles of each of up to 50 columns, on
    up to 1,000 test rows). A slow predictor (k-NN on large data, a big ensemble) makes these seconds, not the fit."""
    import math

    if not math.isfinite(predict_ms_per_1k):
        return 0.0
    rows = n_test + n_train + min(n_test, 1000) * (3 * min(n_columns, 50) + 1)
    return predict_ms_per_1k * rows / 1e6


PROBE_CPU_S = 0.03  # CPU seconds of the contention probe


def contention() -> float:
    """How much slower than its own CPU time this process runs now: wall seconds per CPU second of a short
    single-threaded probe (at least 1, at most 5). On a machine shared with other work the steps after the choice
    (the bundle, the report) take that much longer too, so the tail kept for them is scaled by it."""
    wall, cpu = time.monotonic(), time.process_time()
    while time.process_time() - cpu < PROBE_CPU_S:
        sum(range(2000))
    return min(5.0, max(1.0, (time.monotonic() - wall) / max(time.process_time() - cpu, 1e-9)))


def seconds_since_process_start() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 where it cannot be read): the interpreter's start and
    the imports are part of a command the user timed."""
    import os
    from pathlib import Path

    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = float(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks after boot
        return max(0.0, float(Path("/proc/uptime").read_text().split()[0]) - started)
    except (OSError, ValueError, IndexError):
        return 0.0


def refit_seconds(trial: Trial, n_choice: int, n_fitted: int, *, lookup: Callable[[str], Trial],
                  bagged: Iterable[str] = ()) -> float:
    """The expected time to refit ``trial`` on the ``n_choice`` choice rows, from its fit on ``n_fitted`` rows. A
    bagged trial needs no refit (its fold models are the model); an ensemble refits the members that are not bags."""
    bags = set(bagged)
    if trial.trial_id in bags:
        return 0.0
    if trial.members:
        return sum(refit_seconds(lookup(m), n_choice, n_fitted, lookup=lookup, bagged=bags) for m, _ in trial.members)
    return 1.15 * trial.fit_seconds * n_choice / max(n_fitted, 1)  # a trial scored on k folds: k fits, conservative
