"""Curves for any number of classes (digits: 10 classes -> the 8 most frequent plus micro and macro averages),
residuals against the most important features (vega_cars), and the bootstrap interval of a test score."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.image import imread
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests.conftest import dataset_path
from trainwright.data import infer_task
from trainwright.evaluation.importance import Importance
from trainwright.evaluation.report_parts import (
    bootstrap_interval,
    classification_curves,
    residuals_by_feature,
)
from trainwright.reporting.plots import draw


def _digits_proba() -> tuple[np.ndarray, np.ndarray, object]:
    frame = pd.read_csv(dataset_path("digits"))
    task = infer_task(frame["digit"])
    y = task.encode(frame["digit"])
    X = frame.drop(columns=["digit"]).to_numpy() / 16
    model = LogisticRegression(max_iter=300).fit(X[::2], y[::2])
    return y[1::2], model.predict_proba(X[1::2]), task


def test_ten_classes_get_eight_curves_and_both_averages_drawn():
    y, proba, task = _digits_proba()
    curves = classification_curves(y, proba, task)
    names = list(curves["curves"])
    assert len(names) == 10 and names[-2:] == ["micro average", "macro average"]
    assert "8 most frequent of 10 classes" in curves["note"]
    macro = curves["curves"]["macro average"]
    assert 0.9 < macro["roc"]["auc"] <= 1 and 0.8 < macro["pr"]["average_precision"] <= 1
    for kind in ("roc", "pr", "calibration"):
        png = draw(kind, {"curves": {k: v[kind] for k, v in curves["curves"].items()}})
        assert imread(io.BytesIO(png)).shape[1] > 400


def test_residuals_against_the_most_important_features():
    cars = pd.read_csv(dataset_path("vega_cars")).dropna()
    X, y = cars[["Weight_in_lbs", "Horsepower", "Cylinders"]], cars["Miles_per_Gallon"].to_numpy()
    pred = LinearRegression().fit(X, y).predict(X)
    importance = (Importance("permutation", ("Origin", "Weight_in_lbs", "Cylinders"), (0.3, 0.2, 0.1)),)
    X_all = cars[["Origin", "Weight_in_lbs", "Horsepower", "Cylinders"]]
    data = residuals_by_feature(y, pred, X_all, importance)
    assert [p["feature"] for p in data["panels"]] == ["Origin", "Weight_in_lbs", "Cylinders"]
    assert [p["kind"] for p in data["panels"]] == ["categorical", "numeric", "categorical"]
    assert imread(io.BytesIO(draw("residuals_by_feature", data))).shape[1] > 800
    assert residuals_by_feature(y, pred, X_all, ()) is None


def test_bootstrap_interval_brackets_the_score_and_shrinks_with_rows():
    y, proba, task = _digits_proba()
    small = bootstrap_interval(y[:200], proba[:200], task)
    large = bootstrap_interval(y, proba, task)
    assert small["metric"] == task.metric and small["low"] < small["high"]
    assert large["high"] - large["low"] < small["high"] - small["low"]
    assert bootstrap_interval(y[:5], proba[:5], task) is None
