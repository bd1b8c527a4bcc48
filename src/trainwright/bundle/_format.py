"""The bundle directory: a skops pipeline plus JSON descriptions, sealed by a SHA-256 manifest.

Loading runs no code from the bundle: the manifest is checked first, then the skops file's requested types are
checked against an explicit allowlist (the base types below plus each registered model family's share), then it
is loaded; a final estimator its family stores natively is read back by that family's serializer (``_native``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.bundle._native import (
    COMPOSITE_FILE,
    attach_composite,
    attach_native,
    split_composite,
    split_native,
    write_native_info,
)
from trainwright.bundle.manifest import BUNDLE_FORMAT, MANIFEST_FILE, verify_manifest
from trainwright.exceptions import BundleError, Problem
from trainwright.features import audio, image, transformers
from trainwright.fileio import sha256_file
from trainwright.models import serializers

__all__ = ["BASE_TRUSTED_TYPES", "BUNDLE_FORMAT", "PIPELINE_FILE", "read_json", "read_pipeline", "trusted_types",
           "verify_manifest", "write_bundle"]

# 2: a natively stored estimator is described by its serializer's name in native.json and leaves a passthrough
# placeholder in the skops pipeline (format 1 kept the library's scikit-learn wrapper in the skops file)
PIPELINE_FILE = "pipeline.skops"

# Types outside skops' defaults that every pipeline may contain, whatever its model: trainwright's own feature
# transformers (the public classes of features/transformers.py) and what the preprocessing holds.
BASE_TRUSTED_TYPES: frozenset[str] = frozenset({
    "numpy.dtype",
    "collections.OrderedDict",
    "sklearn.model_selection._split.KFold",  # the seeded cross-fitting splitter of TargetEncoder
    *(f"{transformers.__name__}.{name}" for name in transformers.__all__),
    *(f"{image.__name__}.{name}" for name in image.__all__ if name[0].isupper()),  # ImagePixels
    *(f"{audio.__name__}.{name}" for name in audio.__all__ if name[0].isupper()),  # AudioMFCCStats, AudioLogMel
})


def trusted_types() -> frozenset[str]:
    """The allowlist: the base types and every registered model family's share (its serializer's
    ``trusted_types``). Nothing else is loaded from a skops file."""
    return BASE_TRUSTED_TYPES.union(*(s.trusted_types for s in serializers()))


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
        pipeline, members = split_composite(pipeline)  # an ensemble: each member is a bundle of its own
        for i, member in enumerate(members):
            write_bundle(tmp / f"member{i}", member, {})
        if members:
            entries = [{"directory": f"member{i}", "manifest_sha256": sha256_file(tmp / f"member{i}" / MANIFEST_FILE)}
                       for i in range(len(members))]
            (tmp / COMPOSITE_FILE).write_text(json.dumps({"members": entries}, indent=2), encoding="utf-8")
        skops_pipeline, native = split_native(pipeline, tmp)
        sio.dump(skops_pipeline, tmp / PIPELINE_FILE)
        if native is not None:
            write_native_info(tmp, native)
        for name, doc in documents.items():
            path = tmp / f"{name}.json"
            if path.exists():
                raise BundleError(f"document {name!r} would overwrite the bundle's own file {path.name}")
            path.write_text(json.dumps(doc, indent=2, default=str, allow_nan=True), encoding="utf-8")
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {"format": BUNDLE_FORMAT, "files": files}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_json(directory: Path, name: str) -> Any:
    return json.loads((Path(directory) / f"{name}.json").read_text(encoding="utf-8"))


def read_pipeline(directory: Path) -> Any:
    """Load the skops pipeline after checking that it asks only for allowlisted types, then put back a final
    estimator its family stored natively (see ``_native``)."""
    import skops.io as sio

    path = Path(directory) / PIPELINE_FILE
    try:
        requested = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise BundleError(f"cannot read {path}: {type(exc).__name__}") from None
    refused = sorted(set(requested) - trusted_types())
    if refused:
        raise BundleError(f"refusing to load {path}: it asks for types outside the allowlist", [Problem(
            "bundle.untrusted_type", "type not allowed in a model bundle", column=t,
            fix="only bundles written by trainwright for supported model families load") for t in refused])
    try:
        pipeline = sio.load(path, trusted=list(requested))
    except Exception as exc:
        raise BundleError(f"cannot load {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    pipeline = attach_native(pipeline, Path(directory))
    return attach_composite(pipeline, Path(directory), _read_member)


def _read_member(directory: Path) -> Any:
    verify_manifest(directory)
    return read_pipeline(directory)
