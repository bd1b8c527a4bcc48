"""The one orchestrator: config -> data -> split -> ladder -> choice -> test once -> bundle -> log.

This is the only module that reads the test part, once, after the choice is made.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle import write_bundle
from trainwright.bundle.pyfunc import pyfunc_kwargs
from trainwright.config import Config, load_config
from trainwright.data import (
    Role,
    Schema,
    Split,
    Task,
    check_columns,
    check_target,
    coerce_frame,
    cv_folds,
    file_fingerprint,
    frame_fingerprint,
    infer_schema,
    infer_task,
    load_table,
    make_split,
    rows_of,
)
from trainwright.data.audit import audit_split, preflight, with_split_findings
from trainwright.data.profile import build_profile
from trainwright.evaluation import Choice, Leaderboard, Trial, check_metric, score_all
from trainwright.exceptions import DataError, Problem, TrainingError
from trainwright.lineage import lineage
from trainwright.models import get_spec, resolve
from trainwright.tracking import Tracker, default_tracker
from trainwright.training import Event, Fitted, climb, cross_validate, fit_pipeline, predict_matrix
from trainwright.training.analysis import analyse
from trainwright.training.seeds import choose_with_seeds, with_seeds

__all__ = ["Prepared", "TrainResult", "prepare", "train"]


@dataclass(frozen=True)
class Prepared:
    """The data as it passed the door: cleaned frame, coerced features, encoded target, task and schema."""

    source: str
    frame: pd.DataFrame = field(repr=False)
    X: pd.DataFrame = field(repr=False)
    y: np.ndarray = field(repr=False)
    task: Task
    schema: Schema
    notes: tuple[str, ...]
    fingerprints: dict[str, str]
    audit: Any = None  # data/audit.py AuditReport of the pre-flight audit (and the split's twin check)


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` returns: the leaderboard, the choice and why, the one test result, and where things are."""

    run_id: str
    run_dir: Path
    config: Config
    task: Task
    schema: Schema
    split: Split
    leaderboard: Leaderboard
    choice: Choice
    test_scores: dict[str, float]
    bundle: Path
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    diagnosis: Any = None
    report_path: Path | None = None
    report_data: Any = None  # evaluation/report.py ReportData: test predictions, importance, audit (for the report)

    @property
    def chosen(self) -> Trial:
        return self.leaderboard.get(self.choice.chosen)

    @property
    def test_score(self) -> float:
        return self.test_scores[self.task.metric]


def _door_problems(frame: pd.DataFrame, cfg: Config) -> tuple[list[Problem], Task | None]:
    """Every problem with the columns and the target at once; the task when the target is usable."""
    problems = check_columns(frame, {"group": cfg.split.group_column, "time": cfg.split.time_column})
    first = check_target(frame, cfg.target, classification=False)
    problems += [p for p in first.problems if p.code in {"target.absent", "target.all_missing"}]
    if problems:
        return problems, None
    task = infer_task(frame[cfg.target], kind=cfg.task, metric=cfg.metric, positive_label=cfg.positive_label, beta=cfg.beta)
    return problems, task


def prepare(data: str | Path | pd.DataFrame, cfg: Config) -> Prepared:
    """Load, validate at the door (all problems at once), infer task and schema, coerce features."""
    source = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
    frame = data if isinstance(data, pd.DataFrame) else load_table(data)  # never mutated: no defensive copy
    fingerprints = {"frame_sha256": frame_fingerprint(frame)}
    if not isinstance(data, pd.DataFrame):
        fingerprints["file_sha256"] = file_fingerprint(data)
    problems, task = _door_problems(frame, cfg)
    if task is None:
        raise DataError(f"cannot train on {source}", problems)
    check_metric(task)
    checked = check_target(frame, cfg.target, classification=task.is_classification, force=cfg.force)
    if checked.problems:
        raise DataError(f"cannot train on {source}", list(checked.problems))
    if len(checked.keep) < len(frame):  # a copy only when rows are dropped (at 1M rows a copy is ~180 MB)
        frame = frame.loc[checked.keep]
    roles = dict(cfg.roles)
    if cfg.split.group_column and cfg.split.group_column not in roles:
        roles[cfg.split.group_column] = Role.IGNORED.value
    schema = infer_schema(frame, cfg.target, roles)
    if not schema.features:
        raise DataError(f"cannot train on {source}", [Problem(
            "data.no_features", "no usable feature column (all are identifiers, constant or ignored)",
            fix="check the column roles with 'trainwright audit', or set roles in the config")])
    if task.is_classification and len(checked.keep) != len(frame):
        task = infer_task(frame[cfg.target], kind=task.kind.value, metric=task.metric,
                          positive_label=cfg.positive_label, beta=cfg.beta)
    X = coerce_frame(frame, schema, strict=False)
    y = task.encode(frame[cfg.target])
    return Prepared(source, frame, X, y, task, schema, checked.notes, fingerprints)


def _split(prep: Prepared, cfg: Config) -> Split:
    s = cfg.split
    ids = prep.schema.names(Role.IDENTIFIER)
    return make_split(
        prep.X, pd.Series(prep.y, index=prep.X.index), classification=prep.task.is_classification,
        fractions=(s.train, s.validation, s.test), random_state=cfg.seed,
        groups=prep.frame[s.group_column] if s.group_column else None,
        time=prep.frame[s.time_column] if s.time_column else None,
        identifiers=prep.frame[ids] if ids else None,
    )


def _ordered_by_part(prep: Prepared, split: Split) -> Prepared:
    """Features and target reordered train, validation, test (rows in each part's own order), so that each part and
    train+validation are slices of one frame, shared instead of copied by every fit (see ``rows_of``). Row labels are
    kept, and every later step selects rows by label: the results are the same as with the file's order."""
    X, pos = rows_of(prep.X, np.concatenate([split.train, split.validation, split.test]))
    return replace(prep, X=X, y=prep.y[pos])


def _cv_candidates(trials: list[Trial], metric: str, top: int) -> list[Trial]:
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok and t.rung > 0]
    simple = [t for t in board.ranked() if t.ok and t.rung <= 1]
    return list({t.name: t for t in simple + ranked[:top]}.values())


def _with_cv(trials: list[Trial], prep: Prepared, split: Split, cfg: Config, deadline: float,
             notify: Callable[[Event], None]) -> list[Trial]:
    settings = cfg.preset_settings
    n_folds = cfg.cv_folds or settings.cv_folds
    rows = np.concatenate([split.train, split.validation])
    if len(rows) > settings.cv_max_rows or n_folds < 2:
        return trials
    X, pos = rows_of(prep.X, rows)
    y = prep.y[pos]
    folds = cv_folds(split, X.index, pd.Series(y), n_folds=n_folds, classification=prep.task.is_classification)
    updated = {t.name: t for t in trials}
    for trial in _cv_candidates(trials, prep.task.metric, settings.cv_top):
        spec = get_spec(trial.name)
        needed = trial.fit_seconds * len(folds) * 1.2
        if time.monotonic() + needed > deadline and trial.rung > 1:
            updated[trial.name] = replace(trial, message=(trial.message + "; cv skipped: time budget").lstrip("; "))
            continue
        notify(Event("start", spec, step="cv"))
        updated[trial.name] = cross_validate(trial, spec, prep.schema, prep.task, X, y, folds, random_state=cfg.seed)
        notify(Event("done", spec, updated[trial.name], step="cv"))
    return [updated[t.name] for t in trials]


def _refit_and_test(prep: Prepared, split: Split, trial: Trial, cfg: Config) -> tuple[Any, dict[str, float], np.ndarray]:
    """Refit the chosen candidate on train+validation; score it once on the untouched test part."""
    X, pos = rows_of(prep.X, np.concatenate([split.train, split.validation]))
    pipeline, _, _ = fit_pipeline(get_spec(trial.name), prep.schema, prep.task, X, prep.y[pos],
                                  trial.params, random_state=cfg.seed)
    X_test, test_pos = rows_of(prep.X, split.test)
    pred = predict_matrix(pipeline, X_test, prep.task)
    return pipeline, score_all(prep.y[test_pos], pred, prep.task), pred


def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _jsonable(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def _write_run(tmp: Path, result: TrainResult, prep: Prepared, pipeline: Any) -> None:
    board = result.leaderboard.to_frame()
    board.to_csv(tmp / "leaderboard.csv", index=False)
    chosen = result.chosen
    metadata = {
        "run_id": result.run_id, "model": chosen.name, "family": chosen.family, "params": chosen.params,
        "source": prep.source, "fingerprints": prep.fingerprints, "created": datetime.now(UTC).isoformat(),
        "features": prep.schema.features, "lineage": lineage(result.config.seed), "choice": result.choice.reason,
    }
    metrics = {"metric": result.task.metric, "test": _jsonable(result.test_scores),
               "validation": _jsonable(dict(chosen.val_scores)), "train": _jsonable(dict(chosen.train_scores)),
               "cv": list(chosen.cv_scores)}
    documents = {"schema": prep.schema.to_dict(), "task": result.task.to_dict(), "metrics": metrics,
                 "split": result.split.manifest(), "config": result.config.to_dict(), "metadata": metadata}
    train_X, _ = rows_of(prep.X, result.split.train)  # reference profile for monitoring: the TRAIN part only
    documents["profile"] = build_profile(train_X, prep.schema, result.task, predict_matrix(pipeline, train_X, result.task),
                                         random_state=result.config.seed).to_dict()
    write_bundle(tmp / "model", pipeline, documents)
    summary = {
        "run_id": result.run_id, "source": prep.source, "task": result.task.kind.value, "metric": result.task.metric,
        "chosen": chosen.name, "best": result.choice.best, "reason": result.choice.reason,
        "validation_score": chosen.score(result.task.metric), "test_scores": _jsonable(result.test_scores),
        "split": result.split.sizes, "notes": list(result.notes), "timings": result.timings,
        "created": metadata["created"],
    }
    (tmp / "run.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    (tmp / "split.json").write_text(json.dumps(result.split.manifest()), encoding="utf-8")


def train(data: str | Path | pd.DataFrame, target: str | None = None, *, config: Config | str | Path | None = None,
          on_event: Callable[[Event], None] | None = None, tracker: Tracker | None = None, **overrides: Any) -> TrainResult:
    """The whole workflow. ``config`` is a Config or a YAML path; keyword overrides win over it."""
    if target is not None:
        overrides["target"] = target
    if isinstance(config, Config):
        cfg = load_config(None, **{**config.to_dict(), **overrides}) if overrides else config
    else:
        cfg = load_config(config, **overrides)
    notify = on_event or (lambda e: None)
    tracker = tracker or default_tracker(cfg, model_kwargs=pyfunc_kwargs)
    getattr(tracker, "check", lambda: None)()  # an unusable store fails here, before any data or training
    timings: dict[str, float] = {}
    start = time.monotonic()
    deadline = start + cfg.effective_time_budget
    specs = resolve(cfg.model_names)
    prep = prepare(data, cfg)
    prep = replace(prep, audit=preflight(prep.frame, prep.task, prep.schema, force=cfg.force, source=prep.source,
                                         time_column=cfg.split.time_column, random_state=cfg.seed))
    split = _split(prep, cfg)
    prep = _ordered_by_part(prep, split)
    prep = replace(prep, audit=with_split_findings(prep.audit, audit_split(prep.X, split)))
    timings["prepare_s"] = round(time.monotonic() - start, 3)
    notify(Event("done", None, step="prepare", payload=prep))
    run_id = _run_id()
    tracker.start(run_id, config=cfg.to_dict(), tags={"source": prep.source, "task": prep.task.kind.value,
                                                     **prep.fingerprints})
    try:
        result, pipeline = _fit_and_choose(prep, split, cfg, specs, deadline, notify, timings, run_id)
        run_dir = Path(cfg.output_dir) / run_id
        tmp = run_dir.with_name(f".{run_id}.partial")
        tmp.mkdir(parents=True)
        try:
            notify(Event("start", None, step="bundle"))
            _write_run(tmp, result, prep, pipeline)
            os.replace(tmp, run_dir)
            notify(Event("done", None, step="bundle"))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        result = replace(result, run_dir=run_dir, bundle=run_dir / "model")
        for trial in result.leaderboard.trials:
            tracker.trial(trial, chosen=trial.name == result.choice.chosen)
        tracker.finish(result, run_dir=run_dir)
    except BaseException as exc:
        tracker.fail(exc)
        raise
    return result


def _fit_and_choose(prep: Prepared, split: Split, cfg: Config, specs: list[Any], deadline: float,
                    notify: Callable[[Event], None], timings: dict[str, float], run_id: str) -> tuple[TrainResult, Any]:
    t0 = time.monotonic()
    (X_train, tr), (X_val, va) = rows_of(prep.X, split.train), rows_of(prep.X, split.validation)
    results = climb(specs, prep.schema, prep.task, X_train, prep.y[tr], X_val, prep.y[va],
                    deadline=deadline, random_state=cfg.seed, size_scale=cfg.preset_settings.n_estimators_scale,
                    on_event=notify)
    trials = [r.trial if isinstance(r, Fitted) else r for r in results]
    timings["ladder_s"] = round(time.monotonic() - t0, 3)
    if not any(t.ok for t in trials):
        raise TrainingError("no candidate could be trained", [Problem("training.all_failed", f"{t.name}: {t.message}") for t in trials])
    t0 = time.monotonic()
    trials = _with_cv(trials, prep, split, cfg, deadline, notify)
    if cfg.seeds > 1:
        trials = with_seeds(trials, prep.schema, prep.task, prep.X, prep.y, split, cfg, deadline, notify)
    timings["cv_s"] = round(time.monotonic() - t0, 3)
    board = Leaderboard(tuple(trials), prep.task.metric)
    choice = choose_with_seeds(board) if cfg.seeds > 1 else board.choose()
    t0 = time.monotonic()
    notify(Event("start", None, step="refit"))
    pipeline, test_scores, test_pred = _refit_and_test(prep, split, board.get(choice.chosen), cfg)
    timings["refit_test_s"] = round(time.monotonic() - t0, 3)
    notify(Event("done", None, step="refit"))
    result = TrainResult(run_id=run_id, run_dir=Path(), config=cfg, task=prep.task, schema=prep.schema, split=split,
                         leaderboard=board, choice=choice, test_scores=test_scores, bundle=Path(), notes=prep.notes,
                         timings=timings)
    t0 = time.monotonic()
    notify(Event("start", None, step="analysis"))
    diagnosis, report_data = analyse(prep.X, prep.y, split, board, choice, pipeline, test_pred, prep.task, prep.schema,
                                     audit=prep.audit, deadline=deadline, random_state=cfg.seed, source=prep.source)
    timings["analysis_s"] = round(time.monotonic() - t0, 3)
    notify(Event("done", None, step="analysis"))
    result = replace(result, diagnosis=diagnosis, report_data=report_data)
    return result, pipeline
