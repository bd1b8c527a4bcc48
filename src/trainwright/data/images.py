"""Images at the door: a folder of class folders becomes a table of (image path, label), a CSV's relative image
paths are resolved against the CSV's folder, and every file is opened once so that unreadable ones are named
together in one error (never a traceback halfway through training). Pillow is imported inside the functions.
The folder-to-table and path-column helpers here serve audio clips too (data/audio.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from trainwright.exceptions import IMAGE_SUFFIXES, DataError, Problem

__all__ = ["IMAGE_COLUMN", "IMAGE_SUFFIXES", "LABEL_COLUMN", "check_images", "class_folder_table", "image_files",
           "looks_like_image_paths", "paths_with_suffixes", "read_image_folder", "resolve_image_columns",
           "resolve_path_columns", "unreadable_files_error"]

IMAGE_COLUMN = "image"
LABEL_COLUMN = "label"
_SHOWN = 10


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if _is_image(p))


def unreadable_files_error(bad: list[tuple[str, str]], noun: str, where: str) -> DataError:
    """One DataError naming each (path, reason) that cannot be read (the first ten, then a count): images and audio
    clips are refused the same way at the door."""
    code = f"data.unreadable_{noun.replace(' ', '_')}"
    problems = [Problem(code, reason, column=path, fix="remove or replace the file") for path, reason in bad[:_SHOWN]]
    if len(bad) > _SHOWN:
        problems.append(Problem(code, f"... and {len(bad) - _SHOWN} more unreadable {noun} files",
                                fix="remove or replace them"))
    return DataError(f"{len(bad)} {noun} file(s) in {where} cannot be read", problems)


def check_images(paths: Iterable[str | Path], where: str) -> None:
    """Open every image (header and pixel data); a DataError names each one that cannot be read."""
    from PIL import Image

    bad: list[tuple[str, str]] = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
        except Exception as exc:  # Pillow raises many types for a broken or foreign file
            bad.append((str(path), f"{type(exc).__name__}: {str(exc)[:120]}"))
    if bad:
        raise unreadable_files_error(bad, "image", where)


def class_folder_table(folder: Path, files: Callable[[Path], list[Path]], column: str) -> pd.DataFrame:
    """A folder whose sub-folders are classes -> a table (``column``: absolute path, label: the sub-folder's name),
    in a fixed order (class, then file name); a flat folder (no sub-folders) -> the path column only."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        rows = [(str(f.resolve()), c.name) for c in classes for f in files(c)]
        return pd.DataFrame(rows, columns=[column, LABEL_COLUMN])
    return pd.DataFrame({column: [str(f.resolve()) for f in files(folder)]})


def read_image_folder(folder: str | Path, *, check: bool = True) -> pd.DataFrame:
    """A folder whose sub-folders are classes -> a table (image: absolute path, label: the sub-folder's name), in
    a fixed order (class, then file name). A flat folder of images (no sub-folders: what ``predict`` gets) -> a
    table with the image column only."""
    folder = Path(folder)
    frame = class_folder_table(folder, image_files, IMAGE_COLUMN)
    if frame.empty:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise DataError(f"no images found in {folder}", [Problem(
            "data.no_images", "neither class sub-folders of images nor images directly in the folder",
            fix=f"put each class's images ({suffixes}) in a sub-folder named after the class")])
    if check:
        check_images(frame[IMAGE_COLUMN], str(folder))
    return frame


def paths_with_suffixes(values: pd.Series, suffixes: frozenset[str]) -> bool:
    """At least 95% of the first present values are strings ending in one of ``suffixes``."""
    present = values.dropna().iloc[:200]  # a look at the first values: tables streamed in chunks stay fast
    if present.empty or not (pd.api.types.is_object_dtype(present) or pd.api.types.is_string_dtype(present)):
        return False
    found = present.astype(str).str.lower().str.extract(r"(\.[a-z0-9]+)$", expand=False)
    return bool(found.isin(suffixes).mean() >= 0.95)


def looks_like_image_paths(values: pd.Series) -> bool:
    """At least 95% of the present values are strings ending in an image file suffix."""
    return paths_with_suffixes(values, IMAGE_SUFFIXES)


def resolve_path_columns(frame: pd.DataFrame, base: str | Path, suffixes: frozenset[str],
                         check: Callable[[pd.Series, str], None] | None) -> pd.DataFrame:
    """Columns of paths ending in ``suffixes`` in a table read from a file in ``base``: relative paths made
    absolute against it (a CSV moved together with its files keeps working), then every file checked."""
    base = Path(base)
    columns = [c for c in frame.columns if paths_with_suffixes(frame[c], suffixes)]
    if not columns:
        return frame
    frame = frame.copy()
    for column in columns:
        present = frame[column].notna()
        frame.loc[present, column] = [str(p if Path(p).is_absolute() else (base / p).resolve())
                                      for p in frame.loc[present, column].astype(str)]
        if check is not None:
            check(frame.loc[present, column], f"column {column!r}")
    return frame


def resolve_image_columns(frame: pd.DataFrame, base: str | Path, *, check: bool = True) -> pd.DataFrame:
    """Image-path columns of a table read from a file in ``base``: relative paths made absolute against it (a
    CSV moved together with its images keeps working), then every file checked."""
    return resolve_path_columns(frame, base, IMAGE_SUFFIXES, check_images if check else None)
