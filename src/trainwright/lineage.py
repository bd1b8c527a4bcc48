"""Where a number came from: package versions, git commit, Python, command line."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "lineage", "package_version"]

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost-cpu", "xgboost", "catboost", "skops", "scipy")


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
