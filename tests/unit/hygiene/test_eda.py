"""Exploratory statistics checked against numpy/pandas computed directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainwright.data import infer_schema, infer_task
from trainwright.hygiene import profile_frame
from trainwright.hygiene.eda import MAX_PROFILED_COLUMNS


@pytest.fixture(scope="module")
def penguins():
    from tests.conftest import dataset_path

    df = pd.read_csv(dataset_path("penguins"))
    task, schema = infer_task(df["species"]), infer_schema(df, "species")
    return df, profile_frame(df, task, schema)


def test_numeric_histogram_and_stats_match_numpy(penguins):
    df, profile = penguins
    col = next(c for c in profile.columns if c.name == "bill_length_mm")
    values = df["bill_length_mm"].dropna().to_numpy()
    counts, edges = np.histogram(values, bins=20)
    assert list(col.counts) == counts.tolist() and np.allclose(col.edges, edges)
    assert col.stats["mean"] == pytest.approx(values.mean(), abs=1e-6)
    assert col.stats["median"] == pytest.approx(np.median(values), abs=1e-6)
    assert col.missing_fraction == pytest.approx(df["bill_length_mm"].isna().mean(), abs=1e-6)
    per_class = col.relation["counts"]
    assert sum(map(sum, per_class.values())) == len(values)  # every present value lands in its class's histogram


def test_categorical_relation_and_class_balance(penguins):
    df, profile = penguins
    island = next(c for c in profile.columns if c.name == "island")
    expected = df["island"].value_counts()
    assert dict(zip(island.top_values, island.counts, strict=True)) == expected.to_dict()
    shares = pd.crosstab(df["island"], df["species"], normalize="index")
    rel = island.relation
    got = pd.DataFrame(rel["shares"], index=rel["values"], columns=rel["classes"])
    assert np.allclose(got.loc[shares.index, shares.columns].to_numpy(), shares.to_numpy(), atol=1e-4)
    assert dict(profile.class_balance) == df["species"].value_counts().to_dict()


def test_correlation_matches_pandas_and_regression_target_histogram(frame):
    df = frame("diabetes")
    task, schema = infer_task(df["progression"]), infer_schema(df, "progression")
    profile = profile_frame(df, task, schema)
    names = list(profile.correlation_names)
    assert np.allclose(np.array(profile.correlation), df[names].corr().to_numpy(), atol=1e-4)
    assert sum(profile.target_counts) == len(df) and not profile.class_balance
    scatter = next(c for c in profile.columns if c.counts).relation
    assert scatter["kind"] == "scatter" and len(scatter["x"]) == len(scatter["y"]) == min(400, len(df))


def test_wide_tables_draw_at_most_the_limit(frame):
    df = frame("digits")
    task, schema = infer_task(df["digit"]), infer_schema(df, "digit")
    profile = profile_frame(df, task, schema)
    drawn = [c for c in profile.columns if c.counts]
    assert len(drawn) == MAX_PROFILED_COLUMNS and profile.n_not_profiled == len(schema.features) - MAX_PROFILED_COLUMNS
