"""Identical rows vs chance (titanic: different passengers; credit_data with copied rows: real duplicates), and the
split's check that every part looks like the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import make_split
from trainwright.data.balance import part_balance
from trainwright.data.collisions import identical_rows


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    return pd.read_csv(dataset_path("titanic"))


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return pd.read_csv(dataset_path("credit_data"))


def test_titanic_identical_rows_are_expected_by_chance(titanic):
    found = identical_rows(titanic.drop(columns=["survived"]))
    assert found.n_identical > 800 and found.n_expected > 0.7 * found.n_identical
    assert found.verdict == "expected by chance" and found.n_duplicate == 0 and not found.drop_mask().any()


def test_copied_rows_are_duplicates_even_among_chance_collisions(titanic, credit):
    copies = credit.sample(40, random_state=0)
    found = identical_rows(pd.concat([credit, copies], ignore_index=True))
    assert found.verdict == "duplicates" and found.n_extra_copies == 40 + 2  # the file's own 2 plus the 40 copied
    # titanic with one informative column (a fare-like number): copies of rows stand out, chance twins do not occur
    rng = np.random.default_rng(0)
    rich = titanic.assign(fare=rng.lognormal(3, 1, len(titanic)).round(4))
    rich = pd.concat([rich, rich.sample(30, random_state=1)], ignore_index=True)
    found = identical_rows(rich)
    assert found.n_extra_copies == 30 and found.n_identical == 60


def _by_part(frame: pd.DataFrame, split) -> dict[str, pd.DataFrame]:
    return {k: frame.loc[getattr(split, k)] for k in ("train", "validation", "test")}


def test_titanic_split_is_representative_and_says_so(titanic):
    """Before: every group of identical rows went to one part (test: 55 distinct rows, age missing in 62% of test rows
    against 11% in train). Now chance twins are split like any row."""
    X, y = titanic.drop(columns=["survived"]), titanic["survived"]
    split = make_split(X, y, classification=True, random_state=0)
    parts = _by_part(titanic, split)
    assert len(parts["test"].drop(columns=["survived"]).drop_duplicates()) > 120
    assert abs(parts["test"]["age"].isna().mean() - parts["train"]["age"].isna().mean()) < 0.05
    manifest = split.manifest()
    assert manifest["achieved"]["stratified"] is True and manifest["achieved"]["warnings"] == []
    assert manifest["identical_rows"]["verdict"] == "expected by chance" and split.n_rows_with_twins == 0
    assert "largest share difference" in manifest["achieved"]["largest_gap"] or "KS" in manifest["achieved"]["largest_gap"]


def test_forced_grouping_of_identical_rows_is_caught_by_the_balance_check(titanic):
    """What the old split did (identical rows as groups) makes a test part unlike the file: the check warns with the
    column, and the manifest does not claim more than it achieved."""
    X, y = titanic.drop(columns=["survived"]), titanic["survived"]
    groups = pd.Series(pd.util.hash_pandas_object(X, index=False).to_numpy(), index=X.index)
    split = make_split(X, y, classification=True, random_state=0, groups=groups)
    warnings = split.achieved["warnings"]
    assert any("'age' missing rate" in w for w in warnings), warnings
    assert split.balance["largest_gap"]["gap"] > 0.2


def test_real_duplicates_stay_together_and_the_split_stays_stratified(credit):
    frame = pd.concat([credit, credit.sample(60, random_state=3)], ignore_index=True)
    X, y = frame.drop(columns=["Status"]), frame["Status"]
    split = make_split(X, y, classification=True, random_state=0)
    assert split.contamination["test_rows_with_twin_in_train"] == 0 and split.n_rows_with_twins >= 120
    assert split.achieved["stratified"] is True
    for part in ("train", "validation", "test"):
        share = (y.loc[getattr(split, part)] == "bad").mean()
        assert abs(share - (y == "bad").mean()) < 0.01


def test_balance_check_on_a_regression_target_flags_a_skewed_part():
    frame = pd.read_csv(dataset_path("vega_cars"))
    y = frame.pop("Miles_per_Gallon")
    order = y.sort_values().index.to_numpy()
    parts = {"train": order[:300], "test": order[300:]}  # the best cars only in test
    result = part_balance(frame, y, parts, classification=False)
    assert result["stratified"] is False
    assert any("Miles_per_Gallon" in w and "distribution" in w for w in result["warnings"])
