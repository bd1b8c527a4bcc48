"""The one orchestrator: config -> data -> split -> ladder -> choice -> test once -> bundle -> log.

This is the only package that reads the test part, once, after the choice is made (``steps.refit_and_test``).
The CLI and the Python API call ``train``; progress, tracking and the report are listeners of its events.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.bundle.pyfunc import pyfunc_log_kwargs
from trainwright.config import Config, load_config
from trainwright.evaluation import Leaderboard
from trainwright.exceptions import Problem, TrainingError
from trainwright.fileio import atomic_output
from trainwright.models import resolve
from trainwright.tracking import Tracker, TrackingListener, default_tracker
from trainwright.tracking.stale import OWNER_FILE, sweep_run_folders
from trainwright.training import Event, Executor, FitContext, Listener, broadcast, make_executor
from trainwright.training.analysis import analyse
from trainwright.training.events import RunFiles, RunStart
from trainwright.workflow.ladders import default_model_names
from trainwright.workflow.prepare import Prepared, prepare, prepared_and_split
from trainwright.workflow.publish import publish_bundle, run_summary
from trainwright.workflow.result import TrainResult
from trainwright.workflow.search import (
    choose,
    discard_study,
    keep_study,
    refit_and_test_any,
    with_ensemble,
    with_search,
)
from trainwright.workflow.steps import (
    RunState,
    decision_task,
    ladder,
    timed,
    with_cv,
    with_seeds,
)
from trainwright.workflow.threshold import with_thresholds

__all__ = ["Prepared", "TrainResult", "prepare", "train"]


def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _resolve_config(config: Config | str | Path | None, overrides: dict[str, Any]) -> Config:
    if isinstance(config, Config):
        return load_config(None, **{**config.to_dict(), **overrides}) if overrides else config
    return load_config(config, **overrides)


def train(data: str | Path | pd.DataFrame, target: str | None = None, *, config: Config | str | Path | None = None,
          on_event: Listener | None = None, listeners: tuple[Listener, ...] = (), tracker: Tracker | None = None,
          executor: Executor | None = None, **overrides: Any) -> TrainResult:
    """The whole workflow, the one orchestrator of the CLI and the Python API. ``config`` is a Config or a YAML
    path; keyword overrides win over it. Progress, tracking and the report are listeners of its events."""
    if target is not None:
        overrides["target"] = target
    from trainwright.workflow.dense import dense_task_of, train_dense

    if (dense := dense_task_of(data, config, overrides)) is not None:  # boxes or masks: workflow/dense.py
        dense_result = train_dense(data, dense, config=config, tracker=tracker, on_event=on_event,  # type: ignore[arg-type]
                                   **overrides)
        return dense_result  # type: ignore[return-value]
    cfg = _resolve_config(config, overrides)
    tracker = tracker or default_tracker(cfg, model_kwargs=pyfunc_log_kwargs)
    getattr(tracker, "check", lambda: None)()  # an unusable store fails here, before any data or training
    sweep_run_folders(cfg.output_dir)  # what runs killed earlier left behind
    notify = broadcast([on_event, *listeners, TrackingListener(tracker)])
    start = time.monotonic()
    owned = executor is None  # an executor made here is closed here (a local Ray is shut down)
    specs = resolve(cfg.model_names)
    try:
        prep, split = prepared_and_split(data, cfg)
    except BaseException:
        getattr(tracker, "close", lambda: None)()  # no run was started: stop the tracking writer, record nothing
        raise
    specs = resolve(default_model_names(prep.schema, cfg))  # images, audio, text: their own rungs (ladders.py)
    notify(Event("done", None, step="prepare", payload=prep))
    executor = executor or make_executor(cfg.workers, backend=cfg.backend, address=cfg.ray_address)
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=cfg.seed,
                     deadline=start + cfg.effective_time_budget, n_jobs=executor.threads_per_task, device=cfg.device,
                     size_scale=cfg.preset_settings.n_estimators_scale, listener=notify)
    run = RunState(prep, split, cfg, ctx, executor, _run_id(), {"prepare_s": round(time.monotonic() - start, 3)})
    notify(Event("start", None, step="run", payload=RunStart(run.run_id, cfg.to_dict(), {
        "source": prep.source, "task": prep.task.kind.value, **prep.fingerprints})))
    try:
        result = _fit_choose_and_write(run, specs)
    except BaseException as exc:
        discard_study(run)
        notify(Event("failed", None, step="run", payload=exc))
        raise
    finally:
        if owned:
            executor.close()
    notify(Event("done", None, step="run", payload=result))
    return result


def _fit_choose_and_write(run: RunState, specs: list[Any]) -> TrainResult:
    prep, cfg = run.prep, run.cfg
    with timed(run, "ladder_s"):
        trials = ladder(run, specs)
    if not any(t.ok for t in trials):
        raise TrainingError("no candidate could be trained",
                            [Problem("training.all_failed", f"{t.trial_id}: {t.message}") for t in trials])
    with timed(run, "cv_s"):
        trials = with_cv(run, trials)
        if cfg.seeds > 1:
            trials = with_seeds(run, trials)
        trials = with_ensemble(run, with_search(run, trials))  # tuning/: search, then the greedy ensemble
        trials = with_thresholds(run, trials)
    board = Leaderboard(tuple(trials), prep.task.metric)
    choice = choose(board, run)  # --choose simplest (one standard error) or best
    run.notify(Event("done", None, step="choice", payload=(board, choice)))
    with timed(run, "refit_test_s", "refit"):
        pipeline, test_scores, test_pred = refit_and_test_any(run, board, board.get(choice.chosen))
    run_dir = Path(cfg.output_dir) / run.run_id
    task = decision_task(run, board.get(choice.chosen))  # the bundle decides as the chosen trial was scored
    result = TrainResult(run_id=run.run_id, run_dir=run_dir, config=cfg, task=task, schema=prep.schema,
                         split=run.split, leaderboard=board, choice=choice, test_scores=test_scores,
                         bundle=run_dir / "model", notes=prep.notes, timings=run.timings, oof=run.oof,
                         schemes=run.schemes)
    publish_bundle(run, result, pipeline)
    keep_study(run, run_dir)  # the search's study beside the run, for tune --resume
    try:
        with timed(run, "analysis_s", "analysis"):
            diagnosis, report_data = analyse(prep.X, prep.y, run.split, board, choice, pipeline, test_pred,
                                             replace(run.ctx, task=task), audit=prep.audit, source=prep.source)
        result = replace(result, diagnosis=diagnosis, report_data=report_data)
        run.notify(Event("start", None, step="write", payload=RunFiles(run_dir, result)))
        with atomic_output(run_dir / "run.json") as tmp:  # last: a run folder with run.json is complete
            tmp.write_text(json.dumps(run_summary(result, prep), indent=2, default=str), encoding="utf-8")
        (run_dir / OWNER_FILE).unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    report = run_dir / "report.html"
    return replace(result, report_path=report if report.is_file() else None)
