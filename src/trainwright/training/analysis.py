"""After the choice: the learning curve, the diagnosis, feature importance and the data the run report needs.

Called once by the workflow with the chosen model's test predictions; nothing here reads the test part again
except the importance, which scores the same held-out rows the test result came from.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import Split, Task, rows_of
from trainwright.evaluation.diagnosis import Diagnosis, diagnose
from trainwright.evaluation.importance import Importance, permutation_importance, shap_importance
from trainwright.evaluation.leaderboard import Choice, Leaderboard
from trainwright.evaluation.report import ReportData
from trainwright.models import get_spec
from trainwright.training.engine import FitContext
from trainwright.training.learning_curve import learning_curve

__all__ = ["analyse"]


def _importance(pipeline: Any, X: pd.DataFrame, y: np.ndarray, task: Task, random_state: int) -> tuple[Importance, ...]:
    found: list[Importance] = []
    try:
        found.append(permutation_importance(pipeline, X, y, task, random_state=random_state))
    except Exception as exc:  # importance is a report extra: never fail the run for it
        warnings.warn(f"permutation importance failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
    try:
        shap = shap_importance(pipeline, X, random_state=random_state)
        if shap is not None:
            found.append(shap)
    except Exception as exc:
        warnings.warn(f"SHAP importance failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
    return tuple(found)


def analyse(X: pd.DataFrame, y: np.ndarray, split: Split, board: Leaderboard, choice: Choice, pipeline: Any,
            test_pred: np.ndarray, ctx: FitContext, *, audit: Any, source: str = "") -> tuple[Diagnosis, ReportData]:
    """Learning curve (within the time left), diagnosis and report data for the chosen model. ``X``/``y`` are
    ordered train, validation, test (see ``workflow._ordered_by_part``)."""
    task = ctx.task
    trial = board.get(choice.chosen)
    n_train, n_choice = len(split.train), len(split.train) + len(split.validation)
    X_te, te = rows_of(X, split.test)
    curve = None
    grown = board.get(trial.members[0][0]) if trial.members else trial  # an ensemble: its heaviest member's curve
    if grown.rung > 0 and task.metric in grown.train_scores:  # a trial scored on folds only has no train score
        curve = learning_curve(get_spec(grown.name), X.iloc[:n_choice], y[:n_choice], n_train, grown.params, ctx,
                               full_fit_seconds=grown.fit_seconds,
                               full_scores=(grown.train_scores[task.metric], grown.score(task.metric)))
    suspects = tuple(c for f in (audit.findings if audit else ()) if f.code.startswith("leakage.") for c in f.columns)
    diagnosis = diagnose(board, choice.chosen, n_validation=len(split.validation), learning_curve=curve,
                         leakage_suspects=suspects)
    importance = _importance(pipeline, X_te, y[te], task, ctx.random_state)
    data = ReportData(y_test=np.asarray(y[te]), test_pred=np.asarray(test_pred), audit=audit, importance=importance,
                      source=source, X_test=X_te)
    return diagnosis, data
