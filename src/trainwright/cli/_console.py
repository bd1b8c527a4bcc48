"""Terminal output shared by the commands: one console for results, one for errors."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from trainwright.exceptions import TrainwrightError

__all__ = ["console", "err_console", "print_error", "surfaced_warnings"]

console = Console()
err_console = Console(stderr=True)


def print_error(exc: TrainwrightError) -> None:
    err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True, soft_wrap=True)
    for problem in exc.problems:
        err_console.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)


@contextmanager
def surfaced_warnings() -> Iterator[None]:
    """Show the workbench's own warnings to the user as one yellow line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if w.category.__module__.startswith("trainwright"):
            err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
