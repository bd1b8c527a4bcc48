"""Out-of-fold predictions of every trial that ended ok, kept for ensembles, stacking, thresholds and calibration.

Each entry is float32, one row per held-out row, labelled with the file's row numbers. Only rows the trial was not
fitted on are stored, and only choice rows ever reach a fold plan: a test row cannot be here (``add`` refuses one
all the same when it is told which rows are test rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainwright.data import Task

__all__ = ["OutOfFold"]


@dataclass(frozen=True)
class OutOfFold:
    """trial id -> (row labels, predictions (n, K) or (n, 1), float32)."""

    entries: Mapping[str, tuple[np.ndarray, np.ndarray]]

    def with_entry(self, trial_id: str, rows: np.ndarray, pred: np.ndarray, *,
                   forbidden: np.ndarray | None = None) -> OutOfFold:
        """A copy with ``trial_id``'s predictions on ``rows`` (rows never held out, NaN, are left out)."""
        matrix = np.asarray(pred, dtype=np.float32).reshape(len(rows), -1)
        seen = ~np.isnan(matrix).all(axis=1)
        rows, matrix = np.asarray(rows)[seen], matrix[seen]
        if forbidden is not None and np.isin(rows, forbidden).any():
            raise ValueError(f"out-of-fold predictions of {trial_id} include test rows")
        return OutOfFold({**self.entries, trial_id: (rows, matrix)})

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self.entries

    @property
    def nbytes(self) -> int:
        return sum(rows.nbytes + pred.nbytes for rows, pred in self.entries.values())

    def frame(self, trial_id: str, task: Task) -> pd.DataFrame:
        """``prediction`` (regression) or ``proba_<class>`` columns, indexed by row number (``row``)."""
        if trial_id not in self.entries:
            raise KeyError(f"no out-of-fold predictions for trial {trial_id!r} (it did not end ok)")
        rows, pred = self.entries[trial_id]
        columns = [f"proba_{c}" for c in task.classes] if task.is_classification else ["prediction"]
        return pd.DataFrame(pred, index=pd.Index(rows, name="row"), columns=columns)
