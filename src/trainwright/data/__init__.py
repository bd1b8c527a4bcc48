"""Layer 2: load, schema, task, validation at the door, split."""

from trainwright.data.load import file_fingerprint, frame_fingerprint, iter_table, load_table
from trainwright.data.schema import FEATURE_ROLES, ColumnInfo, Role, Schema, coerce_frame, infer_schema
from trainwright.data.split import Split, cv_folds, make_split, row_hashes, rows_of
from trainwright.data.task import DEFAULT_METRIC, Task, TaskKind, infer_task
from trainwright.data.validate import TargetCheck, check_columns, check_target

__all__ = [
    "DEFAULT_METRIC", "FEATURE_ROLES", "ColumnInfo", "Role", "Schema", "Split", "TargetCheck", "Task", "TaskKind",
    "check_columns", "check_target", "coerce_frame", "cv_folds", "file_fingerprint", "frame_fingerprint",
    "infer_schema", "infer_task", "iter_table", "load_table", "make_split", "row_hashes", "rows_of",
]
