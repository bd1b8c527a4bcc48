"""Checks at the door: every target problem found at once, with the column and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import check_columns, check_target
from trainwright.data.validate import MIN_ROWS_PER_CLASS


@pytest.fixture
def titanic() -> pd.DataFrame:
    return pd.read_csv(dataset_path("titanic"))


def test_clean_target_passes(titanic: pd.DataFrame) -> None:
    checked = check_target(titanic, "survived", classification=True)
    assert checked.problems == () and checked.notes == ()
    assert checked.keep.equals(titanic.index)


def test_absent_target_lists_close_names(titanic: pd.DataFrame) -> None:
    (problem,) = check_target(titanic, "survive", classification=None).problems
    assert problem.code == "target.absent" and problem.column == "survive"
    assert "'survived'" in (problem.fix or "")
    (problem,) = check_target(titanic, "SEX", classification=None).problems
    assert "'sex'" in (problem.fix or "")  # case-insensitive match offered


def test_absent_target_with_nothing_close_lists_columns(titanic: pd.DataFrame) -> None:
    (problem,) = check_target(titanic, "zzzzzz", classification=None).problems
    assert (problem.fix or "").startswith("columns are:") and "pclass" in (problem.fix or "")


def test_all_missing_target(titanic: pd.DataFrame) -> None:
    frame = titanic.assign(survived=np.nan)
    (problem,) = check_target(frame, "survived", classification=None).problems
    assert problem.code == "target.all_missing" and f"all {len(frame)}" in problem.message


def test_one_class(titanic: pd.DataFrame) -> None:
    frame = titanic.assign(survived="died")
    (problem,) = check_target(frame, "survived", classification=True).problems
    assert problem.code == "target.one_class" and "'died'" in problem.message


def test_missing_target_rows_dropped_and_counted(titanic: pd.DataFrame) -> None:
    frame = titanic.copy()
    frame.loc[[0, 5, 77], "survived"] = np.nan
    checked = check_target(frame, "survived", classification=True)
    assert checked.problems == ()
    assert checked.notes == ("dropped 3 rows whose target 'survived' is missing",)
    assert len(checked.keep) == len(frame) - 3 and 5 not in checked.keep


def _with_rare(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[[1, 2], "species"] = "Rare"
    frame.loc[[3], "species"] = "Unique"
    return frame


def test_rare_classes_each_reported(frame) -> None:
    data = _with_rare(frame("penguins"))
    problems = check_target(data, "species", classification=True).problems
    assert [p.code for p in problems] == ["target.rare_class", "target.rare_class"]
    text = " ".join(str(p) for p in problems)
    assert "'Rare' has 2 row(s)" in text and "'Unique' has 1 row(s)" in text
    assert f"at least {MIN_ROWS_PER_CLASS}" in text and "--force" in text


def test_rare_classes_dropped_with_force(frame) -> None:
    data = _with_rare(frame("penguins"))
    checked = check_target(data, "species", classification=True, force=True)
    assert checked.problems == ()
    assert len(checked.keep) == len(data) - 3
    assert "dropped 3 rows of classes too rare" in checked.notes[0]


def test_rare_check_skipped_for_numeric_target_when_unknown(frame) -> None:
    data = frame("diabetes")
    assert check_target(data, "progression", classification=None).problems == ()


def test_check_columns_names_purpose_and_fix(titanic: pd.DataFrame) -> None:
    problems = check_columns(titanic, {"group": "pclas", "time": None, "id": "sex"})
    (problem,) = problems
    assert problem.column == "pclas" and "group" in problem.message and "'pclass'" in (problem.fix or "")
