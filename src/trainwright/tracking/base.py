"""The Tracker protocol: what the orchestrator tells the log, and a tracker that records nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["NullTracker", "Tracker", "interval_metrics"]


def interval_metrics(interval: dict[str, Any] | None) -> dict[str, float]:
    """The test score's bootstrap interval as two metrics (``runs show`` prints them)."""
    if not interval:
        return {}
    return {f"test_{interval['metric']}_ci_low": interval["low"], f"test_{interval['metric']}_ci_high": interval["high"]}


@runtime_checkable
class Tracker(Protocol):
    """Called by the workflow only, in this order: start, trial (many), finish. ``fail`` instead of finish."""

    def start(self, run_id: str, *, config: dict[str, Any], tags: dict[str, str]) -> None: ...

    def trial(self, trial: Any, *, chosen: bool = False) -> None: ...

    def finish(self, result: Any, *, run_dir: Path) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class NullTracker:
    """Records nothing (``--no-tracking``)."""

    def start(self, run_id: str, *, config: dict[str, Any], tags: dict[str, str]) -> None:
        return None

    def trial(self, trial: Any, *, chosen: bool = False) -> None:
        return None

    def finish(self, result: Any, *, run_dir: Path) -> None:
        return None

    def fail(self, error: BaseException) -> None:
        return None
