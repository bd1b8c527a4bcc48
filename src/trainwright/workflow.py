"""The one orchestrator: config -> data -> split -> ladder -> choice -> test once -> bundle -> log.

This is the only module that reads the test part, once, after the choice is made.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
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
    choice_folds,
    coerce_frame,
    file_fingerprint,
    frame_fingerprint,
    holdout_plan,
    infer_schema,
    infer_task,
    load_table,
    make_split,
    rows_of,
)
from trainwright.drift import build_profile
from trainwright.evaluation import Choice, Leaderboard, Trial, TrialIds, check_metric, score_all
from trainwright.exceptions import DataError, Problem, TrainingError
from trainwright.fileio import atomic_output, jsonable
from trainwright.hygiene import audit_split, preflight, with_split_findings
from trainwright.lineage import lineage
from trainwright.models import get_spec, resolve
from trainwright.tracking import Tracker, TrackingListener, default_tracker
from trainwright.training import (
    Event,
    Executor,
    FitContext,
    Fitted,
    Listener,
    broadcast,
    climb,
    cross_validate,
    fit_pipeline,
    make_executor,
    predict_matrix,
)
from trainwright.training.analysis import analyse
from trainwright.training.events import RunFiles, RunStart
from trainwright.training.oof import OutOfFold
from trainwright.training.seeds import choose_with_seeds, seed_candidates, seed_plan, seed_scores, seed_values

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
    oof: OutOfFold = field(default_factory=lambda: OutOfFold({}), repr=False)
    schemes: dict[str, str] = field(default_factory=dict)  # how scores were obtained: holdout, cv, seeds

    @property
    def chosen(self) -> Trial:
        return self.leaderboard.get(self.choice.chosen)

    @property
    def test_score(self) -> float:
        return self.test_scores[self.task.metric]

    def oof_predictions(self, trial_id: str) -> pd.DataFrame:
        """The predictions trial ``trial_id`` made on rows it was not fitted on (the validation part for a hold-out
        trial, every choice row for a cross-validated one), indexed by the file's row numbers; never a test row.
        Columns: ``prediction`` (regression) or ``proba_<class>`` per class."""
        self.leaderboard.get(trial_id)  # KeyError for an unknown trial
        return self.oof.frame(trial_id, self.task)


def _door_problems(frame: pd.DataFrame, cfg: Config) -> tuple[list[Problem], Task | None]:
    """Every problem with the columns and the target at once; the task when the target is usable."""
    problems = check_columns(frame, {"group": cfg.split.group_column, "time": cfg.split.time_column})
    first = check_target(frame, cfg.target, classification=False)
    problems += [p for p in first.problems if p.code in {"target.absent", "target.all_missing", "target.not_finite"}]
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
    return list({t.trial_id: t for t in simple + ranked[:top]}.values())


@dataclass
class _Run:
    """The state one ``train`` call carries between its steps."""

    prep: Prepared
    split: Split
    cfg: Config
    ctx: FitContext
    executor: Executor
    run_id: str
    timings: dict[str, float] = field(default_factory=dict)
    oof: OutOfFold = field(default_factory=lambda: OutOfFold({}))
    schemes: dict[str, str] = field(default_factory=dict)

    @property
    def n_choice(self) -> int:
        return len(self.split.train) + len(self.split.validation)

    @property
    def choice_rows(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Train then validation rows: a slice of the frame ordered by part, shared, not copied."""
        return self.prep.X.iloc[:self.n_choice], self.prep.y[:self.n_choice]

    def keep_oof(self, trial_id: str, positions: np.ndarray, pred: np.ndarray) -> None:
        rows = self.prep.X.index.to_numpy()[positions]
        self.oof = self.oof.with_entry(trial_id, rows, pred, forbidden=self.split.test)

    def notify(self, event: Event) -> None:
        if self.ctx.listener is not None:
            self.ctx.listener(event)


def _ladder(run: _Run, specs: list[Any]) -> list[Trial]:
    X, y = run.choice_rows
    plan = holdout_plan(len(run.split.train), len(run.split.validation), seed=run.cfg.seed)
    run.schemes["holdout"] = f"train {len(run.split.train)} rows, validation {len(run.split.validation)} rows"
    results = climb(specs, X, y, plan, run.ctx, ids=TrialIds())
    for fitted in results:
        if isinstance(fitted, Fitted):
            run.keep_oof(fitted.trial.trial_id, plan.folds[0].held_out, fitted.val_pred)
    return [r.trial if isinstance(r, Fitted) else r for r in results]


def _with_cv(run: _Run, trials: list[Trial]) -> list[Trial]:
    settings, cfg = run.cfg.preset_settings, run.cfg
    n_folds = cfg.cv_folds or settings.cv_folds
    if run.n_choice > settings.cv_max_rows or n_folds < 2:
        return trials
    X, y = run.choice_rows
    plan = choice_folds(run.split, X.index, y, n_folds=n_folds, classification=run.prep.task.is_classification)
    run.schemes["cv"] = plan.describe()
    updated = {t.trial_id: t for t in trials}
    for trial in _cv_candidates(trials, run.prep.task.metric, settings.cv_top):
        spec = get_spec(trial.name)
        needed = trial.fit_seconds * len(plan) * 1.2 / run.executor.n_workers
        if run.ctx.seconds_left < needed and trial.rung > 1:
            updated[trial.trial_id] = replace(trial, message=(trial.message + "; cv skipped: time budget").lstrip("; "))
            continue
        run.notify(Event("start", spec, trial, step="cv"))
        updated[trial.trial_id], folds = cross_validate(trial, spec, X, y, plan, run.ctx, executor=run.executor)
        if folds is not None:
            run.keep_oof(trial.trial_id, np.arange(run.n_choice), folds.oof)
        run.notify(Event("done", spec, updated[trial.trial_id], step="cv"))
    return [updated[t.trial_id] for t in trials]


def _with_seeds(run: _Run, trials: list[Trial]) -> list[Trial]:
    cfg, settings, task = run.cfg, run.cfg.preset_settings, run.prep.task
    X, y = run.choice_rows
    plan, scheme = seed_plan(run.split, X.index, y, task, seed_values(cfg.seed, cfg.seeds),
                             n_folds=cfg.cv_folds or settings.cv_folds, cv_max_rows=settings.cv_max_rows)
    run.schemes["seeds"] = scheme
    updated = {t.trial_id: t for t in trials}
    for trial in seed_candidates(trials, task.metric, settings.cv_top):
        spec = get_spec(trial.name)
        if run.ctx.seconds_left < trial.fit_seconds * len(plan) * 1.2 / run.executor.n_workers and trial.rung > 1:
            updated[trial.trial_id] = replace(trial, message=_note(trial, "seeds skipped: time budget"))
            continue
        run.notify(Event("start", spec, trial, step="seeds"))
        try:
            scores = seed_scores(trial, spec, X, y, plan, run.ctx, executor=run.executor)
        except Exception as exc:  # one candidate that breaks must not stop the run
            updated[trial.trial_id] = replace(trial, message=_note(trial, f"seeds failed: {type(exc).__name__}"))
            continue
        updated[trial.trial_id] = replace(trial, seed_scores=scores, message=_note(trial, scheme))
        run.notify(Event("done", spec, updated[trial.trial_id], step="seeds"))
    return [updated[t.trial_id] for t in trials]


def _note(trial: Trial, text: str) -> str:
    return f"{trial.message}; {text}" if trial.message else text


def _refit_and_test(run: _Run, trial: Trial) -> tuple[Any, dict[str, float], np.ndarray]:
    """Refit the chosen candidate on train+validation; score it once on the untouched test part."""
    X, y = run.choice_rows
    pipeline, _, _ = fit_pipeline(get_spec(trial.name), run.ctx, X, y, trial.params)
    X_test, y_test = run.prep.X.iloc[run.n_choice:], run.prep.y[run.n_choice:]
    pred = predict_matrix(pipeline, X_test, run.prep.task)
    return pipeline, score_all(y_test, pred, run.prep.task), pred


def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _write_run(tmp: Path, result: TrainResult, prep: Prepared, pipeline: Any) -> None:
    board = result.leaderboard.to_frame()
    board.to_csv(tmp / "leaderboard.csv", index=False)
    chosen = result.chosen
    metadata = {
        "run_id": result.run_id, "trial_id": chosen.trial_id, "model": chosen.name, "family": chosen.family,
        "params": chosen.params, "seed": chosen.seed, "source": prep.source, "fingerprints": prep.fingerprints,
        "created": datetime.now(UTC).isoformat(), "features": prep.schema.features,
        "lineage": lineage(result.config.seed), "choice": result.choice.reason,
    }
    metrics = {"metric": result.task.metric, "test": jsonable(result.test_scores),
               "validation": jsonable(dict(chosen.val_scores)), "train": jsonable(dict(chosen.train_scores)),
               "cv": list(chosen.cv_scores)}
    documents = {"schema": prep.schema.to_dict(), "task": result.task.to_dict(), "metrics": metrics,
                 "split": result.split.manifest(), "config": result.config.to_dict(), "metadata": metadata}
    train_X, _ = rows_of(prep.X, result.split.train)  # reference profile for monitoring: the TRAIN part only
    documents["profile"] = build_profile(train_X, prep.schema, result.task, predict_matrix(pipeline, train_X, result.task),
                                         random_state=result.config.seed).to_dict()
    write_bundle(tmp / "model", pipeline, documents)
    (tmp / "split.json").write_text(json.dumps(result.split.manifest()), encoding="utf-8")


def _summary(result: TrainResult, prep: Prepared) -> dict[str, Any]:
    chosen = result.chosen
    return {
        "run_id": result.run_id, "source": prep.source, "task": result.task.kind.value, "metric": result.task.metric,
        "chosen": chosen.trial_id, "model": chosen.name, "best": result.choice.best, "reason": result.choice.reason,
        "validation_score": chosen.score(result.task.metric), "test_scores": jsonable(result.test_scores),
        "split": result.split.sizes, "notes": list(result.notes), "timings": result.timings,
        "created": datetime.now(UTC).isoformat(),
    }


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
    cfg = _resolve_config(config, overrides)
    tracker = tracker or default_tracker(cfg, model_kwargs=pyfunc_kwargs)
    getattr(tracker, "check", lambda: None)()  # an unusable store fails here, before any data or training
    notify = broadcast([on_event, *listeners, TrackingListener(tracker)])
    start = time.monotonic()
    executor = executor or make_executor()
    specs = resolve(cfg.model_names)
    prep, split = _prepared_and_split(data, cfg)
    notify(Event("done", None, step="prepare", payload=prep))
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=cfg.seed,
                     deadline=start + cfg.effective_time_budget, n_jobs=executor.threads_per_task,
                     size_scale=cfg.preset_settings.n_estimators_scale, listener=notify)
    run = _Run(prep, split, cfg, ctx, executor, _run_id(), {"prepare_s": round(time.monotonic() - start, 3)})
    notify(Event("start", None, step="run", payload=RunStart(run.run_id, cfg.to_dict(), {
        "source": prep.source, "task": prep.task.kind.value, **prep.fingerprints})))
    try:
        result = _fit_choose_and_write(run, specs)
    except BaseException as exc:
        notify(Event("failed", None, step="run", payload=exc))
        raise
    notify(Event("done", None, step="run", payload=result))
    return result


def _prepared_and_split(data: str | Path | pd.DataFrame, cfg: Config) -> tuple[Prepared, Split]:
    prep = prepare(data, cfg)
    prep = replace(prep, audit=preflight(prep.frame, prep.task, prep.schema, force=cfg.force, source=prep.source,
                                         time_column=cfg.split.time_column, random_state=cfg.seed))
    split = _split(prep, cfg)
    prep = _ordered_by_part(prep, split)
    return replace(prep, audit=with_split_findings(prep.audit, audit_split(prep.X, split))), split


def _timed(run: _Run, key: str, step: str | None = None) -> Any:
    """A context that times a step into ``run.timings[key]`` and tells the listeners its start and end."""
    import contextlib

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        t0 = time.monotonic()
        if step:
            run.notify(Event("start", None, step=step))
        yield
        run.timings[key] = round(time.monotonic() - t0, 3)
        if step:
            run.notify(Event("done", None, step=step))

    return block()


def _fit_choose_and_write(run: _Run, specs: list[Any]) -> TrainResult:
    prep, cfg = run.prep, run.cfg
    with _timed(run, "ladder_s"):
        trials = _ladder(run, specs)
    if not any(t.ok for t in trials):
        raise TrainingError("no candidate could be trained",
                            [Problem("training.all_failed", f"{t.trial_id}: {t.message}") for t in trials])
    with _timed(run, "cv_s"):
        trials = _with_cv(run, trials)
        if cfg.seeds > 1:
            trials = _with_seeds(run, trials)
    board = Leaderboard(tuple(trials), prep.task.metric)
    choice = choose_with_seeds(board) if cfg.seeds > 1 else board.choose()
    run.notify(Event("done", None, step="choice", payload=(board, choice)))
    with _timed(run, "refit_test_s", "refit"):
        pipeline, test_scores, test_pred = _refit_and_test(run, board.get(choice.chosen))
    run_dir = Path(cfg.output_dir) / run.run_id
    result = TrainResult(run_id=run.run_id, run_dir=run_dir, config=cfg, task=prep.task, schema=prep.schema,
                         split=run.split, leaderboard=board, choice=choice, test_scores=test_scores,
                         bundle=run_dir / "model", notes=prep.notes, timings=run.timings, oof=run.oof,
                         schemes=run.schemes)
    _publish_bundle(run, result, pipeline)
    try:
        with _timed(run, "analysis_s", "analysis"):
            diagnosis, report_data = analyse(prep.X, prep.y, run.split, board, choice, pipeline, test_pred, run.ctx,
                                             audit=prep.audit, source=prep.source)
        result = replace(result, diagnosis=diagnosis, report_data=report_data)
        run.notify(Event("start", None, step="write", payload=RunFiles(run_dir, result)))
        with atomic_output(run_dir / "run.json") as tmp:  # last: a run folder with run.json is complete
            tmp.write_text(json.dumps(_summary(result, prep), indent=2, default=str), encoding="utf-8")
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    report = run_dir / "report.html"
    return replace(result, report_path=report if report.is_file() else None)


def _publish_bundle(run: _Run, result: TrainResult, pipeline: Any) -> None:
    """The bundle, leaderboard and split under a hidden name, renamed into place as soon as they are complete, so
    the log can copy the model while the analysis and the report are made."""
    tmp = result.run_dir.with_name(f".{run.run_id}.partial")
    tmp.mkdir(parents=True)
    try:
        with _timed(run, "bundle_s"):
            _write_run(tmp, result, run.prep, pipeline)
        os.replace(tmp, result.run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.notify(Event("done", None, step="bundle", payload=result.bundle))
