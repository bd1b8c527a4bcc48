"""Split: exact fractions, stratified, grouped, by time, twins kept together, fingerprint, contamination."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import Split, choice_folds, make_split, row_hashes, rows_of, subsample_plan


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return pd.read_csv(dataset_path("credit_data"))


def _Xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=[target]), frame[target]


def _parts(split: Split) -> list[np.ndarray]:
    return [split.train, split.validation, split.test]


def _check_partition(split: Split, index: pd.Index) -> None:
    everything = np.concatenate(_parts(split))
    assert len(everything) == len(index) == len(np.unique(everything))
    assert set(everything) == set(index)


@pytest.mark.parametrize("name, target, classification", [
    ("credit_data", "Status", True), ("penguins", "species", True), ("diabetes", "progression", False),
])
def test_fractions_70_15_15_within_two_rows(name: str, target: str, classification: bool) -> None:
    frame = pd.read_csv(dataset_path(name))
    X, y = _Xy(frame, target)
    split = make_split(X, y, classification=classification, random_state=1)
    _check_partition(split, X.index)
    n = len(frame)
    for part, share in zip(_parts(split), (0.70, 0.15, 0.15), strict=True):
        assert abs(len(part) - share * n) <= 2, (len(part), share * n)
    assert split.sizes == {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)}


def test_other_fractions(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    split = make_split(X, y, classification=True, fractions=(0.8, 0.1, 0.1))
    n = len(credit)
    assert abs(len(split.test) - 0.1 * n) <= 2 and abs(len(split.validation) - 0.1 * n) <= 2


def test_stratified_class_shares(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    split = make_split(X, y, classification=True, random_state=3)
    assert split.strategy == "stratified"
    overall = (y == "bad").mean()
    for part in _parts(split):
        share = (y.loc[part] == "bad").mean()
        assert abs(share - overall) < 0.01, (share, overall)


def test_rare_class_appears_in_every_part() -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    X, y = _Xy(frame, "species")
    split = make_split(X, y, classification=True)
    for part in _parts(split):
        assert set(y.loc[part]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_regression_quantile_strata() -> None:
    frame = pd.read_csv(dataset_path("diabetes"))
    X, y = _Xy(frame, "progression")
    split = make_split(X, y, classification=False)
    assert split.strategy == "stratified-quantiles"
    quintile = pd.qcut(y.rank(method="first"), 5, labels=False)
    for part, share in zip(_parts(split), (0.70, 0.15, 0.15), strict=True):
        counts = quintile.loc[part].value_counts()
        expected = quintile.value_counts() * share
        assert ((counts - expected).abs() <= 2).all(), (counts, expected)  # every fifth of y in every part


def test_twins_never_split_across_parts(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    X = X.copy()
    rng = np.random.default_rng(0)
    sources = rng.choice(len(X), 200, replace=False)
    targets = rng.choice(np.setdiff1d(np.arange(len(X)), sources), 200, replace=False)
    X.iloc[targets] = X.iloc[sources].to_numpy()  # plant 200 twins (some as triplets of existing duplicates)
    split = make_split(X, y, classification=True, random_state=0)
    part_of = pd.Series(0, index=X.index)
    part_of.loc[split.validation], part_of.loc[split.test] = 1, 2
    hashes = pd.Series(row_hashes(X), index=X.index)
    parts_per_hash = part_of.groupby(hashes).nunique()
    assert (parts_per_hash == 1).all()
    assert split.n_rows_with_twins >= 200
    assert split.contamination["test_rows_with_twin_in_train"] == 0
    assert split.contamination["validation_rows_with_twin_in_train"] == 0
    n = len(X)
    assert abs(len(split.test) - 0.15 * n) <= 0.01 * n  # still close to the goal


def test_grouped_no_group_in_two_parts(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    groups = pd.Series(np.arange(len(X)) // 7, index=X.index)  # ~640 groups of 7 rows
    split = make_split(X, y, classification=True, groups=groups, random_state=0)
    assert split.strategy == "grouped"
    sets = [set(groups.loc[p]) for p in _parts(split)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert split.contamination["groups_shared_train_test"] == 0
    assert abs(len(split.test) - 0.15 * len(X)) <= 14


def test_time_split_test_is_latest(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    rng = np.random.default_rng(0)
    when = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.permutation(len(X)), unit="h"), index=X.index)
    split = make_split(X, y, classification=True, time=when.dt.strftime("%Y-%m-%d %H:%M"))
    assert split.strategy == "time"
    assert when.loc[split.train].max() < when.loc[split.validation].min()
    assert when.loc[split.validation].max() < when.loc[split.test].min()
    assert abs(len(split.test) - 0.15 * len(X)) <= 1


def test_fingerprint_stable_for_seed_and_changes_with_seed(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    a = make_split(X, y, classification=True, random_state=5)
    b = make_split(X, y, classification=True, random_state=5)
    c = make_split(X, y, classification=True, random_state=6)
    assert a.fingerprint == b.fingerprint and all(np.array_equal(p, q) for p, q in zip(_parts(a), _parts(b), strict=True))
    assert c.fingerprint != a.fingerprint and not np.array_equal(a.test, c.test)


def test_row_ids_are_index_labels(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    X2, y2 = X.iloc[::2], y.iloc[::2]  # index labels 0, 2, 4, ...
    split = make_split(X2, y2, classification=True)
    assert all(v % 2 == 0 for v in np.concatenate(_parts(split)))
    manifest = split.manifest()
    assert manifest["rows"]["test"] == split.test.tolist() and manifest["fingerprint"] == split.fingerprint


def test_identifier_contamination_counted() -> None:
    X = pd.DataFrame({"a": np.arange(300, dtype=float)})
    y = pd.Series(np.arange(300) % 2)
    ids = pd.DataFrame({"customer": np.arange(300) % 50})  # each customer on 6 rows, shared across parts
    split = make_split(X, y, classification=True, identifiers=ids)
    shared = split.contamination["identifier_customer_shared_train_test"]
    expected = len(np.intersect1d(ids["customer"].loc[split.train], ids["customer"].loc[split.test]))
    assert shared == expected > 0


def test_too_few_rows_is_a_data_error() -> None:
    from trainwright.exceptions import DataError

    X = pd.DataFrame({"a": [1.0, 1.0, 1.0, 1.0]})  # all twins: one component cannot fill three parts
    with pytest.raises(DataError) as info:
        make_split(X, pd.Series([0, 1, 0, 1]), classification=True)
    assert info.value.problems[0].code == "split.empty_part"


def test_choice_folds_keep_twins_together(credit: pd.DataFrame) -> None:
    X, y = _Xy(credit, "Status")
    X = X.copy()
    X.iloc[1000:1100] = X.iloc[:100].to_numpy()
    split = make_split(X, y, classification=True)
    rows = np.concatenate([split.train, split.validation])
    Xtv, ytv = X.loc[rows], y.loc[rows].reset_index(drop=True)
    plan = choice_folds(split, Xtv.index, ytv, n_folds=3, classification=True)
    assert len(plan) == 3 and plan.kind == "stratified-grouped" and plan.covers_all_rows
    folds = [(f.fit, f.held_out) for f in plan.folds]
    hashes = row_hashes(Xtv)
    for train_pos, test_pos in folds:
        assert not np.intersect1d(hashes[train_pos], hashes[test_pos]).size
        assert len(np.intersect1d(train_pos, test_pos)) == 0
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(rows)))


def test_choice_folds_by_time_are_forward() -> None:
    frame = pd.read_csv(dataset_path("diabetes"))
    X, y = _Xy(frame, "progression")
    split = make_split(X, y, classification=False, time=pd.Series(pd.date_range("2020", periods=len(X)), index=X.index))
    rows = np.concatenate([split.train, split.validation])
    plan = choice_folds(split, X.loc[rows].index, y.loc[rows], n_folds=3, classification=False)
    assert plan.kind == "time" and not plan.covers_all_rows  # the first rows are never held out
    for fold in plan.folds:
        assert fold.fit.max() < fold.held_out.min()


def test_subsample_plan_grows_per_class_and_scores_the_same_rows() -> None:
    y = np.array([0] * 40 + [1] * 10)
    plan = subsample_plan(y, 20, (0.1, 0.5, 1.0), classification=True, seed=0)
    sizes = [len(f.fit) for f in plan.folds]
    assert sizes == [4 + 2, 20 + 5, 50] and plan.n_rows == 70
    assert all(np.array_equal(f.held_out, np.arange(50, 70)) for f in plan.folds)
    assert all(set(y[f.fit]) == {0, 1} for f in plan.folds)  # at least two rows of each class


def test_rows_of_shares_a_contiguous_run_and_copies_otherwise() -> None:
    X = pd.DataFrame({"a": np.arange(10.0), "b": pd.Categorical(list("xyxyxyxyxy"))}, index=np.arange(100, 110))
    run, pos = rows_of(X, np.array([103, 104, 105]))
    assert pos.tolist() == [3, 4, 5] and run.index.tolist() == [103, 104, 105]
    assert np.shares_memory(run["a"].to_numpy(), X["a"].to_numpy())  # a slice: no copy
    picked, pos = rows_of(X, np.array([105, 101]))
    assert pos.tolist() == [5, 1] and picked["a"].tolist() == [5.0, 1.0]  # any order, by label
    assert not np.shares_memory(picked["a"].to_numpy(), X["a"].to_numpy())
    with pytest.raises(KeyError, match="1 row labels are not in the frame"):
        rows_of(X, np.array([101, 7]))
