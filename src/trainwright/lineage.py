"""Where a number came from: package versions, git commit, Python, command line; for a fine-tuned model, the bundle
it was carried on from and the data it saw (``parent_lineage``)."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "lineage", "package_version", "parent_lineage"]

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost-cpu", "xgboost", "catboost", "skops", "scipy",
              "torch")


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_commit(directory: Path | None = None) -> str | None:
    """The commit of the working directory's git checkout (``+dirty`` when it has changes), or None."""
    cwd = str(directory or Path.cwd())
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
                               text=True, timeout=5)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def lineage(seed: int | None = None) -> dict[str, Any]:
    libraries = {name: v for name in _LIBRARIES if (v := package_version(name))}
    return {
        "trainwright": package_version("trainwright") or "unknown",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "command": " ".join(sys.argv),
        "seed": seed,
        "libraries": libraries,
    }


def parent_lineage(path: Path, fingerprint: str, metadata: dict[str, Any], data_source: str,
                   data_fingerprints: dict[str, str]) -> dict[str, Any]:
    """What a fine-tuned bundle records of its origin: the parent bundle (its path, the SHA-256 of its manifest,
    which seals every file of it, and the run and trial it came from, with the data that run saw) and the new data
    it was fine-tuned on (its source and fingerprints). A chain of fine-tunings nests: the parent's own parent is
    kept under ``parent.fine_tuned_from``."""
    parent = {"path": str(Path(path).resolve()), "manifest_sha256": fingerprint, "run_id": metadata.get("run_id"),
              "trial_id": metadata.get("trial_id"), "model": metadata.get("model"),
              "data_fingerprints": metadata.get("fingerprints", {})}
    if metadata.get("fine_tuned_from"):
        parent["fine_tuned_from"] = metadata["fine_tuned_from"]
    return {"parent": parent, "data": {"source": data_source, "fingerprints": dict(data_fingerprints)}}
