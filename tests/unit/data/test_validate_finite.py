"""An infinite target value is bad input, refused at the door with the column and the first bad row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainwright.data import check_target


@pytest.mark.parametrize("classification", [False, None])
def test_infinite_regression_target_is_refused_naming_the_first_row(classification: bool | None) -> None:
    frame = pd.DataFrame({"x": np.arange(10.0), "y": np.linspace(0, 1, 10)})
    frame.loc[[4, 7], "y"] = [np.inf, -np.inf]
    (problem,) = check_target(frame, "y", classification=classification).problems
    assert problem.code == "target.not_finite" and problem.column == "y"
    assert "2 value(s) are infinite" in problem.message and "first at row 4" in problem.message
    assert problem.examples[:2] == ("row 4: inf", "row 7: -inf")


def test_finite_and_nullable_targets_pass() -> None:
    frame = pd.DataFrame({"y": pd.array([1.5, None, 2.5, 3.0], dtype="Float64")})
    checked = check_target(frame, "y", classification=False)
    assert checked.problems == () and len(checked.keep) == 3
    labels = pd.DataFrame({"y": ["a", "b", "a", "b", "a", "b"]})
    assert check_target(labels, "y", classification=True).problems == ()
