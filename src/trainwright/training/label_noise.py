"""Out-of-fold class probabilities for the audit's label-noise check, through the fold engine.

The audit (``hygiene``) sits below training and is handed one of these: every row is judged by the same
preprocessing and model the ladder uses (the linear rung by default, or a small LightGBM), fitted on stratified
folds that never saw that row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.data import Schema, Task, TaskKind, coerce_frame, kfold_plan
from trainwright.hygiene import LabelProbabilities
from trainwright.models import get_spec
from trainwright.training.engine import FitContext, run_folds

__all__ = ["LABEL_MODELS", "N_FOLDS", "label_probabilities", "label_probabilities_for"]

N_FOLDS = 5
# the audit's --label-model names -> (ladder spec, parameter overrides): small and fixed, k folds have no early stop
LABEL_MODELS = {"logistic": ("linear", {}), "lightgbm": ("lightgbm", {"n_estimators": 100, "num_leaves": 15})}


def label_probabilities(X: pd.DataFrame, y: np.ndarray, schema: Schema, random_state: int, *,
                        model: str = "logistic") -> np.ndarray:
    """(n, K) out-of-fold probabilities of class codes ``y`` (0..K-1) given the feature columns of ``X``."""
    spec_name, overrides = LABEL_MODELS[model]
    y = np.asarray(y, dtype=int)
    n_classes = int(y.max()) + 1
    kind = TaskKind.BINARY if n_classes == 2 else TaskKind.MULTICLASS
    task = Task(kind=kind, target=schema.target, metric="log_loss", classes=tuple(range(n_classes)),
                positive_label=1 if kind is TaskKind.BINARY else None)
    ctx = FitContext(schema=schema, task=task, random_state=random_state, n_jobs=1)
    plan = kfold_plan(y, n_folds=N_FOLDS, classification=True, seed=random_state)
    spec = get_spec(spec_name)
    X = X if list(X.columns) == schema.features else coerce_frame(X, schema, strict=False)
    return run_folds(spec, spec.params(overrides), X, y, plan, ctx).oof.astype(np.float64)


class _LabelModel:
    """``label_probabilities`` bound to one model, with a description the audit report shows."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.description = f"{model} over {N_FOLDS} stratified folds"

    def __call__(self, X: pd.DataFrame, y: np.ndarray, schema: Schema, random_state: int) -> np.ndarray:
        return label_probabilities(X, y, schema, random_state, model=self.model)


def label_probabilities_for(model: str = "logistic") -> LabelProbabilities:
    """The audit's label-probability function for ``model`` (a key of LABEL_MODELS)."""
    if model not in LABEL_MODELS:
        raise ValueError(f"unknown label model {model!r}; valid: {', '.join(LABEL_MODELS)}")
    return _LabelModel(model)
