"""One exception tree. Each subclass maps to one CLI exit code and one HTTP status.

A user's mistake is reported as one line per problem (``problems``) with the fix; no traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
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
    """The configuration (file or flags) is invalid."""

    exit_code = 2
    http_status = 400


class DataError(TrainwrightError):
    """The data cannot be used as given: file, target, classes, columns."""

    exit_code = 2
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

def check_data_file(path: str | Path) -> None:
    """DataError unless ``path`` is an existing, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}", [Problem("data.missing", f"no file at {path}", fix="check the path")])
    if path.is_dir():
        raise DataError(f"{path} is a folder", [Problem("data.not_a_file", "expected a CSV, Parquet or JSON Lines file", fix="name a file")])
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}", [Problem("data.empty", "the file has 0 bytes", fix="check the export that wrote it")])


def check_bundle_dir(path: str | Path) -> None:
    """BundleError unless ``path`` is a directory (its manifest is checked when the bundle is loaded)."""
    if not Path(path).is_dir():
        raise BundleError(f"no model bundle at {path}", [Problem("bundle.missing", "not a directory",
                                                                   fix="pass the runs/<id>/model directory")])
