"""Data read differently from how a user would read it is said out loud: a warning per column, never silence.

Duplicate column names (renamed ``name.1``; also names that only differ by surrounding spaces), empty column names
(``Unnamed: N``), and numbers written with decimal commas (read as text) each give one ``DataReadWarning``.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["DataReadWarning", "tidy_columns"]

_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")


class DataReadWarning(UserWarning):
    """The file was read differently from how a person would read it (the message says how, and the fix)."""


def _raw_header(path: Path | None, delimiter: str | None, encoding: str | None) -> list[str] | None:
    if path is None or delimiter is None:
        return None
    try:
        with path.open(encoding=encoding or "utf-8", errors="replace", newline="") as handle:
            return next(csv.reader(handle, delimiter=delimiter), None)
    except (OSError, csv.Error):
        return None


def tidy_columns(frame: pd.DataFrame, *, path: Path | None = None, delimiter: str | None = None,
                 encoding: str | None = None, warn: bool = True) -> pd.DataFrame:
    """Column names stripped of surrounding spaces and made unique (``name.1``, ``name.2``), with a warning for
    every rename and for decimal-comma columns. Returns the frame (renamed in place)."""
    where = f" in {path}" if path is not None else ""
    names = [str(c).strip() for c in frame.columns]
    raw = _raw_header(path, delimiter, encoding)
    renamed: list[str] = []
    if raw is not None and len(raw) == len(names):
        stripped = [r.strip().lstrip("\ufeff") for r in raw]
        renamed = [f"'{r}' -> '{n}'" for r, n in zip(stripped, names, strict=True) if r and r != n]
        empty = [n for r, n in zip(stripped, names, strict=True) if not r]
        if empty and warn:
            warnings.warn(DataReadWarning(f"{len(empty)} column(s) without a name{where} are read as "
                                          f"{', '.join(empty[:5])}; name them in the header to choose the name"),
                          stacklevel=3)
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # names equal once spaces are stripped: made unique the way pandas does it
        if name in seen:
            seen[name] += 1
            new = f"{name}.{seen[name]}"
            while new in names or new in seen:
                seen[name] += 1
                new = f"{name}.{seen[name]}"
            renamed.append(f"'{name}' -> '{new}'")
            seen[new] = 0
            name = new
        else:
            seen[name] = 0
        unique.append(name)
    frame.columns = unique
    if renamed and warn:
        warnings.warn(DataReadWarning(f"duplicate column names{where} renamed: {', '.join(renamed[:5])}; give each "
                                      "column its own name in the header to choose the names"), stacklevel=3)
    if warn:
        _decimal_commas(frame, where)
    return frame


def _decimal_commas(frame: pd.DataFrame, where: str) -> None:
    for name in frame.columns:
        s = frame[name]
        if s.dtype != object and not pd.api.types.is_string_dtype(s):
            continue
        values = s.dropna().astype(str).str.strip()
        values = values[values != ""].head(1000)
        if not len(values):
            continue
        commas = values.str.match(_DECIMAL_COMMA)
        numbers = pd.to_numeric(values, errors="coerce").notna()
        if commas.any() and (commas | numbers).mean() >= 0.8:
            how = "read as text, not numbers" if commas.mean() >= 0.5 else "read as missing numbers"
            warnings.warn(DataReadWarning(
                f"column {name!r}{where} holds {int(commas.sum())} number(s) with a decimal comma (e.g. "
                f"'{values[commas].iloc[0]}'), {how}; write them with a decimal point (or export the file with "
                "'.' as the decimal mark)"), stacklevel=3)
