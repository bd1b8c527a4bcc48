"""One exception tree. Each subclass maps to one CLI exit code and one HTTP status.

A user's mistake is reported as one line per problem (``problems``) with the fix; no traceback.

Exit codes, the same for every command (the README's tour has the same table)::

    0    success; audit: no blocking finding; compare: the challenger is not worse; monitor: no drift
    1    unexpected error: a bug, shown with its traceback (TrainwrightError itself)
    2    usage or bad input (ConfigError, DataError, SchemaMismatchError, and the CLI's usage errors):
         unknown option, missing argument, a value of the wrong type or out of range, an invalid config, an
         output path refused (an input of the command, a folder, unwritable); data that cannot be used as given
         (file missing or unreadable, target absent or infinite, columns the model needs), and an audit with a
         blocking finding
    3    training (TrainingError): no candidate could be trained
    4    model bundle (BundleError): missing, altered, unsafe or unreadable
    5    experiment store (TrackingError): the MLflow store cannot be used
    6    a gate failed (GateFailed): compare found the challenger significantly worse, monitor found drift
    130  interrupted (Ctrl+C)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AUDIO_SUFFIXES",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "IMAGE_SUFFIXES",
    "BundleError",
    "ConfigError",
    "DataError",
    "GateFailed",
    "Problem",
    "SchemaMismatchError",
    "TrackingError",
    "TrainingError",
    "TrainwrightError",
    "check_bundle_dir",
    "check_data_file",
]


EXIT_USAGE = 2  # also the code of ConfigError and DataError: the command line or its input is wrong
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl+C


@dataclass(frozen=True)
class Problem:
    """One finding at the door: a code, where it is, what was seen and what to do."""

    code: str
    message: str
    column: str | None = None
    fix: str | None = None
    examples: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"[{self.column}] " if self.column else ""
        text = f"{self.code}: {where}{self.message}"
        if self.examples:
            text += f" (e.g. {', '.join(self.examples[:3])})"
        if self.fix:
            text += f" -> {self.fix}"
        return text


class TrainwrightError(Exception):
    """Root of every error the workbench raises on purpose."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)

    def lines(self) -> list[str]:
        """The message followed by one line per problem."""
        return [self.message, *(f"  - {p}" for p in self.problems)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


class ConfigError(TrainwrightError):
    """The configuration (file or flags) is invalid, or an output path is refused."""

    exit_code = EXIT_USAGE
    http_status = 400


class DataError(TrainwrightError):
    """The data cannot be used as given: file, target, classes, columns; an audit's blocking finding."""

    exit_code = EXIT_USAGE
    http_status = 422


class SchemaMismatchError(DataError):
    """New data does not match the schema the model was trained on."""


class TrainingError(TrainwrightError):
    """No candidate could be trained."""

    exit_code = 3
    http_status = 500


class BundleError(TrainwrightError):
    """A model bundle is missing, altered, unsafe or unreadable."""

    exit_code = 4
    http_status = 500


class TrackingError(TrainwrightError):
    """The experiment store cannot be used."""

    exit_code = 5
    http_status = 500


class GateFailed(TrainwrightError):
    """A check meant to gate a pipeline (regression gate, drift) did not pass."""

    exit_code = 6
    http_status = 409


# The two checks at the door of every command that reads a file or a bundle. They live here, in the bottom layer
# with no heavy imports, so the CLI can refuse a mistyped path at once instead of after ~3 s of importing pandas,
# scikit-learn and MLflow; the loaders call the same functions.

# the files a folder of images may hold (data/images.py reads them); here so the door check needs no import
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
# the audio clips a folder may hold (data/audio.py reads them with soundfile: libsndfile reads all of these)
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
_MEDIA_SUFFIXES = IMAGE_SUFFIXES | AUDIO_SUFFIXES


def _holds_media(folder: Path) -> bool:
    """Images or audio clips directly in ``folder`` or in its class sub-folders (one level down)."""
    for entry in folder.iterdir():
        if entry.is_file() and entry.suffix.lower() in _MEDIA_SUFFIXES:
            return True
        if entry.is_dir() and any(f.suffix.lower() in _MEDIA_SUFFIXES for f in entry.iterdir() if f.is_file()):
            return True
    return False


def check_data_file(path: str | Path) -> None:
    """DataError unless ``path`` is an existing, non-empty file, a folder of images or audio clips (class
    sub-folders), or a folder of Parquet files (shards of one table)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}", [Problem("data.missing", f"no file at {path}", fix="check the path")])
    if path.is_dir():
        if _holds_media(path) or next(path.rglob("*.parquet"), None) is not None:  # media, or Parquet shards
            return
        raise DataError(f"{path} is a folder", [Problem(
            "data.not_a_file", "expected a CSV, Parquet or JSON Lines file, a folder of Parquet files, or a folder "
            "of images or audio clips",
            fix="name a file, or a folder with one sub-folder of images (or audio clips) per class")])
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}", [Problem("data.empty", "the file has 0 bytes", fix="check the export that wrote it")])


def check_bundle_dir(path: str | Path) -> None:
    """BundleError unless ``path`` is a directory (its manifest is checked when the bundle is loaded)."""
    if not Path(path).is_dir():
        raise BundleError(f"no model bundle at {path}", [Problem("bundle.missing", "not a directory",
                                                                   fix="pass the runs/<id>/model directory")])
