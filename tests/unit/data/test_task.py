"""Task inference by a stated rule; forced kinds; default metrics; positive label; label encoding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import DEFAULT_METRIC, Task, TaskKind, infer_task
from trainwright.data.task import MAX_CLASSES_FOR_INTEGER_TARGET
from trainwright.exceptions import DataError


def _y(values: list[object], name: str = "y") -> pd.Series:
    return pd.Series(values, name=name)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", "b", "a", "b"], TaskKind.BINARY),
        (["a", "b", "c", "a"], TaskKind.MULTICLASS),
        ([0, 1, 1, 0, 1], TaskKind.BINARY),
        ([True, False, True], TaskKind.BINARY),
        ([1.0, 2.0, 3.0, 2.0], TaskKind.MULTICLASS),  # whole numbers stored as floats
        (list(range(10)) * 2, TaskKind.MULTICLASS),  # exactly 10 distinct whole numbers: classes
        (list(range(11)) * 2, TaskKind.REGRESSION),  # 11: amounts
        ([0.5, 1.5, 2.5, 0.5], TaskKind.REGRESSION),  # fractional values
        ([1, 2, np.nan, 1, 3], TaskKind.MULTICLASS),  # missing values are ignored by the rule
    ],
)
def test_inference_rule(values: list[object], kind: TaskKind) -> None:
    task = infer_task(_y(values))
    assert task.kind is kind
    assert task.metric == DEFAULT_METRIC[kind]
    assert task.reason


def test_threshold_is_ten() -> None:
    assert MAX_CLASSES_FOR_INTEGER_TARGET == 10
    task = infer_task(_y([1, 2, 3, 4, 1]))
    assert "ambiguous" in task.reason and "--task regression" in task.reason


def test_default_metrics() -> None:
    assert DEFAULT_METRIC == {TaskKind.BINARY: "roc_auc", TaskKind.MULTICLASS: "log_loss", TaskKind.REGRESSION: "rmse"}


@pytest.mark.parametrize(
    ("name", "target", "kind", "classes"),
    [
        ("titanic", "survived", TaskKind.BINARY, ("died", "survived")),
        ("credit_data", "Status", TaskKind.BINARY, ("bad", "good")),
        ("penguins", "species", TaskKind.MULTICLASS, ("Adelie", "Chinstrap", "Gentoo")),
        ("diabetes", "progression", TaskKind.REGRESSION, ()),
        ("wine", "cultivar", TaskKind.MULTICLASS, None),
    ],
)
def test_real_targets(name: str, target: str, kind: TaskKind, classes: tuple[str, ...] | None) -> None:
    y = pd.read_csv(dataset_path(name))[target]
    task = infer_task(y)
    assert task.kind is kind and task.target == target
    if classes is not None:
        assert task.classes == classes


def test_forced_task_overrides_rule() -> None:
    y = _y([1, 2, 3, 4, 2, 3])
    assert infer_task(y).kind is TaskKind.MULTICLASS
    forced = infer_task(y, kind="regression")
    assert forced.kind is TaskKind.REGRESSION and forced.metric == "rmse"
    assert "set by user" in forced.reason
    assert infer_task(_y([0.5, 1.5, 2.5]), kind="multiclass").kind is TaskKind.MULTICLASS


def test_forced_regression_on_text_refused() -> None:
    with pytest.raises(DataError) as info:
        infer_task(_y(["a", "b", "c"]), kind="regression")
    assert info.value.problems[0].column == "y" and info.value.problems[0].fix


def test_forced_binary_with_three_classes_refused() -> None:
    with pytest.raises(DataError, match="exactly 2"):
        infer_task(_y(["a", "b", "c"]), kind="binary")


def test_user_metric_kept() -> None:
    assert infer_task(_y(["a", "b"] * 3), metric="fbeta", beta=2.0).metric == "fbeta"


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        (["no", "yes", "no"], "yes"),
        (["died", "survived"], "survived"),
        ([0, 1, 0], 1),
        ([True, False], True),
        (["good", "bad", "good"], "bad"),
        (["cat", "cat", "cat", "dog"], "dog"),  # no known name: the minority class
    ],
)
def test_positive_label_guess(values: list[object], positive: object) -> None:
    assert infer_task(_y(values)).positive_label == positive


def test_positive_label_requested_and_refused() -> None:
    assert infer_task(_y(["a", "b", "a"]), positive_label="a").positive_label == "a"
    assert infer_task(_y([0, 1, 0]), positive_label="0").positive_label == 0  # matched by text, kept as int
    with pytest.raises(DataError) as info:
        infer_task(_y(["a", "b"]), positive_label="c")
    assert "'c'" in info.value.problems[0].message


def test_encode_decode_round_trip() -> None:
    y = pd.read_csv(dataset_path("penguins"))["species"]
    task = infer_task(y)
    codes = task.encode(y)
    assert codes.min() == 0 and codes.max() == 2
    assert list(task.decode(codes)) == y.tolist()


def test_encode_aligns_types_and_refuses_unknown_labels() -> None:
    task = infer_task(_y([1, 2, 3, 1]))
    np.testing.assert_array_equal(task.encode(_y(["1", "2.0", 3])), [0, 1, 2])
    with pytest.raises(DataError) as info:
        task.encode(_y([1, 7, 9]))
    assert info.value.problems[0].code == "task.unknown_label"
    assert set(info.value.problems[0].examples) == {"7", "9"}


def test_task_round_trips_through_dict() -> None:
    for values in (["x", "y", "x"], [0, 1, 1], [0.5, 1.5, 3.0], [True, False, True]):
        task = infer_task(_y(values))
        assert Task.from_dict(json.loads(json.dumps(task.to_dict()))) == task  # as the bundle stores it
