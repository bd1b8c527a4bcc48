"""Per-epoch curves of the torch models: collected while they train, named after the trial they belong to, written
as TensorBoard event files (``--tensorboard DIR``) and kept for the run report's training curves.

``EpochCurves`` is both a listener of the workflow's events and an observer of the torch loop
(``models/_torch_loop.add_observer``). The loop tells it each epoch of every fit in this process; the events that
follow a fit say which trial it was (``ladder``/``search`` done: the trial; ``cv``, ``seeds``: its folds and
seeds; ``refit``, ``analysis``: the steps), so the curves are filed under the trial id. It starts watching at the
first model that needs torch (importing torch earlier would slow every tabular run) and stops when the run ends.
Fits in worker processes (``--workers N``, Ray) are not seen; their ladder curve still arrives with the ``curve``
event of a sequential ladder.

TensorBoard files: ``DIR/<run id>/<trial id>[/<part>]/events.out.tfevents...``, scalars ``loss/train``,
``validation/score`` (higher is better: minus the validation loss for the built-in networks), ``learning_rate``
and ``seconds/epoch``, stepped by epoch. Written with ``torch.utils.tensorboard.SummaryWriter``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["EpochCurves", "write_tensorboard"]

_PARTS = {"cv": "cv/fold-{}", "seeds": "seeds/seed-{}"}
_TRIAL_STEPS = {"ladder", "search", "cv", "seeds"}
_SCALARS = (("train_loss", "loss/train"), ("val_score", "validation/score"), ("lr", "learning_rate"),
            ("seconds", "seconds/epoch"))


def write_tensorboard(log_dir: str | Path, history: list[dict[str, float]]) -> Path:
    """One fit's epochs as a TensorBoard event file in ``log_dir`` (created); returns the folder."""
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(log_dir)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for record in history:
            step = int(record["epoch"])
            for key, tag in _SCALARS:
                if key in record:
                    writer.add_scalar(tag, float(record[key]), step, walltime=record.get("wall"))
    finally:
        writer.close()
    return folder


def _writable(folder: Path) -> Path:
    """The TensorBoard folder, created now: a folder that cannot be written fails the run before any model trains."""
    from trainwright.exceptions import ConfigError, Problem

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write TensorBoard files to {folder}", [Problem(
            "config.tensorboard", f"{folder}: {exc.strerror or exc}", fix="pass a folder you can write to "
            "(--tensorboard DIR)")]) from None
    return folder


class EpochCurves:
    """See the module docstring. ``curves`` maps a label (trial id, with ``/cv/fold-2`` and the like for the
    parts of a trial) to its epochs, in the order the fits ended."""

    def __init__(self) -> None:
        self.curves: dict[str, list[dict[str, float]]] = {}
        self.tensorboard: Path | None = None
        self.run_id = "run"
        self._pending: list[list[dict[str, float]]] = []
        self._stop: Any = None

    # --- the loop's side -------------------------------------------------------------------------
    def fit_started(self, info: dict[str, Any]) -> None:
        self._pending.append([])

    def epoch_ended(self, record: dict[str, float]) -> None:
        if not self._pending:
            self._pending.append([])
        self._pending[-1].append({**record, "wall": time.time()})

    def fit_ended(self, result: Any) -> None:
        pass

    # --- the workflow's side ---------------------------------------------------------------------
    def __call__(self, event: Any) -> None:
        if event.step == "run" and event.stage == "start" and hasattr(event.payload, "run_id"):
            self.run_id = event.payload.run_id
            folder = event.payload.config.get("tensorboard")
            self.tensorboard = _writable(Path(folder)) if folder else None
        elif event.stage == "start" and event.spec is not None and "needs_torch" in event.spec.tags:
            self._watch()
        elif event.step == "curve" and event.trial is not None and event.payload:
            if not any(k == event.trial.trial_id or k.startswith(event.trial.trial_id + "/") for k in self.curves):
                self._file(event.trial.trial_id, [[dict(r) for r in event.payload]])  # fitted out of sight
        elif event.stage in {"done", "failed"} and event.step in _TRIAL_STEPS and event.trial is not None:
            self._file(event.trial.trial_id, self._take(), _PARTS.get(event.step))
        elif event.stage == "done" and event.spec is None and event.step in {"refit", "analysis"}:
            self._file(event.step, self._take())
        elif event.step == "run" and event.stage in {"done", "failed"}:
            self._file("other", self._take())
            self.close()

    def _watch(self) -> None:
        if self._stop is None:
            from trainwright.models._torch_loop import add_observer

            self._stop = add_observer(self)

    def close(self) -> None:
        """Stop watching fits (the run ended)."""
        if self._stop is not None:
            self._stop()
            self._stop = None

    def _take(self) -> list[list[dict[str, float]]]:
        fits, self._pending = [f for f in self._pending if f], []
        return fits

    def _file(self, label: str, fits: list[list[dict[str, float]]], part: str | None = None) -> None:
        for i, history in enumerate(fits, start=1):
            name = f"{label}/{part.format(i)}" if part else (label if len(fits) == 1 else f"{label}/fit-{i}")
            base, n = name, 1
            while name in self.curves:  # the same trial scored again (its CV after the search): keep both
                n += 1
                name = f"{base}-{n}"
            self.curves[name] = history
            if self.tensorboard is not None:
                write_tensorboard(self.tensorboard / self.run_id / name, history)
