"""Tracking as a listener of the workflow's events: the orchestrator never calls the tracker itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainwright.tracking.base import Tracker

if TYPE_CHECKING:  # the tracking writer process imports this package: it must not pull the training stack in
    from trainwright.training.events import Event

__all__ = ["TrackingListener"]


class TrackingListener:
    """Turns events into Tracker calls: start, one trial per leaderboard row once the choice is made, the model as
    soon as its bundle is complete, then finish (or fail). A tracker with a ``curve(trial_id, epochs)`` method also
    gets the per-epoch values of every model trained in epochs, as the ladder fits it."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def __call__(self, event: Event) -> None:
        if event.step == "run" and event.stage == "start" and hasattr(event.payload, "run_id"):  # a RunStart
            self.tracker.start(event.payload.run_id, config=event.payload.config, tags=event.payload.tags)
        elif event.step == "curve" and event.trial is not None and event.payload:  # per-epoch values of a fit
            curve = getattr(self.tracker, "curve", None)
            if curve is not None:
                curve(event.trial.trial_id, event.payload)
        elif event.step == "choice":
            board, choice = event.payload
            for trial in board.trials:
                self.tracker.trial(trial, chosen=trial.trial_id == choice.chosen)
        elif event.step == "bundle" and event.stage == "done" and event.payload is not None:
            model = getattr(self.tracker, "model", None)
            if model is not None:
                model(event.payload)
        elif event.step == "run" and event.stage == "done":
            self.tracker.finish(event.payload, run_dir=event.payload.run_dir)
        elif event.step == "run" and event.stage == "failed":
            self.tracker.fail(event.payload)
