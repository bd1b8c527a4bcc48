"""The bundle directory: a skops pipeline plus JSON descriptions, sealed by a SHA-256 manifest.

Loading runs no code from the bundle: the manifest is checked first, then the skops file's requested types are
checked against an explicit allowlist (the types each supported model family needs), then it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.bundle.native import attach_native, detached, write_native_info
from trainwright.exceptions import BundleError, Problem, check_bundle_dir

__all__ = ["BUNDLE_FORMAT", "PIPELINE_FILE", "TRUSTED_TYPES", "read_json", "read_pipeline", "verify_manifest", "write_bundle"]

BUNDLE_FORMAT = "trainwright-bundle/1"
PIPELINE_FILE = "pipeline.skops"
MANIFEST_FILE = "manifest.json"

# Types outside skops' defaults that our pipelines legitimately contain, by family. Nothing else is loaded.
TRUSTED_TYPES: frozenset[str] = frozenset({
    "numpy.dtype",
    "collections.OrderedDict",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.KFold",  # the seeded cross-fitting splitter of TargetEncoder
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",  # k-nearest neighbours' index
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",  # the SVM's Platt scaling
    # boosters are not here: they travel in their native formats (bundle/native.py); only the wrappers stay
    "lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor",
    "xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBRegressor",
    "trainwright.features.transformers.AsFloat32",
    "trainwright.features.transformers.DatetimeFeatures",
    "trainwright.features.transformers.SkewedLog1p",
    "trainwright.features.transformers.TextSVD",
})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundle(directory: Path, pipeline: Any, documents: Mapping[str, Any]) -> Path:
    """Write the pipeline and each document (name -> JSON-able object) into ``directory`` atomically."""
    import skops.io as sio

    directory = Path(directory)
    if directory.exists():
        raise BundleError(f"bundle directory already exists: {directory}", [Problem(
            "bundle.exists", "refusing to overwrite a bundle", fix="choose another output directory")])
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        with detached(pipeline, tmp) as native:
            sio.dump(pipeline, tmp / PIPELINE_FILE)
        if native is not None:
            write_native_info(tmp, native)
        for name, doc in documents.items():
            (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, default=str, allow_nan=True), encoding="utf-8")
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {"format": BUNDLE_FORMAT, "files": files}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def verify_manifest(directory: Path) -> dict[str, str]:
    """Every file the manifest names exists with the same SHA-256; no unlisted files. Returns name -> hash."""
    directory = Path(directory)
    check_bundle_dir(directory)
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BundleError(f"{directory} has no readable {MANIFEST_FILE}", [Problem(
            "bundle.no_manifest", "the bundle is incomplete or not a trainwright bundle", fix="re-export the model")]) from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"unsupported bundle format {manifest.get('format')!r} in {directory}")
    problems = []
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            problems.append(Problem("bundle.file_missing", "file listed in the manifest is missing", column=name))
        elif _sha256(path) != expected:
            problems.append(Problem("bundle.file_changed", "file differs from the manifest (SHA-256)", column=name,
                                    fix="the bundle was modified after it was written; restore it from the run"))
    extra = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name not in files and p.name != MANIFEST_FILE)
    problems += [Problem("bundle.file_unlisted", "file not in the manifest", column=n, fix="remove it") for n in extra]
    if problems:
        raise BundleError(f"bundle at {directory} failed its integrity check", problems)
    return files


def read_json(directory: Path, name: str) -> Any:
    return json.loads((Path(directory) / f"{name}.json").read_text(encoding="utf-8"))


def read_pipeline(directory: Path) -> Any:
    """Load the skops pipeline after checking that it asks only for allowlisted types, then reattach a boosted
    model from its native file (see bundle/native.py)."""
    import skops.io as sio

    path = Path(directory) / PIPELINE_FILE
    try:
        requested = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise BundleError(f"cannot read {path}: {type(exc).__name__}") from None
    refused = sorted(set(requested) - TRUSTED_TYPES)
    if refused:
        raise BundleError(f"refusing to load {path}: it asks for types outside the allowlist", [Problem(
            "bundle.untrusted_type", "type not allowed in a model bundle", column=t,
            fix="only bundles written by trainwright for supported model families load") for t in refused])
    try:
        pipeline = sio.load(path, trusted=list(requested))
    except Exception as exc:
        raise BundleError(f"cannot load {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return attach_native(pipeline, Path(directory))
