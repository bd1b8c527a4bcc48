"""Events out of the one orchestrator: progress bars, tracking and the report are listeners, never callers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwright.evaluation import Trial
from trainwright.models import ModelSpec

__all__ = ["Event", "Listener", "RunFiles", "RunStart", "broadcast"]


@dataclass(frozen=True)
class RunStart:
    """The ``run`` step's start: what the log records before any model is fitted."""

    run_id: str
    config: dict[str, Any]
    tags: dict[str, str]


@dataclass(frozen=True)
class RunFiles:
    """The ``write`` step: the folder that becomes the run folder once every listener returned, and the result."""

    directory: Path
    result: Any


@dataclass(frozen=True)
class Event:
    """Progress of a run. ``stage`` is start / done / skipped / failed.

    ``step`` says where the run is, in this order: ``prepare`` (``payload``: the data as it passed the door,
    audit included, before any model is fitted); ``run`` start (``payload``: a ``RunStart``); ``ladder``, ``cv``
    and ``seeds`` (with a ``spec``, and the ``trial`` when it ends); ``curve`` after a ladder fit of a model
    trained in epochs (``payload``: one dict per epoch: epoch, train_loss, val_score, lr, seconds); ``choice`` (``payload``: the final
    Leaderboard and Choice); ``refit`` (the chosen model on train+validation, scored once on test);
    ``analysis``; ``bundle``; ``write`` (``payload``: a ``RunFiles`` whose directory becomes the run folder: a
    listener may add files to it); ``run`` done (``payload``: the TrainResult) or failed (the exception).
    """

    stage: str
    spec: ModelSpec | None
    trial: Trial | None = None
    step: str = "ladder"
    payload: Any = None


Listener = Callable[[Event], None]


def broadcast(listeners: Sequence[Listener | None]) -> Listener:
    """One listener that tells each of ``listeners`` in turn."""
    chosen = [listener for listener in listeners if listener is not None]

    def notify(event: Event) -> None:
        for listener in chosen:
            listener(event)

    return notify
