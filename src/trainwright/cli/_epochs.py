"""The per-epoch progress bar of the torch models: one more line under the run's progress bar while a network
trains, with the epoch, the training loss and the validation score, fed by the torch loop itself.

Shown only on a terminal (never in captured output, tests or pipes), and only for fits of this process: fits in
worker processes (``--workers N``, Ray) train out of sight. Torch is imported only once a model that needs it
starts (``models/_torch_loop.add_observer``), so a tabular run never pays for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["EpochBar", "epoch_bar"]


class EpochBar:
    """A listener of the run's events and an observer of the torch loop, drawing on ``progress`` (rich)."""

    def __init__(self, progress: Any, *, enabled: bool) -> None:
        self.progress, self.enabled = progress, enabled
        self.task_id: Any = None
        self.model = ""
        self.max_epochs = 0
        self._stop: Any = None

    def __call__(self, event: Any) -> None:
        if event.stage == "start" and event.spec is not None:
            self.model = event.spec.name
            if self.enabled and self._stop is None and "needs_torch" in event.spec.tags:
                from trainwright.models._torch_loop import add_observer

                self._stop = add_observer(self)
        elif event.stage == "start" and event.spec is None:
            self.model = event.step  # refit, analysis: the chosen model's last fits

    def fit_started(self, info: dict[str, Any]) -> None:
        self.max_epochs = int(info["max_epochs"])
        description = f"  {self.model}: epoch {int(info['first_epoch']) - 1}/{self.max_epochs}"
        if self.task_id is None:
            self.task_id = self.progress.add_task(description, total=self.max_epochs)
        self.progress.reset(self.task_id, total=self.max_epochs, completed=int(info["first_epoch"]) - 1,
                            description=description, visible=True)

    def epoch_ended(self, record: dict[str, float]) -> None:
        if self.task_id is None:
            return
        text = f"  {self.model}: epoch {int(record['epoch'])}/{self.max_epochs}  loss {record['train_loss']:.4f}"
        if "val_score" in record:
            text += f"  validation {record['val_score']:.4f}"
        self.progress.update(self.task_id, completed=int(record["epoch"]), description=text)

    def fit_ended(self, result: Any) -> None:
        if self.task_id is not None:
            self.progress.update(self.task_id, visible=False)

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


@contextlib.contextmanager
def epoch_bar(progress: Any) -> Iterator[EpochBar]:
    """An ``EpochBar`` on ``progress`` (drawn only when its console is a terminal), stopped when the block ends."""
    bar = EpochBar(progress, enabled=bool(progress.console.is_terminal))
    try:
        yield bar
    finally:
        bar.close()
