"""Layer 2: load, schema, task, validation at the door, split."""

from trainwright.data.folds import (
    Fold,
    FoldPlan,
    choice_folds,
    holdout_plan,
    kfold_plan,
    repeated_plan,
    subsample_plan,
)
from trainwright.data.load import file_fingerprint, frame_fingerprint, iter_table, load_table
from trainwright.data.schema import FEATURE_ROLES, ColumnInfo, Role, Schema, coerce_frame, infer_schema
from trainwright.data.split import Split, make_split, row_hashes, rows_of
from trainwright.data.task import DEFAULT_METRIC, Task, TaskKind, infer_task
from trainwright.data.validate import TargetCheck, check_columns, check_target

__all__ = [
    "DEFAULT_METRIC",
    "FEATURE_ROLES",
    "ColumnInfo",
    "Fold",
    "FoldPlan",
    "Role",
    "Schema",
    "Split",
    "TargetCheck",
    "Task",
    "TaskKind",
    "check_columns",
    "check_target",
    "choice_folds",
    "coerce_frame",
    "file_fingerprint",
    "frame_fingerprint",
    "holdout_plan",
    "infer_schema",
    "infer_task",
    "iter_table",
    "kfold_plan",
    "load_table",
    "make_split",
    "repeated_plan",
    "row_hashes",
    "rows_of",
    "subsample_plan",
]
