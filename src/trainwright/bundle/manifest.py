"""The manifest that seals a bundle: every file's SHA-256 and the format. Reading it needs no model library, so a
bundle can be checked by a process that never loads it (the tracking writer, the CLI's door checks)."""

from __future__ import annotations

import json
from pathlib import Path

from trainwright.exceptions import BundleError, Problem, check_bundle_dir
from trainwright.fileio import sha256_file

__all__ = ["BUNDLE_FORMAT", "MANIFEST_FILE", "bundle_fingerprint", "verify_manifest"]

BUNDLE_FORMAT = "trainwright-bundle/2"
MANIFEST_FILE = "manifest.json"


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
        raise BundleError(f"unsupported bundle format {manifest.get('format')!r} in {directory}", [Problem(
            "bundle.format", f"this trainwright reads {BUNDLE_FORMAT}", column=MANIFEST_FILE,
            fix="retrain, or load it with the trainwright version that wrote it")])
    problems = []
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            problems.append(Problem("bundle.file_missing", "file listed in the manifest is missing", column=name))
        elif sha256_file(path) != expected:
            problems.append(Problem("bundle.file_changed", "file differs from the manifest (SHA-256)", column=name,
                                    fix="the bundle was modified after it was written; restore it from the run"))
    extra = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name not in files and p.name != MANIFEST_FILE)
    problems += [Problem("bundle.file_unlisted", "file not in the manifest", column=n, fix="remove it") for n in extra]
    if problems:
        raise BundleError(f"bundle at {directory} failed its integrity check", problems)
    return files


def bundle_fingerprint(directory: Path) -> str:
    """The bundle's identity: the SHA-256 of its manifest, which lists every file's SHA-256 (checked first)."""
    verify_manifest(directory)
    return sha256_file(Path(directory) / MANIFEST_FILE)
