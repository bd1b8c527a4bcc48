"""Output paths checked before any work: no command overwrites one of its inputs, and none finds out after minutes
of work that it cannot write where it was told to.

Standard library only (and the bottom layer's exceptions), so a refusal comes in milliseconds, before pandas,
scikit-learn or MLflow are imported. Every refusal is a ``ConfigError`` (exit code 2: the command line is wrong)
naming the path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from trainwright.exceptions import ConfigError, Problem

__all__ = ["check_output_dir", "check_output_file"]

PathLike = str | os.PathLike[str]


def _same(a: Path, b: Path) -> bool:
    """The same file or folder: equal once resolved (symlinks, ``..``), or the same inode (hard links)."""
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _within(path: Path, folder: Path) -> bool:
    return folder.is_dir() and (path == folder or folder in path.parents)


def _refuse(message: str, code: str, path: str, fix: str) -> ConfigError:
    return ConfigError(message, [Problem(code, path, fix=fix)])


def _check_not_an_input(path: Path, shown: str, inputs: Iterable[PathLike]) -> None:
    """``path`` (resolved) is none of ``inputs`` and lies inside none of the input folders (a bundle)."""
    for given in inputs:
        source = Path(given).expanduser().resolve()
        if _same(path, source):
            alias = "" if os.fspath(given) == shown else f" ({os.fspath(given)})"
            raise _refuse(f"{shown} is also an input of this command{alias}: writing it would destroy it",
                          "output.is_input", shown, "write to another path")
        if _within(path, source):
            raise _refuse(f"{shown} lies inside the input folder {given}: writing there would alter it",
                          "output.inside_input", shown, "write outside the input folder")


def _check_writable_from(path: Path, shown: str) -> None:
    """The nearest existing folder at or above ``path`` is a writable folder (the writer creates the rest)."""
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise _refuse(f"cannot write {shown}: {existing} is a file, not a folder", "output.parent_not_a_dir", shown,
                      f"move {existing} or choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _refuse(f"cannot write {shown}: the folder {existing} is not writable", "output.not_writable", shown,
                      "choose a folder you can write to")


def check_output_file(path: PathLike, *, inputs: Iterable[PathLike] = (), suffixes: Sequence[str] = ()) -> Path:
    """Refuse ``path`` as an output file unless it can be written without harm; return it unchanged.

    Refused: one of ``inputs`` (resolving symlinks, ``..`` and hard links) or a file inside an input folder; an
    existing folder; a path under a file or in a folder that is not writable; a suffix not in ``suffixes`` (when
    given: the formats the writer honours, lower case with the dot).
    """
    shown, suffix = os.fspath(path), Path(path).suffix
    resolved = Path(path).expanduser().resolve()
    _check_not_an_input(resolved, shown, inputs)
    if resolved.is_dir():
        raise _refuse(f"{shown} is a folder: expected a file name", "output.is_dir", shown,
                      f"name a file, e.g. {os.path.join(shown, 'predictions' + (suffixes[0] if suffixes else ''))}")
    if suffixes and suffix.lower() not in suffixes:
        got = f"'{suffix}'" if suffix else "no extension"
        raise _refuse(f"cannot write {shown}: {got} is not a supported output format", "output.format", shown,
                      f"end the name in {', '.join(suffixes)}")
    _check_writable_from(resolved.parent, shown)
    return Path(path)


def check_output_dir(path: PathLike, *, inputs: Iterable[PathLike] = (), files: Iterable[str] = (),
                     empty: bool = False) -> Path:
    """Refuse ``path`` as an output folder unless it can be written without harm; return it unchanged.

    Refused: an existing file; one of ``inputs`` or a folder inside an input folder; a folder where one of the
    ``files`` the command will write is an input; a path under a file or in a folder that is not writable; with
    ``empty``, a folder that exists and is not empty. The folder itself is not created here.
    """
    shown = os.fspath(path)
    resolved = Path(path).expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise _refuse(f"{shown} is a file, not a folder", "output.not_a_dir", shown, "name a folder (new or existing)")
    inputs = list(inputs)
    _check_not_an_input(resolved, shown, inputs)
    for name in files:
        _check_not_an_input(resolved / name, os.path.join(shown, name), inputs)
    if empty and resolved.is_dir() and any(resolved.iterdir()):
        raise _refuse(f"{shown} exists and is not empty", "output.not_empty", shown, "choose a new folder")
    _check_writable_from(resolved, shown)
    return Path(path)
