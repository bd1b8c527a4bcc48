"""Tracking as a listener of the workflow's events: the orchestrator never calls the tracker itself."""

from __future__ import annotations

from trainwright.tracking.base import Tracker
from trainwright.training.events import Event, RunStart

__all__ = ["TrackingListener"]


class TrackingListener:
    """Turns events into Tracker calls: start, one trial per leaderboard row once the choice is made, the model as
    soon as its bundle is complete, then finish (or fail)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def __call__(self, event: Event) -> None:
        if event.step == "run" and event.stage == "start" and isinstance(event.payload, RunStart):
            self.tracker.start(event.payload.run_id, config=event.payload.config, tags=event.payload.tags)
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
