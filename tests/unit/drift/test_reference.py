"""The reference profile: quantile bins, frequencies, missing rates, prediction distribution; plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainwright.data import Role, Task, TaskKind, coerce_frame, infer_schema
from trainwright.drift import PREDICTION, SAMPLE_SIZE, ReferenceProfile, build_profile, numeric_values


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(10, 2, n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "x": x,
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "when": pd.date_range("2020-01-01", periods=n, freq="h").astype(str),
        "y": rng.integers(0, 2, n),
    })


def test_numeric_bins_are_training_quantiles(table):
    schema = infer_schema(table, "y")
    X = coerce_frame(table, schema)
    profile = build_profile(X, schema)
    x = profile.column("x")
    present = table["x"].dropna().to_numpy()
    np.testing.assert_allclose(x.edges, np.quantile(present, np.linspace(0, 1, 11)[1:-1]))
    assert sum(x.fractions) == pytest.approx(1.0)
    assert all(f == pytest.approx(0.1, abs=0.002) for f in x.fractions)
    assert x.missing_rate == pytest.approx(table["x"].isna().mean())
    assert x.stats["mean"] == pytest.approx(np.mean(present))
    assert len(x.sample) == SAMPLE_SIZE and set(x.sample) <= set(present)


def test_categorical_frequencies_and_dates(table):
    schema = infer_schema(table, "y")
    assert schema.column("when").role is Role.DATETIME
    profile = build_profile(coerce_frame(table, schema), schema)
    expected = table["color"].value_counts(normalize=True).to_dict()
    assert dict(profile.column("color").categories) == pytest.approx(expected)
    when = profile.column("when")
    assert when.kind == "numeric"
    assert when.stats["min"] == pytest.approx((pd.Timestamp("2020-01-01") - pd.Timestamp("1970-01-01")).days)


def test_json_round_trip_and_seeded(table):
    schema = infer_schema(table, "y")
    X = coerce_frame(table, schema)
    task = Task(TaskKind.BINARY, "y", "roc_auc", (0, 1), 1)
    pred = np.column_stack([np.linspace(0, 1, len(X))[::-1], np.linspace(0, 1, len(X))])
    profile = build_profile(X, schema, task, pred, random_state=3)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert ReferenceProfile.from_dict(json.loads(text)) == profile
    assert build_profile(X, schema, task, pred, random_state=3) == profile
    assert profile.prediction.name == PREDICTION and profile.prediction.kind == "numeric"
    assert profile.prediction.stats["mean"] == pytest.approx(0.5)


def test_prediction_profile_by_task():
    X = pd.DataFrame({"a": np.arange(6.0)})
    schema = infer_schema(X.assign(t=[0, 1, 2] * 2), "t")
    multi = Task(TaskKind.MULTICLASS, "t", "log_loss", ("a", "b", "c"))
    proba = np.eye(3)[[0, 1, 2, 2, 2, 0]]
    assert dict(build_profile(X, schema, multi, proba).prediction.categories) == pytest.approx(
        {"c": 0.5, "a": 1 / 3, "b": 1 / 6})
    reg = Task(TaskKind.REGRESSION, "t", "rmse")
    assert build_profile(X, schema, reg, np.arange(6.0)).prediction.stats["max"] == 5.0


def test_text_length_counts_words():
    values = numeric_values(pd.Series(["a b c", None, "", "one"], dtype=object), Role.TEXT)
    np.testing.assert_array_equal(np.isnan(values), [False, True, True, False])
    assert values[0] == 3 and values[3] == 1
