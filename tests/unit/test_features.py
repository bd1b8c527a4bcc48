"""Preprocessing chosen from the schema and the model's needs, checked against hand-computed references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import dataset_path
from trainwright.data import coerce_frame, infer_schema
from trainwright.features import (
    HIGH_CARDINALITY,
    DatetimeFeatures,
    FeatureNeeds,
    SkewedLog1p,
    TextSVD,
    build_preprocessor,
)

N = 200


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "tasty", "stale", "fresh", "cheap", "lovely", "awful", "great", "bland"]
    frame = pd.DataFrame({
        "id": [f"row-{i}" for i in range(N)],
        "income": rng.lognormal(10, 1.5, N),  # heavily right-skewed, positive
        "age": np.where(rng.random(N) < 0.2, np.nan, rng.normal(40, 10, N)),  # 20% missing
        "colour": rng.choice(["red", "green", "blue"], N),
        "city": [f"city{i % 60}" for i in range(N)],  # high cardinality
        "when": pd.date_range("2023-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
        "note": [" ".join(rng.choice(words, 5)) for _ in range(N)],
        "const": 1,
        "y": rng.integers(0, 2, N),
    })
    return frame, frame["y"].to_numpy()


def _names(frame: pd.DataFrame, needs: FeatureNeeds) -> tuple[list[str], object]:
    schema = infer_schema(frame, "y")
    X = coerce_frame(frame, schema)
    pre = build_preprocessor(schema, needs, X)
    Xt = pre.fit_transform(X, frame["y"].to_numpy())
    return list(pre.get_feature_names_out()), Xt


def test_schema_of_fixture(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    schema = infer_schema(mixed[0], "y")
    assert {c.name: c.role.value for c in schema.columns} == {
        "id": "identifier", "income": "numeric", "age": "numeric", "colour": "categorical", "city": "categorical",
        "when": "datetime", "note": "text", "const": "ignored"}
    assert mixed[0]["city"].nunique() > HIGH_CARDINALITY


def test_scaled_dense_pipeline(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = mixed
    names, Xt = _names(frame, FeatureNeeds(scale=True, one_hot=True))
    assert isinstance(Xt, np.ndarray) and not np.isnan(Xt).any()
    assert not any(n.split("__")[-1] == "id" or "const" in n for n in names)  # identifier and constant dropped
    assert "num__missingindicator_age" in names  # imputation with a missing indicator
    assert {"cat__colour_blue", "cat__colour_green", "cat__colour_red"} <= set(names)
    assert "cat_high__city" in names  # target encoding for a high-cardinality column
    assert {"date__when_year", "date__when_month", "date__when_dayofweek", "date__when_days"} <= set(names)
    assert any(n.startswith("text_note__svd") for n in names)
    income = Xt[:, names.index("num__income")]
    expected = np.log1p(frame["income"])
    expected = (expected - expected.mean()) / expected.std(ddof=0)  # log1p (skewed) then standard scaling
    np.testing.assert_allclose(income, expected, atol=1e-9)
    age = Xt[:, names.index("num__age")]
    assert abs(age.mean()) < 1e-9 and abs(age.std() - 1) < 1e-9


def test_tree_pipeline_keeps_missing_and_uses_ordinal_codes(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = mixed
    names, Xt = _names(frame, FeatureNeeds(one_hot=False, handles_missing=True))
    age = Xt[:, names.index("num__age")]
    assert np.isnan(age).sum() == frame["age"].isna().sum()  # NaN passed through to the model
    np.testing.assert_allclose(Xt[:, names.index("num__income")], frame["income"])  # not scaled
    colour = Xt[:, names.index("cat__colour")]
    assert set(colour) == {0.0, 1.0, 2.0}


def test_sparse_text_uses_tfidf(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = mixed
    names, Xt = _names(frame[["note", "colour", "y"]], FeatureNeeds(scale=True, sparse=True))
    assert sparse.issparse(Xt)
    assert "text_note__good" in names and "text_note__good bad" in names  # unigrams and bigrams


def test_unknown_category_at_predict_time(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, y = mixed
    schema = infer_schema(frame, "y")
    X = coerce_frame(frame, schema)
    for needs in (FeatureNeeds(scale=True), FeatureNeeds(one_hot=False, handles_missing=True)):
        pre = build_preprocessor(schema, needs, X).fit(X, y)
        new = X.head(3).copy()
        new["colour"] = ["purple", None, "red"]
        new["city"] = ["nowhere", "city1", None]
        new["age"] = 40.0  # NaN may legitimately reach a tree model; only categories are under test here
        out = pre.transform(new)
        assert out.shape[0] == 3 and np.isfinite(np.asarray(out, dtype=float)).all()


def test_real_titanic_every_row_transforms() -> None:
    frame = pd.read_csv(dataset_path("titanic"))
    schema = infer_schema(frame, "survived")
    X = coerce_frame(frame, schema)
    pre = build_preprocessor(schema, FeatureNeeds(scale=True), X)
    Xt = pre.fit_transform(X, (frame["survived"] == "survived").to_numpy())
    assert Xt.shape[0] == len(frame) and not np.isnan(Xt).any()


def test_skewed_log1p_against_scipy() -> None:
    from scipy.stats import skew

    rng = np.random.default_rng(1)
    arr = np.column_stack([rng.lognormal(0, 1.5, 500), rng.normal(0, 1, 500), -rng.lognormal(0, 1.5, 500)])
    t = SkewedLog1p(threshold=2.0).fit(arr)
    expected = [i for i in range(3) if arr[:, i].min() >= 0 and skew(arr[:, i]) > 2.0]
    assert t.log_columns_.tolist() == expected == [0]
    out = t.transform(arr)
    np.testing.assert_allclose(out[:, 0], np.log1p(arr[:, 0]))
    np.testing.assert_array_equal(out[:, 1:], arr[:, 1:])


def test_skewed_log1p_column_by_column_ignores_missing_and_leaves_input_alone() -> None:
    from scipy.stats import skew

    rng = np.random.default_rng(2)
    arr = np.column_stack([rng.lognormal(0, 1.5, 400), rng.exponential(1, 400), np.full(400, np.nan)])
    arr[::7, 0] = np.nan
    before = arr.copy()
    t = SkewedLog1p(threshold=1.5).fit(arr)
    present = ~np.isnan(arr[:, 0])
    expected = [i for i in range(2) if skew(arr[~np.isnan(arr[:, i]), i]) > 1.5]
    assert t.log_columns_.tolist() == expected and 0 in expected  # an all-missing column is never logged
    out = t.transform(arr)
    np.testing.assert_array_equal(arr, before)  # a fresh array: the scaler after it may work in place
    np.testing.assert_allclose(out[present, 0], np.log1p(arr[present, 0]))


def test_float32_needs_give_a_float32_matrix_equal_to_the_float64_one(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = mixed
    names64, X64 = _names(frame, FeatureNeeds(scale=True, one_hot=True))
    names32, X32 = _names(frame, FeatureNeeds(scale=True, one_hot=True, float32=True))
    assert names32 == names64 and X32.dtype == np.float32 and X64.dtype == np.float64
    np.testing.assert_allclose(X32, X64, rtol=1e-6, atol=1e-6)  # scaled values near 1: float32 loses nothing useful
    _, sparse32 = _names(frame[["note", "colour", "y"]], FeatureNeeds(scale=True, sparse=True, float32=True))
    assert sparse.issparse(sparse32) and sparse32.dtype == np.float32


def test_linear_and_knn_fit_float32_without_a_float64_copy(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    from trainwright.models import get_spec

    frame, y = mixed
    schema = infer_schema(frame, "y")
    X = coerce_frame(frame, schema)
    matrices = {name: build_preprocessor(schema, get_spec(name).needs, X).fit_transform(X, y) for name in ("linear", "knn")}
    assert {name: m.dtype for name, m in matrices.items()} == {"linear": np.float32, "knn": np.float32}
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(matrices["linear"], y)
    assert model.coef_.dtype == np.float32  # scikit-learn kept float32: the matrix was not copied to float64


def test_a_baseline_gets_no_matrix(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = mixed
    names, Xt = _names(frame, FeatureNeeds(uses_features=False))
    assert names == [] and Xt.shape == (len(frame), 0)


def test_datetime_features_against_pandas() -> None:
    when = pd.DataFrame({"t": pd.to_datetime(["2024-02-29 13:30", "1999-12-31 00:00", None])})
    t = DatetimeFeatures().fit(when)
    out = t.transform(when)
    assert list(t.get_feature_names_out()) == ["t_year", "t_month", "t_day", "t_dayofweek", "t_hour", "t_days"]
    np.testing.assert_allclose(out[0], [2024, 2, 29, 3, 13, (pd.Timestamp("2024-02-29 13:30") - pd.Timestamp(0)).days + 13.5 / 24])
    assert np.isnan(out[2]).all()


def test_text_svd_is_dense_and_seeded() -> None:
    text = pd.read_csv(dataset_path("fine_foods"))["review"].head(300)
    a = TextSVD(n_components=16, random_state=0).fit_transform(text.to_numpy())
    b = TextSVD(n_components=16, random_state=0).fit(text.to_numpy()).transform(text.to_numpy())
    assert a.shape == (300, 16)
    np.testing.assert_allclose(a, b, atol=1e-8)


def test_text_reaches_xgboost_as_svd_and_lightgbm_as_sparse_tfidf(mixed: tuple[pd.DataFrame, np.ndarray]) -> None:
    from trainwright.models import get_spec

    frame, _ = mixed
    text_only = frame[["note", "colour", "y"]]
    names, Xt = _names(text_only, get_spec("xgboost").needs)  # hist scans every column: wide TF-IDF is too slow
    assert not sparse.issparse(Xt) and any(n.startswith("text_note__svd") for n in names)
    names, Xt = _names(text_only, get_spec("lightgbm").needs)
    assert sparse.issparse(Xt) and "text_note__good" in names
