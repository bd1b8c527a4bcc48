"""The bundle: sealed by its manifest, portable, loads no code, and carries the reference profile."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.bundles import titanic_path
from trainwright.bundle import load, write_bundle
from trainwright.bundle._format import PIPELINE_FILE, read_pipeline
from trainwright.exceptions import BundleError

SENTINEL = "trainwright-pwned.txt"


class Planted(TransformerMixin, BaseEstimator):
    """Runs code when unpickled/constructed from state: the kind of object a malicious bundle would carry."""

    def __setstate__(self, state: dict) -> None:
        Path(SENTINEL).write_text("code ran during load")
        self.__dict__.update(state)

    def transform(self, X):
        return X


@pytest.fixture
def bundle_copy(titanic_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(titanic_bundle, tmp_path / "elsewhere" / "model"))


def _codes(excinfo) -> set[str]:
    return {p.code for p in excinfo.value.problems}


def _reseal(directory: Path) -> None:
    """Rewrite the manifest's hashes, as an attacker who controls the whole directory would."""
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"] = {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in manifest["files"]}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_copied_bundle_loads_and_predicts_the_same(titanic_bundle, bundle_copy):
    frame = pd.read_csv(titanic_path()).head(200)
    original, copied = load(titanic_bundle), load(bundle_copy)
    pd.testing.assert_frame_equal(original.predict(frame), copied.predict(frame))
    assert copied.path == bundle_copy


def test_changed_file_is_refused(bundle_copy):
    metrics = json.loads((bundle_copy / "metrics.json").read_text())
    metrics["test"]["roc_auc"] = 0.999
    (bundle_copy / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(BundleError, match="integrity") as excinfo:
        load(bundle_copy)
    assert _codes(excinfo) == {"bundle.file_changed"}
    assert excinfo.value.problems[0].column == "metrics.json"


def test_flipped_byte_in_pipeline_is_refused(bundle_copy):
    data = bytearray((bundle_copy / PIPELINE_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_copy / PIPELINE_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError) as excinfo:
        load(bundle_copy)
    assert [p.column for p in excinfo.value.problems] == [PIPELINE_FILE]


def test_missing_and_unlisted_files_are_refused(bundle_copy):
    (bundle_copy / "profile.json").unlink()
    (bundle_copy / "notes.txt").write_text("hello")
    with pytest.raises(BundleError) as excinfo:
        load(bundle_copy)
    assert _codes(excinfo) == {"bundle.file_missing", "bundle.file_unlisted"}
    assert "profile.json" in str(excinfo.value) and "notes.txt" in str(excinfo.value)
    shutil.rmtree(bundle_copy)
    with pytest.raises(BundleError, match="no model bundle"):
        load(bundle_copy)


def test_hand_planted_eval_in_a_resealed_bundle_is_refused(bundle_copy):
    path = bundle_copy / PIPELINE_FILE
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["steps"]["content"][0]["content"][1].update(
        {"__class__": "eval", "__module__": "builtins", "__loader__": "TypeNode", "content": {}})
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    _reseal(bundle_copy)
    with pytest.raises(BundleError, match="outside the allowlist") as excinfo:
        load(bundle_copy)
    assert [p.column for p in excinfo.value.problems] == ["builtins.eval"]


@pytest.mark.parametrize("step", [FunctionTransformer(func=os.system), Planted()], ids=["os.system", "setstate"])
def test_pipeline_with_code_is_refused_and_nothing_runs(titanic_bundle, tmp_path, step):
    import skops.io as sio

    original = load(titanic_bundle)
    documents = {n: json.loads((titanic_bundle / f"{n}.json").read_text())
                 for n in ("schema", "task", "metrics", "metadata", "profile")}
    evil = write_bundle(tmp_path / "evil", make_pipeline(step, original.pipeline), documents)
    with pytest.raises(BundleError, match="allowlist") as excinfo:
        load(evil)
    refused = [p.column for p in excinfo.value.problems]
    assert refused == (["posix.system"] if isinstance(step, FunctionTransformer) else [f"{__name__}.Planted"])
    assert not Path(SENTINEL).exists()
    if isinstance(step, Planted):  # the same file, trusted blindly, does run the planted code: the test can fail
        sio.load(evil / PIPELINE_FILE, trusted=sio.get_untrusted_types(file=evil / PIPELINE_FILE))
        assert Path(SENTINEL).exists()


def test_unreadable_pipeline_file_is_a_bundle_error(tmp_path):
    (tmp_path / PIPELINE_FILE).write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="cannot read"):
        read_pipeline(tmp_path)


def test_reference_profile_is_in_the_bundle(titanic_bundle):
    model = load(titanic_bundle)
    manifest = json.loads((titanic_bundle / "manifest.json").read_text())
    assert "profile.json" in manifest["files"]
    split = json.loads((titanic_bundle / "split.json").read_text())
    profile = model.profile
    assert profile is not None and profile.n_rows == len(split["rows"]["train"])
    assert [c.name for c in profile.columns] == model.schema.features
    assert set(profile.column("sex").categories) == {"male", "female"}
    assert 0 < profile.column("age").missing_rate < 0.5
    assert profile.prediction is not None and profile.prediction.kind == "numeric"
    assert 0.0 <= profile.prediction.stats["min"] <= profile.prediction.stats["max"] <= 1.0
    assert np.isclose(sum(profile.prediction.fractions), 1.0)
