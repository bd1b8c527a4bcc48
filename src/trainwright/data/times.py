"""Dates and times read one way everywhere: mixed formats and time zones allowed, the result naive UTC."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trainwright.exceptions import Problem

__all__ = ["TimeColumnWarning", "check_time_column", "parse_times", "time_order"]


def parse_times(values: Any) -> pd.Series:
    """``values`` as naive datetimes in UTC (NaT where a value is not a date). Values with a time zone or offset
    are converted to UTC; values without one are taken as UTC already. Mixed formats and mixed zones in one
    column are fine (``pd.to_datetime`` alone raises on mixed zones)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_convert(None) if getattr(s.dt, "tz", None) is not None else s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(s, errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError, OverflowError):  # values pandas cannot even try: one at a time
            parsed = pd.to_datetime(s.map(_one), errors="coerce", utc=True)
    return parsed.dt.tz_convert(None)


def _one(value: Any) -> Any:
    try:
        return pd.to_datetime(value, errors="coerce", format="mixed", utc=True)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def time_order(values: Any) -> Any:
    """What to sort rows by for a time split: the numbers of a numeric column (a year, a sequence number), else
    the parsed times; a missing or unreadable time sorts first (into the training part, never the test)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        order = s.to_numpy(dtype="float64", na_value=np.nan)
    else:
        parsed = parse_times(s)
        order = parsed.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
        order[parsed.isna().to_numpy()] = np.nan
    return np.where(np.isnan(order), -np.inf, order)  # missing or unreadable times sort first: into training


def check_time_column(values: pd.Series) -> Problem | None:
    """``--time-column`` must hold times (or numbers, such as a year or a sequence number): a column where most
    present values are not dates is refused, naming examples; a few unreadable ones are said out loud (they sort
    first, into the training part)."""
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return None
    if present.empty:
        return Problem("split.time_not_time", "the time column is empty", column=str(values.name),
                       fix="choose a column of dates, or split without --time-column")
    parsed = parse_times(present)
    bad = present[parsed.isna().to_numpy()]
    if len(bad) > len(present) / 2:
        return Problem("split.time_not_time", f"{len(bad)} of {len(present)} values are not dates or times",
                       column=str(values.name), examples=tuple(str(v) for v in bad.unique()[:3]),
                       fix="choose a column of dates (ISO 8601: YYYY-MM-DD), or split without --time-column")
    if len(bad):
        warnings.warn(TimeColumnWarning(
            f"time column {values.name!r}: {len(bad)} value(s) are not dates (e.g. {', '.join(map(str, bad.unique()[:3]))}) "
            "and sort first, into the training part; write them as ISO dates (YYYY-MM-DD) to place them"), stacklevel=2)
    return None


class TimeColumnWarning(UserWarning):
    """Some values of the time column are not dates."""
