"""The MLflow tracker: one parent run per ``train``, one child run per trial, the chosen model as a pyfunc model.

The writing happens in a writer process (``tracking/writer.py``) fed through a pipe, so the training process never
imports MLflow and pays for tracking only what it waits for at the end. The parent run is created as soon as the run
starts (status RUNNING, with its config and data fingerprints), so a killed run leaves a record, which the writer
marks KILLED when the pipe closes. ``check`` fails before any training on a store that cannot be used.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trainwright.config import Config
from trainwright.exceptions import Problem, TrackingError
from trainwright.tracking.base import NullTracker, Tracker, interval_metrics
from trainwright.tracking.store import EXPERIMENT, ModelKwargs, Store

__all__ = ["MLflowTracker", "default_tracker", "run_summary"]

_WAIT_SECONDS = 300  # the longest the end of a run waits for the writer (a remote store, a large model)


def default_tracker(cfg: Config, model_kwargs: ModelKwargs | str | None = None) -> Tracker:
    """The tracker a run gets unless one is passed: MLflow, or nothing with ``tracking: false`` or
    ``TRAINWRIGHT_TRACKING=0``. ``model_kwargs(bundle_dir)`` gives the pyfunc arguments of the chosen model
    (``trainwright.bundle.pyfunc.pyfunc_kwargs``; passed in because tracking must not import bundle)."""
    if not cfg.tracking or os.environ.get("TRAINWRIGHT_TRACKING", "1").lower() in {"0", "false", "no", "off"}:
        return NullTracker()
    return MLflowTracker(cfg.tracking_uri, model_kwargs=model_kwargs)


def run_summary(result: Any, *, with_interval: bool = True) -> dict[str, Any]:
    """What the parent run records at the end, as plain values (they cross a process boundary). The bootstrap
    interval costs a few hundred resamples: without ``with_interval`` the writer takes it from the run's
    report.json, which computed it already."""
    chosen = result.chosen
    metrics = {**{f"test_{k}": v for k, v in result.test_scores.items()},
               **{f"val_{k}": v for k, v in chosen.val_scores.items()},
               **{f"time_{k}": v for k, v in result.timings.items()}}
    if with_interval:
        metrics |= interval_metrics(getattr(result, "test_interval", None))
    tags = {"trainwright.chosen": chosen.trial_id, "trainwright.chosen_model": chosen.name,
            "trainwright.metric": result.task.metric, "trainwright.choice": result.choice.reason,
            "trainwright.bundle": str(Path(result.bundle).resolve()), "trainwright.task": result.task.kind.value}
    return {"metrics": metrics, "tags": tags,
            "documents": {"schema": result.schema.to_dict(), "task": result.task.to_dict()}}


def _callable_path(fn: Any) -> str:
    """``module:function`` of the model-arguments function (a string names it already: no import needed)."""
    if fn is None or isinstance(fn, str):
        return fn or ""
    return f"{fn.__module__}:{fn.__qualname__}"


class MLflowTracker:
    """The Tracker protocol on MLflow, written by a process of its own."""

    def __init__(self, uri: str | None = None, experiment: str = EXPERIMENT, *,
                 model_kwargs: ModelKwargs | str | None = None) -> None:
        self.store = Store(uri, experiment)
        self.model_kwargs = model_kwargs
        self.model_uri: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return self.store.uri

    def check(self) -> None:
        """Fail now, before any training, on a store that cannot be used (a SQLite store is checked without
        MLflow; a remote one is opened). Then the writer process starts importing MLflow. Raises TrackingError."""
        if self.store.db is None:
            self.store.open()
        else:
            self.store.precheck()
        self._writer()

    def _writer(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            command = [sys.executable, "-m", "trainwright.tracking.writer", self.store.uri, self.store.experiment,
                       _callable_path(self.model_kwargs)]
            quiet = os.environ.get("TRAINWRIGHT_DEBUG") is None
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL if quiet else None)
        return self._process

    def _send(self, *message: Any) -> None:
        process = self._writer()
        assert process.stdin is not None
        try:
            pickle.dump(message, process.stdin, protocol=5)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the writer is gone: ``_sync`` reports it

    def _sync(self) -> None:
        """Wait until the writer has done everything sent so far; raise TrackingError if anything failed."""
        process = self._writer()
        self._send("sync")
        assert process.stdout is not None
        try:
            status, value = pickle.load(process.stdout)
        except Exception:
            status, value = "error", f"the tracking writer stopped (exit code {process.poll()})"
        if status == "error":
            raise TrackingError(f"the run could not be recorded in {self.uri}", [Problem(
                "tracking.write", str(value).splitlines()[0],
                fix="check the store (trainwright runs), or train with --no-tracking")])
        self.model_uri = value

    def close(self) -> None:
        """Stop the writer without recording anything (a run that failed before it started)."""
        self._close()

    def _close(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            pickle.dump(("stop",), process.stdin)  # type: ignore[arg-type]
            process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            process.wait(timeout=_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def start(self, run_id: str, *, config: dict[str, Any], tags: dict[str, str]) -> None:
        self._send("start", run_id, config, tags, int(time.time() * 1000))

    def trial(self, trial: Any, *, chosen: bool = False) -> None:
        self._send("trial", trial, chosen)

    def curve(self, trial_id: str, epochs: Any) -> None:
        """Per-epoch values of a trial (epoch, train_loss, val_score, lr): step metrics of its child run."""
        self._send("curve", trial_id, [dict(e) for e in epochs])

    def model(self, bundle: Path) -> None:
        """The chosen model's bundle is complete: log it while the run goes on (its report, for instance)."""
        self._send("model", str(bundle))

    def finish(self, result: Any, *, run_dir: Path) -> None:
        files = [str(p) for name in ("leaderboard.csv", "run.json", "split.json", "report.html", "report.md",
                                     "report.json") if (p := Path(run_dir) / name).is_file()]
        report_json = Path(run_dir) / "report.json"
        self._send("finish", run_summary(result, with_interval=not report_json.is_file()), files)
        try:
            self._sync()
        finally:
            self._close()

    def fail(self, error: BaseException) -> None:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        self._send("fail", f"{type(error).__name__}: {error}", status)
        try:
            self._sync()
        except TrackingError:
            pass  # the run's own error is the one to report
        finally:
            self._close()
