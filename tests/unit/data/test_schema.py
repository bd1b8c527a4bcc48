"""Schema inference: one role per column by stated rules, user overrides, and coercion of new data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import Role, Schema, coerce_frame, infer_schema
from trainwright.exceptions import ConfigError, SchemaMismatchError

N = 60


def _constructed() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "tasty", "stale", "fresh", "cheap", "lovely", "awful", "great", "bland"]
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(N)],
        "row_number": np.arange(1, N + 1),
        "amount": rng.normal(100, 20, N).round(2),
        "count": rng.integers(0, 5, N),
        "colour": rng.choice(["red", "green", "blue"], N),
        "numbers_as_text": [str(v) for v in rng.integers(0, 1000, N)],
        "signup": pd.date_range("2024-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
        "signup_dt": pd.date_range("2024-01-01", periods=N, freq="h"),
        "comment": [" ".join(rng.choice(words, 6)) for _ in range(N)],
        "flag": rng.choice([True, False], N),
        "constant": ["same"] * N,
        "empty": [np.nan] * N,
        "y": rng.integers(0, 2, N),
    })


@pytest.fixture(scope="module")
def schema() -> Schema:
    return infer_schema(_constructed(), "y")


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("customer_id", Role.IDENTIFIER),
        ("row_number", Role.IDENTIFIER),
        ("amount", Role.NUMERIC),
        ("count", Role.NUMERIC),
        ("colour", Role.CATEGORICAL),
        ("numbers_as_text", Role.NUMERIC),
        ("signup", Role.DATETIME),
        ("signup_dt", Role.DATETIME),
        ("comment", Role.TEXT),
        ("flag", Role.NUMERIC),
        ("constant", Role.IGNORED),
        ("empty", Role.IGNORED),
    ],
)
def test_roles_on_constructed_frame(schema: Schema, column: str, role: Role) -> None:
    info = schema.column(column)
    assert info.role is role, info.reason
    assert info.reason


def test_target_excluded_and_features_in_file_order(schema: Schema) -> None:
    assert "y" not in [c.name for c in schema.columns]
    assert schema.features == ["amount", "count", "colour", "numbers_as_text", "signup", "signup_dt", "comment", "flag"]
    assert schema.column("empty").missing_fraction == 1.0
    assert schema.column("constant").reason.startswith("constant")


def test_integer_id_named_column_is_identifier_and_plain_unique_ints_are_not() -> None:
    frame = pd.DataFrame({"user_id": [7, 3, 99, 12, 5], "score": [7, 3, 99, 12, 5], "y": [0, 1, 0, 1, 0]})
    s = infer_schema(frame, "y")
    assert s.column("user_id").role is Role.IDENTIFIER
    assert s.column("score").role is Role.NUMERIC  # unique but not consecutive and not named like an id


def test_titanic_roles() -> None:
    s = infer_schema(pd.read_csv(dataset_path("titanic")), "survived")
    roles = {c.name: c.role for c in s.columns}
    assert roles == {"pclass": Role.CATEGORICAL, "sex": Role.CATEGORICAL, "age": Role.NUMERIC,
                     "sibsp": Role.NUMERIC, "parch": Role.NUMERIC}
    assert 0.15 < s.column("age").missing_fraction < 0.25  # ~20% missing age


def test_fine_foods_review_is_text() -> None:
    s = infer_schema(pd.read_csv(dataset_path("fine_foods")), "score")
    assert s.column("review").role is Role.TEXT
    assert s.features == ["review"]


def test_credit_data_mixed_roles() -> None:
    s = infer_schema(pd.read_csv(dataset_path("credit_data")), "Status")
    assert set(s.names(Role.CATEGORICAL)) == {"Home", "Marital", "Records", "Job"}
    assert "Income" in s.names(Role.NUMERIC)


def test_role_overrides_win_and_keep_the_inferred_one() -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    s = infer_schema(frame, "species", {"year": "categorical", "island": "ignored"})
    assert s.column("year").role is Role.CATEGORICAL
    assert s.column("year").reason == "set by user (inferred: numeric)"
    assert "island" not in s.features


def test_unknown_role_column_is_a_config_error_with_close_names() -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    with pytest.raises(ConfigError) as info:
        infer_schema(frame, "species", {"bill_lenght_mm": "numeric", "zzz": "text"})
    problems = {p.column: p for p in info.value.problems}
    assert set(problems) == {"bill_lenght_mm", "zzz"}
    assert "bill_length_mm" in (problems["bill_lenght_mm"].fix or "")
    assert problems["zzz"].fix == "remove it from 'roles'"


def test_schema_round_trips_through_dict(schema: Schema) -> None:
    assert Schema.from_dict(schema.to_dict()) == schema


def test_coerce_gives_pipeline_dtypes(schema: Schema) -> None:
    X = coerce_frame(_constructed(), schema)
    assert list(X.columns) == schema.features
    assert X["amount"].dtype == np.float64 and X["numbers_as_text"].dtype == np.float64
    assert X["flag"].dtype == np.float64
    assert str(X["signup"].dtype) == "datetime64[ns]"
    assert not pd.api.types.is_numeric_dtype(X["colour"]) and X["comment"].dtype == object
    assert set(X["colour"].astype(object)) == {"red", "green", "blue"}  # categories as text (object or category)


def test_categorical_values_compare_the_same_as_int_float_or_text() -> None:
    frame = pd.DataFrame({"code": [1, 2, 3, 1, 2, 3] * 5, "y": [0, 1] * 15})
    s = infer_schema(frame, "y", {"code": "categorical"})
    as_int = coerce_frame(frame, s)["code"].tolist()
    as_float = coerce_frame(frame.assign(code=frame["code"].astype(float)), s)["code"].tolist()
    as_text = coerce_frame(frame.assign(code=frame["code"].astype(str)), s)["code"].tolist()
    assert as_int == as_float == as_text == ["1", "2", "3"] * 10


def test_coerce_lists_every_missing_column(schema: Schema) -> None:
    frame = _constructed().drop(columns=["amount", "colour", "comment"])
    with pytest.raises(SchemaMismatchError) as info:
        coerce_frame(frame, schema)
    missing = [p.column for p in info.value.problems if p.code == "schema.missing_column"]
    assert missing == ["amount", "colour", "comment"]


def test_coerce_refuses_text_in_numeric_column_naming_values(schema: Schema) -> None:
    frame = _constructed().astype({"amount": object})
    frame.loc[[3, 4, 9], "amount"] = ["abc", "n/a?", "abc"]
    with pytest.raises(SchemaMismatchError) as info:
        coerce_frame(frame, schema, strict=True)
    (problem,) = info.value.problems
    assert problem.column == "amount" and problem.code == "schema.bad_value"
    assert set(problem.examples) == {"abc", "n/a?"}
    assert "3 values" in problem.message
    lenient = coerce_frame(frame, schema, strict=False)
    assert lenient["amount"].isna().sum() == 3


def test_coerce_accepts_numbers_sent_as_text_and_blanks(schema: Schema) -> None:
    frame = _constructed().astype({"amount": object})
    frame["amount"] = [str(v) for v in _constructed()["amount"]]
    frame.loc[0, "amount"] = ""
    X = coerce_frame(frame, schema)
    assert np.isnan(X.loc[0, "amount"])
    np.testing.assert_allclose(X["amount"].iloc[1:], _constructed()["amount"].iloc[1:])


def test_coerce_refuses_bad_dates(schema: Schema) -> None:
    frame = _constructed()
    frame.loc[2, "signup"] = "not a date"
    with pytest.raises(SchemaMismatchError) as info:
        coerce_frame(frame, schema)
    assert info.value.problems[0].column == "signup"
    assert info.value.problems[0].examples == ("not a date",)
