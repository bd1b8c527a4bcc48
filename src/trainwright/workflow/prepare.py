"""The door of a run: load, validate (every problem at once), infer task and schema, coerce, audit, split, and
order the rows by part so each part is a slice of one frame."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.config import Config
from trainwright.data import (
    Role,
    Schema,
    Split,
    Task,
    check_columns,
    check_target,
    coerce_frame,
    file_fingerprint,
    frame_fingerprint,
    infer_schema,
    infer_task,
    load_table,
    make_split,
    rows_of,
)
from trainwright.data.times import check_time_column
from trainwright.evaluation import check_metric
from trainwright.exceptions import DataError, Problem
from trainwright.hygiene import audit_split, preflight, with_split_findings

__all__ = ["Prepared", "prepare", "prepared_and_split"]


@dataclass(frozen=True)
class Prepared:
    """The data as it passed the door: cleaned frame, coerced features, encoded target, task and schema."""

    source: str
    frame: pd.DataFrame = field(repr=False)
    X: pd.DataFrame = field(repr=False)
    y: np.ndarray = field(repr=False)
    task: Task
    schema: Schema
    notes: tuple[str, ...]
    fingerprints: dict[str, str]
    audit: Any = None  # data/audit.py AuditReport of the pre-flight audit (and the split's twin check)


def _door_problems(frame: pd.DataFrame, cfg: Config) -> tuple[list[Problem], Task | None]:
    """Every problem with the columns and the target at once; the task when the target is usable."""
    problems = check_columns(frame, {"group": cfg.split.group_column, "time": cfg.split.time_column})
    if cfg.split.time_column and cfg.split.time_column in frame.columns:
        problems += [p for p in (check_time_column(frame[cfg.split.time_column]),) if p is not None]
    first = check_target(frame, cfg.target, classification=False)
    problems += [p for p in first.problems if p.code in {"target.absent", "target.all_missing", "target.not_finite",
                                                                  "target.too_large"}]
    if problems:
        return problems, None
    task = infer_task(frame[cfg.target], kind=cfg.task, metric=cfg.metric, positive_label=cfg.positive_label, beta=cfg.beta,
                      costs=cfg.costs)
    return problems, task


def prepare(data: str | Path | pd.DataFrame, cfg: Config) -> Prepared:
    """Load, validate at the door (all problems at once), infer task and schema, coerce features."""
    source = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
    frame = data if isinstance(data, pd.DataFrame) else load_table(data)  # never mutated: no defensive copy
    fingerprints = {"frame_sha256": frame_fingerprint(frame)}
    if not isinstance(data, pd.DataFrame):
        fingerprints["file_sha256"] = file_fingerprint(data)
    problems, task = _door_problems(frame, cfg)
    if task is None:
        raise DataError(f"cannot train on {source}", problems)
    check_metric(task)
    checked = check_target(frame, cfg.target, classification=task.is_classification, force=cfg.force)
    if checked.problems:
        raise DataError(f"cannot train on {source}", list(checked.problems))
    if len(checked.keep) < len(frame):  # a copy only when rows are dropped (at 1M rows a copy is ~180 MB)
        frame = frame.loc[checked.keep]
    roles = dict(cfg.roles)
    if cfg.split.group_column and cfg.split.group_column not in roles:
        roles[cfg.split.group_column] = Role.IGNORED.value
    schema = infer_schema(frame, cfg.target, roles)
    if not schema.features:
        raise DataError(f"cannot train on {source}", [Problem(
            "data.no_features", "no usable feature column (all are identifiers, constant or ignored)",
            fix="check the column roles with 'trainwright audit', or set roles in the config")])
    if task.is_classification and len(checked.keep) != len(frame):
        task = infer_task(frame[cfg.target], kind=task.kind.value, metric=task.metric,
                          positive_label=cfg.positive_label, beta=cfg.beta, costs=cfg.costs)
    X = coerce_frame(frame, schema, strict=False)
    y = task.encode(frame[cfg.target])
    return Prepared(source, frame, X, y, task, schema, checked.notes, fingerprints)


def _split(prep: Prepared, cfg: Config) -> Split:
    s = cfg.split
    ids = prep.schema.names(Role.IDENTIFIER)
    return make_split(
        prep.X, pd.Series(prep.y, index=prep.X.index), classification=prep.task.is_classification,
        fractions=(s.train, s.validation, s.test), random_state=cfg.seed,
        groups=prep.frame[s.group_column] if s.group_column else None,
        time=prep.frame[s.time_column] if s.time_column else None,
        identifiers=prep.frame[ids] if ids else None,
    )


def _ordered_by_part(prep: Prepared, split: Split) -> Prepared:
    """Features and target reordered train, validation, test (rows in each part's own order), so that each part and
    train+validation are slices of one frame, shared instead of copied by every fit (see ``rows_of``). Row labels are
    kept, and every later step selects rows by label: the results are the same as with the file's order."""
    X, pos = rows_of(prep.X, np.concatenate([split.train, split.validation, split.test]))
    return replace(prep, X=X, y=prep.y[pos])


def prepared_and_split(data: str | Path | pd.DataFrame, cfg: Config) -> tuple[Prepared, Split]:
    prep = prepare(data, cfg)
    prep = replace(prep, audit=preflight(prep.frame, prep.task, prep.schema, force=cfg.force, source=prep.source,
                                         time_column=cfg.split.time_column, random_state=cfg.seed))
    split = _split(prep, cfg)
    prep = _ordered_by_part(prep, split)
    return replace(prep, audit=with_split_findings(prep.audit, audit_split(prep.X, split))), split
