"""Dates in mixed formats and zones; data read differently from how a user reads it, said out loud."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from trainwright.data.reading import DataReadWarning, tidy_columns
from trainwright.data.schema import UnusableValuesWarning
from trainwright.data.times import TimeColumnWarning, check_time_column, parse_times, time_order


def test_mixed_formats_and_zones_parse_to_naive_utc():
    got = parse_times(pd.Series(["2024-01-05T10:00:00+05:30", "2024-01-05 04:30", "5 Jan 2024", "nonsense", None]))
    assert got.dt.tz is None
    assert got.iloc[0] == got.iloc[1] == pd.Timestamp("2024-01-05 04:30")
    assert got.iloc[2] == pd.Timestamp("2024-01-05") and got.iloc[3:].isna().all()


def test_time_order_puts_unreadable_times_first_and_takes_numbers_as_they_are():
    order = time_order(pd.Series(["2024-03-01", "garbage", "2024-01-01"]))
    assert list(np.argsort(order, kind="stable")) == [1, 2, 0]
    assert list(time_order(pd.Series([2021, 2019, None]))) == [2021, 2019, -np.inf]


def test_a_time_column_without_times_is_refused_and_a_few_bad_ones_are_said():
    problem = check_time_column(pd.Series(["red", "green", "blue"], name="cat"))
    assert problem is not None and problem.code == "split.time_not_time" and problem.column == "cat"
    with pytest.warns(TimeColumnWarning, match="yesterday"):
        assert check_time_column(pd.Series(["2024-01-01", "2024-01-02", "yesterday"], name="when")) is None
    assert check_time_column(pd.Series([2019, 2020], name="year")) is None


def test_duplicate_and_padded_names_are_made_unique_and_said(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a, a ,a.1,\n1,2,3,4\n", encoding="utf-8")
    frame = pd.read_csv(path)
    with pytest.warns(DataReadWarning) as caught:
        tidy_columns(frame, path=path, delimiter=",", encoding="utf-8")
    assert len(set(frame.columns)) == 4 and frame.columns[0] == "a"
    text = " ".join(str(w.message) for w in caught)
    assert "duplicate column names" in text and "without a name" in text


def test_decimal_commas_are_said_and_plain_numbers_are_not():
    with pytest.warns(DataReadWarning, match="decimal comma"):
        tidy_columns(pd.DataFrame({"price": ["1,5", "2,25", "3,0"]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tidy_columns(pd.DataFrame({"price": [1.5, 2.0], "city": ["Paris, FR", "Rome, IT"]}))


def test_infinite_and_huge_features_read_as_missing_with_a_warning():
    from trainwright.data.schema import ColumnInfo, Role, Schema, coerce_frame

    schema = Schema("y", (ColumnInfo("x", Role.NUMERIC, "float64", "", 3, 0.0),))
    with pytest.warns(UnusableValuesWarning, match="'x'"):
        out = coerce_frame(pd.DataFrame({"x": [1.0, np.inf, 1e308, -2.0]}), schema)
    assert out["x"].isna().tolist() == [False, True, True, False]
