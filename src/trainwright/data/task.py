"""The problem: what kind of prediction, which labels, which metric to choose by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from trainwright.exceptions import DataError, Problem

__all__ = ["DEFAULT_METRIC", "MAX_CLASSES_FOR_INTEGER_TARGET", "Task", "TaskKind", "infer_task"]

MAX_CLASSES_FOR_INTEGER_TARGET = 10
_POSITIVE_NAMES = ("1", "true", "yes", "y", "positive", "pos", "bad", "fraud", "churn", "default", "survived", "malignant", "m")


class TaskKind(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


DEFAULT_METRIC = {TaskKind.BINARY: "roc_auc", TaskKind.MULTICLASS: "log_loss", TaskKind.REGRESSION: "rmse"}


@dataclass(frozen=True)
class Task:
    """What is predicted and how success is measured."""

    kind: TaskKind
    target: str
    metric: str
    classes: tuple[Any, ...] = ()
    positive_label: Any = None
    beta: float = 1.0
    reason: str = ""
    threshold: float = 0.5  # binary: the positive class where its probability is at least this (tuned for some metrics)
    costs: tuple[tuple[str, float], ...] = ()  # the cost metric's matrix: (tp|fp|fn|tn, cost) pairs; unset ones cost 0

    @property
    def is_classification(self) -> bool:
        return self.kind is not TaskKind.REGRESSION

    def encode(self, y: pd.Series) -> np.ndarray:
        """Class labels to codes 0..K-1 (regression: floats). Unknown labels raise DataError naming them."""
        if not self.is_classification:
            return pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        codes = pd.Index(self.classes).get_indexer(_align(y, self.classes))
        if (codes < 0).any():
            unknown = pd.Series(y[codes < 0]).astype(str).unique()[:5]
            raise DataError("labels the model has never seen", [Problem(
                "task.unknown_label", f"{int((codes < 0).sum())} rows have labels outside {list(self.classes)}",
                column=self.target, examples=tuple(unknown), fix="score only rows with known classes")])
        return codes

    def decide(self, proba: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Class codes from probabilities (n, K) in class-code order: the one decision rule of the workbench.
        Binary: the positive class where its probability is at least ``threshold`` (default: the task's own,
        0.5 unless tuned); otherwise the most probable class."""
        proba = np.asarray(proba)
        if self.kind is TaskKind.BINARY:
            pos = self.classes.index(self.positive_label)
            cut = self.threshold if threshold is None else threshold
            return np.where(proba[:, pos] >= cut, pos, 1 - pos)
        return np.argmax(proba, axis=1)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=int)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "target": self.target, "metric": self.metric, "classes": list(self.classes),
            "positive_label": self.positive_label, "beta": self.beta, "reason": self.reason,
            "threshold": self.threshold, "costs": dict(self.costs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return cls(kind=TaskKind(data["kind"]), target=data["target"], metric=data["metric"],
                   classes=tuple(data["classes"]), positive_label=data["positive_label"], beta=data["beta"],
                   reason=data.get("reason", ""), threshold=float(data.get("threshold", 0.5)),
                   costs=tuple(sorted((str(k), float(v)) for k, v in (data.get("costs") or {}).items())))


def _align(y: pd.Series, classes: tuple[Any, ...]) -> pd.Series:
    """Labels in the classes' own type: whole numbers as int, the rest as str (bool stays bool)."""
    y = pd.Series(y)
    if classes and all(isinstance(c, bool) for c in classes):
        return y.map(lambda v: v if isinstance(v, bool) else str(v).strip().lower() in {"true", "1"})
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        numbers = pd.to_numeric(y, errors="coerce")
        numbers = numbers.where(numbers.abs() < 2**53)  # inf and huge values are no class (and no int64)
        return numbers.round().astype("Int64").astype(object)
    if classes and all(isinstance(c, float) for c in classes):
        return pd.to_numeric(y, errors="coerce")
    return y.astype(str)


def _native(values: np.ndarray) -> tuple[Any, ...]:
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def _positive(classes: tuple[Any, ...], counts: pd.Series, requested: str | None) -> Any:
    if requested is not None:
        for c in classes:
            if str(c) == str(requested):
                return c
        raise DataError("positive label not found", [Problem(
            "task.bad_positive_label", f"'{requested}' is not one of the classes {list(classes)}",
            fix="pass one of the classes to --positive-label")])
    for name in _POSITIVE_NAMES:
        for c in classes:
            if str(c).strip().lower() == name:
                return c
    return counts.idxmin() if counts.nunique() > 1 else classes[-1]


def infer_task(y: pd.Series, *, kind: str = "auto", metric: str | None = None, positive_label: str | None = None,
               beta: float = 1.0, costs: Mapping[Any, float] | None = None) -> Task:
    """Decide binary / multiclass / regression by a stated rule (``reason`` says which applied).

    Rule: a non-numeric target is classification (2 classes: binary). A numeric target whose values are all
    whole numbers is binary with 2 values, multiclass with 3..10 values, else regression; any other numeric
    target is regression. ``kind`` forces the answer.
    """
    y = y.dropna()
    target = str(y.name)
    n_unique = int(y.nunique())
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    as_float = y.to_numpy(dtype=float) if numeric else np.empty(0)
    integer_valued = numeric and bool(np.all(np.mod(as_float, 1) == 0)) and bool(np.all(np.abs(as_float) < 2**53))
    if kind != "auto":
        chosen = TaskKind(kind)
        reason = f"set by user (--task {kind})"
        if chosen is TaskKind.REGRESSION and not numeric:
            raise DataError("cannot run regression on this target", [Problem(
                "task.non_numeric_target", "regression needs a numeric target", column=target,
                examples=tuple(str(v) for v in y.unique()[:3]), fix="choose --task binary or multiclass")])
    elif not numeric:
        chosen = TaskKind.BINARY if n_unique == 2 else TaskKind.MULTICLASS
        reason = f"non-numeric target with {n_unique} classes"
    elif integer_valued and n_unique == 2:
        chosen, reason = TaskKind.BINARY, "numeric target with exactly 2 values"
    elif integer_valued and n_unique <= MAX_CLASSES_FOR_INTEGER_TARGET:
        chosen = TaskKind.MULTICLASS
        reason = (f"whole-number target with {n_unique} values (<= {MAX_CLASSES_FOR_INTEGER_TARGET}) is treated as "
                  "classes; ambiguous: pass --task regression if the values are amounts")
    else:
        chosen = TaskKind.REGRESSION
        reason = "numeric target with many values" if integer_valued else "numeric target with fractional values"
    if chosen is TaskKind.BINARY and n_unique != 2:
        raise DataError("binary task needs exactly 2 classes", [Problem(
            "task.not_binary", f"the target has {n_unique} classes", column=target, fix="use --task multiclass")])
    classes: tuple[Any, ...] = ()
    positive = None
    if chosen is not TaskKind.REGRESSION:
        if integer_valued:
            classes = tuple(int(v) for v in np.sort(y.unique()))
        elif numeric or pd.api.types.is_bool_dtype(y):
            classes = _native(np.sort(y.unique()))
        else:
            classes = tuple(sorted(y.astype(str).unique()))
        if chosen is TaskKind.BINARY:
            positive = _positive(classes, y.value_counts(), positive_label)
            positive = positive.item() if isinstance(positive, np.generic) else positive
    if costs and metric is None and chosen is TaskKind.BINARY:
        metric = "cost"  # a cost matrix means: choose by expected cost
    return Task(kind=chosen, target=target, metric=metric or DEFAULT_METRIC[chosen], classes=classes,
                positive_label=positive, beta=beta, reason=reason,
                costs=tuple(sorted((str(k), float(v)) for k, v in (costs or {}).items())))
