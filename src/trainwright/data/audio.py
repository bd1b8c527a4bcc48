"""Audio clips at the door, the way images are (data/images.py): a folder of class folders of clips becomes a table
of (audio path, label), a CSV's relative clip paths are resolved against the CSV's folder, and every clip is decoded
once so that unreadable ones are named together in one error, never a traceback halfway through training.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis/Opus, MP3 and AIFF; it is imported inside the functions, so
the CLI's start-up does not pay for it. Resampling and the fixed duration belong to the features (features/audio.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from trainwright.data.images import (
    LABEL_COLUMN,
    class_folder_table,
    paths_with_suffixes,
    resolve_path_columns,
    unreadable_files_error,
)
from trainwright.exceptions import AUDIO_SUFFIXES, IMAGE_SUFFIXES, DataError, Problem

__all__ = ["AUDIO_COLUMN", "AUDIO_SUFFIXES", "LABEL_COLUMN", "audio_files", "check_audio", "is_audio_folder",
           "looks_like_audio_paths", "read_audio_folder", "resolve_audio_columns"]

AUDIO_COLUMN = "audio"


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def audio_files(folder: Path) -> list[Path]:
    """The audio clips directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if _is_audio(p))


def _count(folder: Path, suffixes: frozenset[str]) -> int:
    """Files ending in ``suffixes`` directly in ``folder`` and in its sub-folders (one level down)."""
    n = 0
    for entry in folder.iterdir():
        if entry.is_file():
            n += entry.suffix.lower() in suffixes
        elif entry.is_dir() and not entry.name.startswith("."):
            n += sum(f.suffix.lower() in suffixes for f in entry.iterdir() if f.is_file())
    return n


def is_audio_folder(folder: str | Path) -> bool:
    """A folder holding more audio clips than images (directly or in class sub-folders): read it as clips."""
    folder = Path(folder)
    return folder.is_dir() and _count(folder, AUDIO_SUFFIXES) > _count(folder, IMAGE_SUFFIXES)


def _problem_with(path: str) -> str | None:
    """Why a clip cannot be used (None when it decodes and holds at least one sample)."""
    import soundfile

    try:
        samples, _ = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises LibsndfileError, RuntimeError, TypeError for foreign files
        message = str(exc).replace(path, Path(path).name)  # the problem names the path already
        return f"{type(exc).__name__}: {message[:120]}"
    if samples.shape[0] == 0:
        return "the clip holds no samples (0 s of sound)"
    return None


def check_audio(paths: Iterable[str | Path], where: str) -> None:
    """Decode every clip; a DataError names each one that cannot be read or is empty."""
    bad = [(str(path), reason) for path in paths if (reason := _problem_with(str(path))) is not None]
    if bad:
        raise unreadable_files_error(bad, "audio", where)


def read_audio_folder(folder: str | Path, *, check: bool = True) -> pd.DataFrame:
    """A folder whose sub-folders are classes -> a table (audio: absolute path, label: the sub-folder's name), in a
    fixed order (class, then file name). A flat folder of clips (what ``predict`` gets) -> the audio column only."""
    folder = Path(folder)
    frame = class_folder_table(folder, audio_files, AUDIO_COLUMN)
    if frame.empty:
        suffixes = ", ".join(sorted(AUDIO_SUFFIXES))
        raise DataError(f"no audio clips found in {folder}", [Problem(
            "data.no_audio", "neither class sub-folders of clips nor clips directly in the folder",
            fix=f"put each class's clips ({suffixes}) in a sub-folder named after the class")])
    if check:
        check_audio(frame[AUDIO_COLUMN], str(folder))
    return frame


def looks_like_audio_paths(values: pd.Series) -> bool:
    """At least 95% of the present values are strings ending in an audio file suffix."""
    return paths_with_suffixes(values, AUDIO_SUFFIXES)


def resolve_audio_columns(frame: pd.DataFrame, base: str | Path, *, check: bool = True) -> pd.DataFrame:
    """Audio-path columns of a table read from a file in ``base``: relative paths made absolute against it, then
    every clip decoded once (unreadable ones named together)."""
    return resolve_path_columns(frame, base, AUDIO_SUFFIXES, check_audio if check else None)
