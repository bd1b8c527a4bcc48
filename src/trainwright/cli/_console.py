"""Terminal output shared by the commands: one console for results, one for errors."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from trainwright.exceptions import TrainwrightError

__all__ = ["console", "err_console", "print_error", "print_usage_error", "surfaced_warnings"]

# Output that goes to a file or a pipe has no width to follow: Rich would assume 80 columns and fold the leaderboard.
# 120 fits every column of it; COLUMNS, when set, still wins.
_PIPED_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
console = Console(width=_PIPED_WIDTH)
err_console = Console(stderr=True)


def print_error(exc: TrainwrightError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, markup=True, soft_wrap=True)
    for problem in exc.problems:
        err_console.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)


def print_usage_error(message: str) -> None:
    """A usage error (unknown option, missing argument, a value of the wrong type): one line, as ``print_error``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


@contextmanager
def surfaced_warnings() -> Iterator[None]:
    """Show the workbench's own warnings to the user as one yellow line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if w.category.__module__.startswith("trainwright"):
            err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
