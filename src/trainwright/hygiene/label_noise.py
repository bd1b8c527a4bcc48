"""Likely mislabelled rows: cleanlab's ``find_label_issues`` judges out-of-fold predicted probabilities.

Where the probabilities come from is a parameter, ``label_probabilities``: given the sampled rows' feature frame
(the schema's feature columns, coerced to the schema), their class codes 0..K-1, the schema and the random state,
it returns out-of-fold class probabilities (n, K), so every row is judged by a model that never saw it. The
workbench's fold engine lives above this layer and passes its own (``trainwright.training.label_probabilities``:
the linear rung, or a small LightGBM, over stratified folds).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from trainwright.data.schema import Schema, coerce_frame

__all__ = ["MAX_ROWS", "LabelProbabilities", "find_label_issues"]

MAX_ROWS = 20_000  # larger data is sampled for this check
MIN_CLASS_ROWS = 5  # classes with fewer rows are left out

LabelProbabilities = Callable[[pd.DataFrame, np.ndarray, Schema, int], np.ndarray]


def _rows_to_check(y: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    """A mask: rows of classes with at least MIN_CLASS_ROWS rows, at most ``max_rows`` of them (seeded sample)."""
    keep = np.bincount(y)[y] >= MIN_CLASS_ROWS
    if len(y) > max_rows:
        chosen = np.zeros(len(y), dtype=bool)
        chosen[np.random.default_rng(random_state).choice(len(y), max_rows, replace=False)] = True
        keep &= chosen
    return keep


def find_label_issues(frame: pd.DataFrame, y: np.ndarray, schema: Schema, *,
                      label_probabilities: LabelProbabilities, max_rows: int = MAX_ROWS,
                      random_state: int = 0) -> tuple[pd.Index, int]:
    """Row labels cleanlab flags as likely mislabelled (most suspicious first), and how many rows were checked.

    ``y`` holds class codes aligned with ``frame``; the schema's feature columns are the model's inputs (set a
    column's role to ignored to keep it out). Classes with fewer than 5 rows are left out; the rest are re-coded
    0..K-1 before ``label_probabilities`` sees them.
    """
    from cleanlab.filter import find_label_issues as _cleanlab_find

    y = np.asarray(y, dtype=int)
    keep = _rows_to_check(y, max_rows, random_state)
    sub, labels = frame.loc[keep], y[keep]
    if len(np.unique(labels)) < 2:
        return pd.Index([]), 0
    _, labels = np.unique(labels, return_inverse=True)
    X = coerce_frame(sub, schema, strict=False)
    probs = np.asarray(label_probabilities(X, labels, schema, random_state), dtype=float)
    n_classes = int(labels.max()) + 1
    if probs.shape != (len(labels), n_classes):
        raise ValueError(f"label_probabilities returned shape {probs.shape}; expected ({len(labels)}, {n_classes})")
    ranked = _cleanlab_find(labels=labels, pred_probs=probs, return_indices_ranked_by="self_confidence")
    return sub.index[np.asarray(ranked, dtype=int)], len(sub)
