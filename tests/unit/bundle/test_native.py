"""Serializers per family: boosted models travel in their libraries' own formats, the skops file holds none of their
types, the allowlist is the base plus each family's share, and a bundle names its serializer, which must exist."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline

from tests.conftest import dataset_path
from trainwright.bundle import load, trusted_types, write_bundle
from trainwright.bundle._format import BASE_TRUSTED_TYPES
from trainwright.bundle.export import export_onnx
from trainwright.config import load_config
from trainwright.evaluation.importance import shap_importance
from trainwright.exceptions import BundleError
from trainwright.models import get_spec, serializers
from trainwright.models.serialize import bundle_file
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import Prepared, prepare

NATIVE = {"lightgbm": "model.lgb.txt", "xgboost": "model.ubj", "catboost": "model.cbm"}
DATA = {"binary": ("titanic", "survived"), "multiclass": ("penguins", "species"), "regression": ("diabetes", "progression")}
LIBRARIES = ("lightgbm", "xgboost", "catboost")


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pd.DataFrame, Prepared]]:
    out = {}
    for kind, (name, target) in DATA.items():
        frame = pd.read_csv(dataset_path(name))
        out[kind] = (frame, prepare(frame, load_config(None, target=target)))
    return out


def _fit(prep: Prepared, name: str) -> Pipeline:
    spec = get_spec(name)
    pipeline, _, _ = fit_pipeline(spec, FitContext(prep.schema, prep.task, n_jobs=1), prep.X, prep.y,
                                  spec.params({"n_estimators": 20}))
    return pipeline


def _write(directory: Path, pipeline: Any, prep: Prepared) -> Path:
    return write_bundle(directory, pipeline, {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(),
                                              "metadata": {}, "metrics": {}})


def _reseal(directory: Path) -> None:
    """Rewrite the manifest's hashes, as someone who controls the whole directory would."""
    manifest = json.loads((directory / "manifest.json").read_text())
    files = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != "manifest.json")
    manifest["files"] = {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in files}
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def lightgbm_multiclass(data, tmp_path_factory) -> tuple[Prepared, Pipeline, Path]:
    _, prep = data["multiclass"]
    pipeline = _fit(prep, "lightgbm")
    return prep, pipeline, _write(tmp_path_factory.mktemp("lgbm") / "model", pipeline, prep)


@pytest.mark.parametrize("kind", list(DATA))
@pytest.mark.parametrize("name", LIBRARIES)
def test_written_natively_and_loaded_back_identically(data, tmp_path, name, kind):
    _, prep = data[kind]
    pipeline = _fit(prep, name)
    final = pipeline[-1]
    out = _write(tmp_path / "model", pipeline, prep)
    assert pipeline[-1] is final  # writing leaves the caller's pipeline as it was
    assert (out / NATIVE[name]).is_file()
    assert json.loads((out / "native.json").read_text())["serializer"] == name
    assert {"native.json", NATIVE[name]} <= set(json.loads((out / "manifest.json").read_text())["files"])
    requested = sio.get_untrusted_types(file=out / "pipeline.skops")
    assert not [t for t in requested if t.startswith(LIBRARIES) or "Booster" in t], requested
    np.testing.assert_array_equal(predict_matrix(load(out).pipeline, prep.X, prep.task),
                                  predict_matrix(pipeline, prep.X, prep.task))


@pytest.mark.parametrize("kind", list(DATA))
def test_read_back_lightgbm_still_exports_to_onnx_and_explains_with_shap(data, tmp_path, kind):
    """LightGBM has no public way back to an LGBMClassifier: the bundle returns its booster in a trainwright
    estimator, which must keep what the wrapper gave: predictions, ONNX export, SHAP values."""
    frame, prep = data[kind]
    pipeline = _fit(prep, "lightgbm")
    model = load(_write(tmp_path / "model", pipeline, prep))
    loaded = model.pipeline[-1]
    assert type(loaded).__name__ == ("LGBMBoosterRegressor" if kind == "regression" else "LGBMBoosterClassifier")
    if kind != "regression":
        np.testing.assert_array_equal(loaded.classes_, pipeline[-1].classes_)
        np.testing.assert_array_equal(model.pipeline.predict(prep.X), pipeline.predict(prep.X))
    with pytest.raises(NotImplementedError, match="cannot be refit"):
        loaded.fit(prep.X, prep.y)
    assert shap_importance(model.pipeline, prep.X) == shap_importance(pipeline, prep.X)
    # ONNX computes in float32: on targets in the hundreds (diabetes) that is ~1e-7 relative, above 1e-5 absolute,
    # for the library's own wrapper just the same
    tolerance = 1e-5 if prep.task.is_classification else 1e-6 * float(np.abs(prep.y).max())
    rows = frame.drop(columns=[prep.schema.target]).head(200)
    assert export_onnx(model, tmp_path / "onnx", rows=rows, tolerance=tolerance).max_abs_difference <= tolerance


def test_a_nested_pipeline_keeps_its_final_estimator_native(lightgbm_multiclass, tmp_path):
    prep, pipeline, _ = lightgbm_multiclass
    outer = Pipeline([("noop", "passthrough"), ("inner", pipeline)])
    out = _write(tmp_path / "model", outer, prep)
    assert (out / "model.lgb.txt").is_file()
    np.testing.assert_array_equal(load(out).pipeline.predict_proba(prep.X), outer.predict_proba(prep.X))


def test_the_allowlist_is_the_base_and_every_family_share():
    shares = [s.trusted_types for s in serializers()]
    assert trusted_types() == BASE_TRUSTED_TYPES.union(*shares)
    assert {s.name for s in serializers()} >= {"baseline", "linear", "svm", "neighbors", "trees", *LIBRARIES}
    assert "sklearn.tree._tree.Tree" in next(s for s in serializers() if s.name == "trees").trusted_types
    assert "trainwright.features.transformers.SkewedLog1p" in BASE_TRUSTED_TYPES
    assert not [t for t in trusted_types() if t.startswith(LIBRARIES) or "Booster" in t]


def test_a_skops_file_that_smuggles_a_booster_is_refused(lightgbm_multiclass, tmp_path):
    """A skops file with the library's wrapper and booster inside asks for types outside the allowlist."""
    import shutil

    _, pipeline, source = lightgbm_multiclass
    out = Path(shutil.copytree(source, tmp_path / "model"))
    sio.dump(pipeline, out / "pipeline.skops")  # the LGBMClassifier, booster and all
    (out / "native.json").unlink()
    (out / "model.lgb.txt").unlink()
    _reseal(out)
    with pytest.raises(BundleError, match="allowlist") as info:
        load(out)
    refused = {p.column for p in info.value.problems}
    assert {"lightgbm.sklearn.LGBMClassifier", "lightgbm.basic.Booster"} <= refused


def _edit_native(source: Path, directory: Path, change: Any) -> Path:
    import shutil

    out = Path(shutil.copytree(source, directory))
    info = json.loads((out / "native.json").read_text())
    change(info)
    (out / "native.json").write_text(json.dumps(info))
    _reseal(out)
    return out


def test_an_unknown_serializer_is_refused_by_name(lightgbm_multiclass, tmp_path):
    out = _edit_native(lightgbm_multiclass[2], tmp_path / "model", lambda info: info.update(serializer="pickle"))
    with pytest.raises(BundleError, match="'pickle'") as info:
        load(out)
    assert [p.code for p in info.value.problems] == ["bundle.unknown_serializer"]
    assert "lightgbm" in (info.value.problems[0].fix or "")


def test_a_skops_family_is_no_native_serializer(lightgbm_multiclass, tmp_path):
    out = _edit_native(lightgbm_multiclass[2], tmp_path / "model", lambda info: info.update(serializer="trees"))
    with pytest.raises(BundleError, match="does not have"):
        load(out)


@pytest.mark.parametrize("change", [
    lambda info: info["model"].update(kind="posix.system"),
    lambda info: info.update(step="features"),
    lambda info: info.pop("model"),
], ids=["unknown-kind", "wrong-step", "no-description"])
def test_a_tampered_description_is_refused(lightgbm_multiclass, tmp_path, change):
    out = _edit_native(lightgbm_multiclass[2], tmp_path / "model", change)
    with pytest.raises(BundleError):
        load(out)


def test_a_changed_native_model_file_is_refused(lightgbm_multiclass, tmp_path):
    import shutil

    out = Path(shutil.copytree(lightgbm_multiclass[2], tmp_path / "model"))
    with (out / "model.lgb.txt").open("ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(BundleError, match="integrity"):
        load(out)


def test_a_bundle_of_an_older_format_is_refused_with_a_fix(lightgbm_multiclass, tmp_path):
    import shutil

    out = Path(shutil.copytree(lightgbm_multiclass[2], tmp_path / "model"))
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "format": "trainwright-bundle/1"}))
    with pytest.raises(BundleError, match="unsupported bundle format") as info:
        load(out)
    assert [p.code for p in info.value.problems] == ["bundle.format"]


@pytest.mark.parametrize("name", ["../model.lgb.txt", "sub/model.lgb.txt", "", "..", "missing.txt"])
def test_a_model_file_must_be_a_plain_file_inside_the_bundle(tmp_path, name):
    (tmp_path / "bundle").mkdir()
    (tmp_path / "model.lgb.txt").write_text("outside")
    with pytest.raises(BundleError):
        bundle_file(tmp_path / "bundle", name)


def test_a_document_cannot_overwrite_a_native_file(lightgbm_multiclass, tmp_path):
    prep, pipeline, _ = lightgbm_multiclass
    with pytest.raises(BundleError, match="overwrite"):
        write_bundle(tmp_path / "model", pipeline, {"schema": prep.schema.to_dict(), "native": {}})
    assert not (tmp_path / "model").exists()
