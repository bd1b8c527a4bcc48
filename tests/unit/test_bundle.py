"""The bundle: manifest-sealed, loads back to the same predictions, checks columns at the door, writes atomically."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.bundle import ExtraColumnsWarning, Model, load, verify_manifest, write_bundle
from trainwright.exceptions import BundleError, SchemaMismatchError


@pytest.fixture(scope="module")
def model(titanic_bundle: Path) -> Model:
    return load(titanic_bundle)


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    return pd.read_csv(dataset_path("titanic"))


def test_loaded_model_describes_itself(model: Model) -> None:
    assert model.task.kind.value == "binary" and model.task.classes == ("died", "survived")
    assert model.schema.target == "survived" and set(model.schema.features) == {"pclass", "sex", "age", "sibsp", "parch"}
    assert model.metadata["model"] in {"dummy", "linear", "lightgbm"}
    assert set(model.metrics) >= {"metric", "test", "validation", "train"}
    assert model.output_columns == ["prediction", "proba_died", "proba_survived"]
    assert model.metadata["model"] in repr(model)


def test_predict_keeps_index_and_gives_probabilities(model: Model, titanic: pd.DataFrame) -> None:
    frame = titanic.drop(columns=["survived"]).iloc[::-1]  # any index order
    out = model.predict(frame)
    assert list(out.index) == list(frame.index)
    assert list(out.columns) == model.output_columns
    proba = out[["proba_died", "proba_survived"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ((out["proba_survived"] >= 0.5) == (out["prediction"] == "survived")).all()
    assert (out.loc[titanic.index, "prediction"] == titanic["survived"]).mean() > 0.75


def test_predict_on_bundle_matches_pipeline(model: Model, titanic: pd.DataFrame) -> None:
    X = model.prepare(titanic)
    out = model.predict(titanic)
    # equal up to the float64 renormalisation of float32 rows (the linear model and XGBoost compute in float32)
    np.testing.assert_allclose(out[["proba_died", "proba_survived"]].to_numpy(), model.pipeline.predict_proba(X),
                               rtol=1e-6, atol=1e-7)


def test_extra_columns_warned_once_per_file(model: Model, titanic: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    titanic.assign(ticket="A/5").to_csv(source, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict_file(source, tmp_path / "out.csv", chunksize=100)
    assert [str(w.message) for w in caught] == ["ignoring 1 column(s) the model does not use: ticket"]


def test_extra_columns_ignored_with_a_warning(model: Model, titanic: pd.DataFrame) -> None:
    frame = titanic.assign(ticket="A/5", cabin_deck="C")
    with pytest.warns(ExtraColumnsWarning, match="ticket, cabin_deck"):
        out = model.predict(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(out, model.predict(titanic))  # the target column is not "extra"


def test_missing_columns_all_listed_and_refused(model: Model, titanic: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatchError) as info:
        model.predict(titanic.drop(columns=["age", "sex"]))
    missing = sorted(p.column for p in info.value.problems if p.code == "schema.missing_column")
    assert missing == ["age", "sex"]
    assert all(p.fix for p in info.value.problems) and info.value.exit_code == 2


def test_mistyped_column_refused_naming_values(model: Model, titanic: pd.DataFrame) -> None:
    frame = titanic.astype({"age": object})
    frame.loc[[3, 8], "age"] = ["thirty", "unknown"]
    with pytest.raises(SchemaMismatchError) as info:
        model.predict(frame)
    (problem,) = info.value.problems
    assert problem.column == "age" and set(problem.examples) == {"thirty", "unknown"}


def test_values_coerced_where_safe(model: Model, titanic: pd.DataFrame) -> None:
    as_text = titanic.astype(str).replace("nan", "")  # every column as text, missing as empty
    np.testing.assert_allclose(model.predict(as_text)["proba_survived"], model.predict(titanic)["proba_survived"])


def test_not_a_dataframe_refused(model: Model) -> None:
    with pytest.raises(SchemaMismatchError, match="DataFrame"):
        model.predict([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_file_streams_in_order(model: Model, titanic: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "in.csv"
    titanic.assign(passenger=[f"p{i}" for i in range(len(titanic))]).to_csv(source, index=False)
    out_path = tmp_path / f"scored{suffix}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = model.predict_file(source, out_path, chunksize=100, id_column="passenger")
    assert not caught  # the id column is copied, not an "extra" column
    assert n == len(titanic)
    out = pd.read_csv(out_path) if suffix == ".csv" else pd.read_parquet(out_path)
    assert out["passenger"].tolist() == [f"p{i}" for i in range(len(titanic))]
    whole = model.predict(titanic)
    np.testing.assert_allclose(out["proba_survived"].to_numpy(), whole["proba_survived"].to_numpy())
    assert out["prediction"].tolist() == whole["prediction"].tolist()


def test_predict_file_is_atomic(model: Model, titanic: pd.DataFrame, tmp_path: Path) -> None:
    bad = titanic.astype({"age": object})
    bad.loc[1200, "age"] = "old"  # in the last chunk: earlier chunks were already scored
    source = tmp_path / "bad.csv"
    bad.to_csv(source, index=False)
    out_path = tmp_path / "scored.csv"
    out_path.write_text("previous results\n")
    with pytest.raises(SchemaMismatchError):
        model.predict_file(source, out_path, chunksize=100)
    assert out_path.read_text() == "previous results\n"
    assert {p.name for p in tmp_path.iterdir()} == {"bad.csv", "scored.csv"}  # no temporary file left
    fresh = tmp_path / "new.parquet"
    with pytest.raises(SchemaMismatchError):
        model.predict_file(source, fresh, chunksize=100)
    assert not fresh.exists() and {p.name for p in tmp_path.iterdir()} == {"bad.csv", "scored.csv"}


def test_manifest_detects_changes(titanic_bundle: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(titanic_bundle, tmp_path / "model"))
    assert set(verify_manifest(copy)) >= {"pipeline.skops", "schema.json", "task.json"}
    task = json.loads((copy / "task.json").read_text())
    task["positive_label"] = "died"
    (copy / "task.json").write_text(json.dumps(task))
    (copy / "notes.txt").write_text("hello")
    with pytest.raises(BundleError) as info:
        load(copy)
    codes = {(p.code, p.column) for p in info.value.problems}
    assert codes == {("bundle.file_changed", "task.json"), ("bundle.file_unlisted", "notes.txt")}
    assert info.value.exit_code == 4


def test_missing_pieces(titanic_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no model bundle"):
        load(tmp_path / "nowhere")
    copy = Path(shutil.copytree(titanic_bundle, tmp_path / "model"))
    (copy / "schema.json").unlink()
    with pytest.raises(BundleError) as info:
        load(copy)
    assert info.value.problems[0].code == "bundle.file_missing"
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest"):
        load(copy)


def test_write_bundle_refuses_to_overwrite_and_leaves_nothing_on_failure(model: Model, tmp_path: Path) -> None:
    docs = {"schema": model.schema.to_dict(), "task": model.task.to_dict(), "metadata": {}, "metrics": {}}
    path = write_bundle(tmp_path / "m", model.pipeline, docs)
    assert load(path).task == model.task
    with pytest.raises(BundleError, match="already exists"):
        write_bundle(path, model.pipeline, docs)
    loop: list[object] = []
    loop.append(loop)  # cannot be written as JSON: fails half-way through the bundle
    with pytest.raises(ValueError, match="Circular"):
        write_bundle(tmp_path / "broken", model.pipeline, {"schema": {"loop": loop}})
    assert not (tmp_path / "broken").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"m"}
