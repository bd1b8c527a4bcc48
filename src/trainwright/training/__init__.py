"""Layer 4: the fold engine and its callers (the ladder, cross-validation, seeds, learning curve), executors."""

from trainwright.training.engine import (
    FitContext,
    FoldFit,
    FoldRun,
    fit_fold,
    fit_pipeline,
    predict_matrix,
    run_folds,
)
from trainwright.training.events import Event, Listener, broadcast
from trainwright.training.executor import Executor, ProcessExecutor, SequentialExecutor, make_executor
from trainwright.training.fit import Fitted, fit_candidate
from trainwright.training.label_noise import label_probabilities, label_probabilities_for
from trainwright.training.ladder import climb, cross_validate

__all__ = [
    "Event",
    "Executor",
    "FitContext",
    "Fitted",
    "FoldFit",
    "FoldRun",
    "Listener",
    "ProcessExecutor",
    "SequentialExecutor",
    "broadcast",
    "climb",
    "cross_validate",
    "fit_candidate",
    "fit_fold",
    "fit_pipeline",
    "label_probabilities",
    "label_probabilities_for",
    "make_executor",
    "predict_matrix",
    "run_folds",
]
