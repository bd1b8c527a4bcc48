"""Column roles: inferred from the data by stated rules, overridable by the user."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.times import parse_times
from trainwright.exceptions import AUDIO_SUFFIXES, IMAGE_SUFFIXES, ConfigError, Problem, SchemaMismatchError

__all__ = ["FEATURE_ROLES", "PATH_ROLES", "ColumnInfo", "Role", "Schema", "UnusableValuesWarning", "coerce_frame", "identifier_name",
           "infer_schema"]

_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid|^key$|^index$|^unnamed: ?\d+$|^row_?(id|num|number)$)", re.I)
_DATE_CHARS = re.compile(r"\d{1,4}[-/:.]\d{1,2}")
MISSING_TEXT = ""


class Role(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    DATETIME = "datetime"
    IMAGE = "image"  # a path to an image file (data/images.py resolves and checks them at the door)
    AUDIO = "audio"  # a path to an audio clip (data/audio.py resolves and checks them at the door)
    IDENTIFIER = "identifier"
    IGNORED = "ignored"


FEATURE_ROLES = (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT, Role.DATETIME, Role.IMAGE, Role.AUDIO)
# roles whose values are paths of files that the features read (a missing one reads as an empty image or clip)
PATH_ROLES = (Role.IMAGE, Role.AUDIO)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    role: Role
    dtype: str
    reason: str
    n_unique: int
    missing_fraction: float


@dataclass(frozen=True)
class Schema:
    """A role per column, and the target's name."""

    target: str
    columns: tuple[ColumnInfo, ...]

    def names(self, *roles: Role) -> list[str]:
        return [c.name for c in self.columns if c.role in roles]

    @property
    def features(self) -> list[str]:
        """Columns the model uses, in file order."""
        return self.names(*FEATURE_ROLES)

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "columns": [{**asdict(c), "role": c.role.value} for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        cols = tuple(ColumnInfo(**{**c, "role": Role(c["role"])}) for c in data["columns"])
        return cls(target=data["target"], columns=cols)


def identifier_name(name: str) -> bool:
    """The column's name reads like an identifier: id, *_id, id_*, uuid, guid, key, index, row_id, "Unnamed: 0"."""
    return bool(_ID_NAME.search(name))


def _is_integer_valued(values: pd.Series) -> bool:
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    arr = arr[~np.isnan(arr)]
    return bool(arr.size) and bool(np.all(np.mod(arr, 1) == 0))


def _infer_text_like(name: str, s: pd.Series, n_unique: int, n_present: int) -> tuple[Role, str]:
    sample = s.dropna()
    if len(sample) > 2000:
        sample = sample.sample(2000, random_state=0)
    as_str = sample.astype(str)
    suffixes = as_str.str.lower().str.extract(r"(\.[a-z0-9]+)$", expand=False)
    if suffixes.isin(IMAGE_SUFFIXES).mean() >= 0.95:
        return Role.IMAGE, "paths of image files (>=95% end in an image suffix)"
    if suffixes.isin(AUDIO_SUFFIXES).mean() >= 0.95:
        return Role.AUDIO, "paths of audio clips (>=95% end in an audio suffix)"
    numeric = pd.to_numeric(as_str, errors="coerce")
    if numeric.notna().mean() >= 0.95:
        return Role.NUMERIC, "text column whose values are numbers (>=95% parse)"
    if as_str.str.contains(_DATE_CHARS).mean() >= 0.95:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parse_times(as_str)
        if parsed.notna().mean() >= 0.95:
            return Role.DATETIME, "values parse as dates (>=95%)"
    tokens = as_str.str.split().str.len().mean()
    unique_ratio = n_unique / max(n_present, 1)
    if _ID_NAME.search(name) and unique_ratio > 0.95:
        return Role.IDENTIFIER, "name looks like an identifier and values are unique"
    if n_unique == n_present and n_present > 20 and tokens < 3:
        return Role.IDENTIFIER, "every value is distinct and short"
    if tokens >= 3 and unique_ratio > 0.5:
        return Role.TEXT, f"free text (mean {tokens:.1f} words, {unique_ratio:.0%} distinct)"
    return Role.CATEGORICAL, f"{n_unique} distinct values"


def _infer_column(name: str, s: pd.Series) -> ColumnInfo:
    n = len(s)
    present = s.notna()
    n_present = int(present.sum())
    n_unique = int(s.nunique(dropna=True))
    missing = 1.0 - n_present / n if n else 1.0
    dtype = str(s.dtype)

    def info(role: Role, reason: str) -> ColumnInfo:
        return ColumnInfo(name, role, dtype, reason, n_unique, round(missing, 6))

    if n_present == 0:
        return info(Role.IGNORED, "all values missing")
    if n_unique == 1:
        return info(Role.IGNORED, "constant: a single value")
    if pd.api.types.is_bool_dtype(s):
        return info(Role.NUMERIC, "boolean")
    if pd.api.types.is_datetime64_any_dtype(s):
        return info(Role.DATETIME, "datetime dtype")
    if pd.api.types.is_numeric_dtype(s):
        if n_unique == n_present and _is_integer_valued(s):
            if _ID_NAME.search(name):
                return info(Role.IDENTIFIER, "name looks like an identifier and integer values are unique")
            values = s.dropna().to_numpy(dtype=float)
            if n_present > 20 and values.max() - values.min() + 1 == n_unique:
                return info(Role.IDENTIFIER, "unique consecutive integers (a row number)")
        return info(Role.NUMERIC, "numeric dtype")
    role, reason = _infer_text_like(name, s, n_unique, n_present)
    return info(role, reason)


def infer_schema(frame: pd.DataFrame, target: str, roles: Mapping[str, str] | None = None) -> Schema:
    """Infer a role for every column but the target; ``roles`` overrides by name."""
    roles = dict(roles or {})
    unknown = [c for c in roles if c not in frame.columns]
    if unknown:
        problems = []
        for c in unknown:
            close = difflib.get_close_matches(c, [str(x) for x in frame.columns], n=3)
            fix = f"did you mean {', '.join(close)}?" if close else "remove it from 'roles'"
            problems.append(Problem("config.unknown_column", "role given for a column that is not in the data", column=c, fix=fix))
        raise ConfigError("the 'roles' setting names columns that do not exist", problems)
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        col = _infer_column(name, frame[name])
        if name in roles:
            col = replace(col, role=Role(roles[name]), reason=f"set by user (inferred: {col.role.value})")
        columns.append(col)
    return Schema(target=target, columns=tuple(columns))


def _category_str(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_category_text(s: pd.Series) -> pd.Series:
    """Categorical values as strings, the same whether they arrive as 1, 1.0 or '1'."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        out = arr.astype(object)
        out[np.isnan(arr)] = None
        mask = ~np.isnan(arr)
        out[mask] = [_category_str(float(v)) for v in arr[mask]]
        result = pd.Series(out, index=s.index, dtype=object)
        return result.where(result.notna(), np.nan).astype(object)
    result = s.astype(object)
    present = s.notna().to_numpy()
    if not (pd.api.types.is_string_dtype(s) and s.dtype != object):
        values = result.to_numpy()
        odd = present & np.fromiter((not isinstance(v, str) for v in values), dtype=bool, count=len(values))
        if odd.any():
            result = result.copy()
            result[odd] = [_category_str(v) for v in values[odd]]
    return result.where(present, np.nan)


_MAX_FEATURE = 1e38  # float32's range ends at 3.4e38: models that cast to float32 would see infinity beyond it


class UnusableValuesWarning(UserWarning):
    """Feature values that no model can use (infinite, or beyond float32's range) were read as missing."""


def _finite_or_missing(values: pd.Series, name: str) -> pd.Series:
    """Infinite values and values beyond float32's range read as missing, and said so (a warning)."""
    with np.errstate(invalid="ignore"):
        unusable = values.abs() > _MAX_FEATURE
    if not unusable.any():
        return values
    examples = ", ".join(str(v) for v in values[unusable].unique()[:3])
    warnings.warn(UnusableValuesWarning(
        f"column {name!r}: {int(unusable.sum())} value(s) are infinite or too large to use (e.g. {examples}) and are "
        f"read as missing; replace them with finite numbers below {_MAX_FEATURE:.0e} in size to use them"),
        stacklevel=3)
    return values.mask(unusable)


def coerce_frame(frame: pd.DataFrame, schema: Schema, *, strict: bool = True) -> pd.DataFrame:
    """Return the feature columns in schema order with the dtypes the pipelines expect.

    Missing columns raise SchemaMismatchError listing them all. With ``strict``, a numeric or
    datetime column whose present values do not parse is refused, naming the column and values.
    """
    missing = [c for c in schema.features if c not in frame.columns]
    problems = [
        Problem("schema.missing_column", "column the model needs is absent", column=c, fix="add the column (values may be empty)")
        for c in missing
    ]
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.role not in FEATURE_ROLES or col.name in missing:
            continue
        s = frame[col.name]
        if col.role is Role.NUMERIC:
            if pd.api.types.is_bool_dtype(s):
                s = s.astype(float)
            if pd.api.types.is_numeric_dtype(s):
                conv, bad = s.astype("float64"), s.iloc[:0]
            else:
                conv = pd.to_numeric(s, errors="coerce").astype("float64")
                failed = s[conv.isna() & s.notna()]
                bad = failed[failed.astype(str).str.strip() != ""]
            if strict and len(bad):
                examples = tuple(str(v) for v in bad.unique()[:3])
                problems.append(Problem("schema.bad_value", f"{len(bad)} values are not numbers", column=col.name,
                                        fix="send numbers or leave the value empty", examples=examples))
            out[col.name] = _finite_or_missing(conv, col.name)
        elif col.role is Role.DATETIME:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                conv = parse_times(s)
            if getattr(conv.dt, "tz", None) is not None:
                conv = conv.dt.tz_convert(None)
            bad = s[conv.isna() & s.notna()]
            if strict and len(bad):
                problems.append(Problem("schema.bad_value", f"{len(bad)} values are not dates", column=col.name,
                                        fix="send ISO dates (YYYY-MM-DD) or leave the value empty",
                                        examples=tuple(str(v) for v in bad.unique()[:3])))
            out[col.name] = conv.astype("datetime64[ns]")
        elif col.role is Role.TEXT:
            out[col.name] = s.astype(object).where(s.notna(), MISSING_TEXT).astype(str).astype(object)
        elif col.role in PATH_ROLES:  # paths, read by features/image.py or features/audio.py (missing: empty)
            out[col.name] = s.astype(object).where(s.notna(), "").astype(str).astype(object)
        else:
            out[col.name] = _as_category_text(s).astype("category")  # codes + one string per level: light at 1M rows
    if problems:
        raise SchemaMismatchError("the data does not match the model's schema", problems)
    return pd.DataFrame(out, index=frame.index)
