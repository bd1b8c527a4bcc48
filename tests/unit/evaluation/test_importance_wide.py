"""Permutation importance on wide data: screened to the columns that matter, and said so."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from trainwright.data import Task, TaskKind
from trainwright.evaluation.importance import MAX_PERMUTED, permutation_importance


def test_wide_data_shuffles_only_the_screened_columns_and_finds_the_signal():
    rng = np.random.default_rng(0)
    n_cols = MAX_PERMUTED + 30
    X = pd.DataFrame(rng.normal(size=(300, n_cols)), columns=[f"f{i}" for i in range(n_cols)])
    y = (X["f7"] + 0.1 * rng.normal(size=300) > 0).astype(int).to_numpy()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    task = Task(TaskKind.BINARY, "y", "roc_auc", classes=(0, 1), positive_label=1)
    found = permutation_importance(pipeline, X, y, task, random_state=0)
    assert found.features[0] == "f7" and found.values[0] > 0.1
    assert f"only the {MAX_PERMUTED} of {n_cols} columns" in found.note
