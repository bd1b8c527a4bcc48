"""Boosted models are stored in their libraries' native formats; the skops file holds no booster."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio

from tests.conftest import dataset_path
from trainwright.bundle import TRUSTED_TYPES, load, write_bundle
from trainwright.data import coerce_frame, infer_schema, infer_task, load_table
from trainwright.exceptions import BundleError
from trainwright.models import get_spec
from trainwright.training import fit_pipeline, predict_matrix

NATIVE = {"lightgbm": "model.lgb.txt", "xgboost": "model.ubj", "catboost": "model.cbm"}


@pytest.fixture(scope="module")
def penguins():
    frame = load_table(dataset_path("penguins"))
    task = infer_task(frame["species"])
    schema = infer_schema(frame, "species")
    return frame, task, schema, coerce_frame(frame, schema), task.encode(frame["species"])


def _bundle(tmp_path, penguins, name):
    _, task, schema, X, y = penguins
    spec = get_spec(name)
    pipeline, _, _ = fit_pipeline(spec, schema, task, X, y, spec.params({"n_estimators": 20}), random_state=0, n_jobs=1)
    out = write_bundle(tmp_path / name, pipeline, {"schema": schema.to_dict(), "task": task.to_dict(),
                                                   "metadata": {}, "metrics": {}})
    return pipeline, out


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_booster_is_written_natively_and_loads_back_identically(tmp_path, penguins, name):
    pipeline, out = _bundle(tmp_path, penguins, name)
    assert (out / NATIVE[name]).is_file()
    assert json.loads((out / "native.json").read_text())["family"] == name
    requested = sio.get_untrusted_types(file=out / "pipeline.skops")
    assert not [t for t in requested if "Booster" in t or t.startswith("catboost")], requested
    _, task, _, X, _ = penguins
    np.testing.assert_array_equal(predict_matrix(load(out).pipeline, X, task), predict_matrix(pipeline, X, task))
    assert "native.json" in json.loads((out / "manifest.json").read_text())["files"]


def test_boosters_are_not_on_the_allowlist():
    assert not [t for t in TRUSTED_TYPES if "Booster" in t or t.startswith("catboost")]


def test_a_skops_file_that_smuggles_a_booster_is_refused(tmp_path, penguins):
    """An older-style bundle with the booster inside the skops file asks for a type outside the allowlist."""
    pipeline, out = _bundle(tmp_path, penguins, "lightgbm")
    sio.dump(pipeline, out / "pipeline.skops")  # the booster still attached: lightgbm.basic.Booster requested
    (out / "native.json").unlink()
    (out / "model.lgb.txt").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"] = {"pipeline.skops": __import__("hashlib").sha256((out / "pipeline.skops").read_bytes()).hexdigest(),
                         **{k: v for k, v in manifest["files"].items() if k.endswith("json") and k != "native.json"}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="allowlist") as info:
        load(out)
    assert any("lightgbm.basic.Booster" in str(p) for p in info.value.problems)


def test_a_changed_native_model_file_is_refused(tmp_path, penguins):
    _, out = _bundle(tmp_path, penguins, "xgboost")
    with (out / "model.ubj").open("ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(BundleError, match="integrity"):
        load(out)
