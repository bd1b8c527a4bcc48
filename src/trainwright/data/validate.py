"""Checks at the door. Each returns every problem it finds; the caller raises them all at once."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainwright.exceptions import Problem

__all__ = ["MIN_ROWS_PER_CLASS", "TargetCheck", "check_columns", "check_target"]

MIN_ROWS_PER_CLASS = 3


@dataclass(frozen=True)
class TargetCheck:
    """The outcome of checking the target: blocking problems, notes, and the rows to keep."""

    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    keep: pd.Index


def _close(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    lowered = [c for c in columns if c.lower() == name.lower()]
    options = list(dict.fromkeys(lowered + close))
    return f"did you mean {', '.join(repr(c) for c in options)}?" if options else f"columns are: {', '.join(columns[:12])}"


def check_columns(frame: pd.DataFrame, names: dict[str, str | None]) -> list[Problem]:
    """Each named column (purpose -> name) must exist."""
    columns = [str(c) for c in frame.columns]
    return [
        Problem("data.column_absent", f"{purpose} column not found", column=name, fix=_close(name, columns))
        for purpose, name in names.items()
        if name is not None and name not in frame.columns
    ]


_HUGE_TARGET = 1e150  # a difference of two values this size, squared, overflows float64 (RMSE = inf)


def _infinite(y: pd.Series, target: str) -> Problem | None:
    """Infinite target values (``inf`` in the file): no metric or model can use them."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return None
    values = y.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isinf(values)
    if not bad.any():
        with np.errstate(invalid="ignore"):
            huge = np.abs(values) > _HUGE_TARGET
        if not huge.any():
            return None
        rows = y.index[huge]
        return Problem("target.too_large", f"{len(rows)} value(s) are so large (above {_HUGE_TARGET:.0e} in size) that "
                       f"squared errors overflow to infinity, the first at row {rows[0]}", column=target,
                       examples=tuple(f"row {r}: {y.at[r]}" for r in rows[:3]),
                       fix="rescale the target (another unit, or its logarithm), or leave those values empty")
    rows = y.index[bad]
    return Problem("target.not_finite", f"{len(rows)} value(s) are infinite, the first at row {rows[0]}", column=target,
                   examples=tuple(f"row {r}: {y.at[r]}" for r in rows[:3]),
                   fix="replace them with finite numbers, or leave them empty to drop those rows")


def check_target(frame: pd.DataFrame, target: str, *, classification: bool | None, force: bool = False) -> TargetCheck:
    """Target present, not all missing, no infinite value, more than one class, no class too rare to stratify.

    ``classification`` None means not yet known: rare-class checks apply only to non-numeric targets then.
    Rows with a missing target are dropped and counted; with ``force`` rows of too-rare classes are dropped too.
    """
    if target not in frame.columns:
        return TargetCheck((Problem("target.absent", "target column not found", column=target,
                                    fix=_close(target, [str(c) for c in frame.columns])),), (), frame.index)
    y = frame[target]
    notes: list[str] = []
    present = y.notna()
    if not present.any():
        return TargetCheck((Problem("target.all_missing", f"all {len(y)} values are missing", column=target,
                                    fix="choose the column that holds the labels"),), (), frame.index)
    n_missing = int((~present).sum())
    if n_missing:
        notes.append(f"dropped {n_missing} rows whose target '{target}' is missing")
    keep = frame.index[present.to_numpy()]
    y = y[present]
    problems: list[Problem] = []
    if y.nunique() < 2:
        problems.append(Problem("target.one_class", f"every row has the same target value {y.iloc[0]!r}", column=target,
                                fix="a model needs at least two different target values"))
        return TargetCheck(tuple(problems), tuple(notes), keep)
    infinite = _infinite(y, target)
    if infinite is not None:
        return TargetCheck((infinite,), tuple(notes), keep)
    if classification is None:
        classification = not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y)
    if classification:
        counts = y.value_counts()
        rare = counts[counts < MIN_ROWS_PER_CLASS]
        if len(rare) and force:
            drop = y.isin(rare.index)
            keep = keep[~drop.to_numpy()]
            notes.append(f"dropped {int(drop.sum())} rows of classes too rare to split: {', '.join(map(str, rare.index))}")
        elif len(rare):
            for label, count in rare.items():
                problems.append(Problem(
                    "target.rare_class", f"class {label!r} has {count} row(s); at least {MIN_ROWS_PER_CLASS} are needed "
                    "to appear in train, validation and test", column=target,
                    fix="add rows, merge the class into another, or pass --force to drop its rows"))
    return TargetCheck(tuple(problems), tuple(notes), keep)
