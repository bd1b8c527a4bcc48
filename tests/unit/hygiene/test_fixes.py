"""The cautious cleaner: chance twins stay, real duplicates go with their row numbers and reason, many removals need
an explicit flag, infinite values are found and made missing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.exceptions import DataError
from trainwright.hygiene import apply_fixes, audit_frame
from trainwright.hygiene.fixes import MAX_DROP_SHARE


def test_titanic_fix_drops_no_passenger(tmp_path):
    frame = pd.read_csv(dataset_path("titanic"))
    path = tmp_path / "titanic.csv"
    frame.to_csv(path, index=False)
    result = apply_fixes(path, frame, audit_frame(frame, "survived", label_noise=False))
    assert result.n_rows_after == len(frame) == len(pd.read_csv(result.cleaned))
    assert not [c for c in result.changes if c["action"] == "drop_rows"]


def test_every_removed_row_is_listed_and_many_need_the_flag(tmp_path):
    credit = pd.read_csv(dataset_path("credit_data"))
    path = tmp_path / "credit.csv"
    few = pd.concat([credit, credit.iloc[[10, 20, 30]]], ignore_index=True)
    result = apply_fixes(path, few, audit_frame(few, "Status", label_noise=False))
    drop = next(c for c in result.changes if c["action"] == "drop_rows")
    removed = {d["row"]: d for d in drop["removed"]}
    assert {len(credit), len(credit) + 1, len(credit) + 2} <= set(removed)
    assert removed[len(credit)]["copy_of"] == 10 and "beyond chance" in removed[len(credit)]["reason"]
    assert result.n_rows_removed == len(removed) == drop["n_rows"]
    record = json.loads(result.changes_file.read_text())
    assert record["rows_removed"] == len(removed) and record["changes"][0]["rows"] == sorted(removed)

    many = pd.concat([credit, credit.sample(int(0.06 * len(credit)), random_state=0)], ignore_index=True)
    report = audit_frame(many, "Status", label_noise=False)
    path = tmp_path / "many.csv"
    with pytest.raises(DataError, match="--allow-drop-rows") as caught:
        apply_fixes(path, many, report)
    assert caught.value.exit_code == 2 and not path.with_name("many.clean.csv").exists()
    result = apply_fixes(path, many, report, allow_drop_rows=True)
    assert result.n_rows_removed > MAX_DROP_SHARE * len(many)


def test_infinite_values_are_reported_like_missing_ones_and_made_missing(tmp_path):
    cars = pd.read_csv(dataset_path("vega_cars"))
    cars.loc[[3, 7], "Horsepower"] = np.inf
    cars.loc[11, "Displacement"] = -np.inf
    report = audit_frame(cars, "Miles_per_Gallon", label_noise=False)
    found = report.by_code("column.infinite")
    assert found and set(found[0].columns) == {"Horsepower", "Displacement"} and set(found[0].rows) == {3, 7, 11}
    path = tmp_path / "cars.csv"
    cars.to_csv(path, index=False)
    result = apply_fixes(path, pd.read_csv(path), report)
    cleaned = pd.read_csv(result.cleaned)
    assert not np.isinf(cleaned.select_dtypes("number").to_numpy()).any()
    assert cleaned.loc[[3, 7], "Horsepower"].isna().all()
    change = next(c for c in result.changes if c.get("column") == "Horsepower")
    assert change["action"] == "infinite_to_missing" and change["rows"] == [3, 7]
