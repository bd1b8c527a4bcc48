"""The steps between the door and the bundle: the ladder, cross-validation, the seed spread, the refit and the
one test. Each takes the run's state and goes through the fold engine."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from trainwright.config import Config
from trainwright.data import FoldPlan, Split, Task, choice_folds, holdout_plan
from trainwright.evaluation import Leaderboard, Trial, TrialIds, score_all
from trainwright.models import get_spec
from trainwright.training import (
    Event,
    Executor,
    FitContext,
    Fitted,
    climb,
    cross_validate,
    fit_pipeline,
    predict_matrix,
)
from trainwright.training.oof import OutOfFold
from trainwright.training.seeds import seed_candidates, seed_plan, seed_scores, seed_values
from trainwright.workflow.prepare import Prepared

__all__ = ["RunState", "decision_task", "ladder", "refit_and_test", "timed", "with_cv", "with_seeds"]


def _cv_candidates(trials: list[Trial], metric: str, top: int) -> list[Trial]:
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok and t.rung > 0]
    simple = [t for t in board.ranked() if t.ok and t.rung <= 1]
    return list({t.trial_id: t for t in simple + ranked[:top]}.values())


@dataclass
class RunState:
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
    holdout_pred: dict[str, np.ndarray] = field(default_factory=dict)  # trial id -> its validation predictions
    cv_plan: FoldPlan | None = None  # the k folds every cross-validated candidate shares

    @property
    def n_choice(self) -> int:
        return len(self.split.train) + len(self.split.validation)

    @functools.cached_property
    def choice_rows(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Train then validation rows: a slice of the frame ordered by part, shared, not copied (and the same
        objects every time, so an executor sends them to its workers once)."""
        return self.prep.X.iloc[:self.n_choice], self.prep.y[:self.n_choice]

    def keep_oof(self, trial_id: str, positions: np.ndarray, pred: np.ndarray) -> None:
        rows = self.prep.X.index.to_numpy()[positions]
        self.oof = self.oof.with_entry(trial_id, rows, pred, forbidden=self.split.test)

    def notify(self, event: Event) -> None:
        if self.ctx.listener is not None:
            self.ctx.listener(event)


def ladder(run: RunState, specs: list[Any]) -> list[Trial]:
    X, y = run.choice_rows
    plan = holdout_plan(len(run.split.train), len(run.split.validation), seed=run.cfg.seed)
    run.schemes["holdout"] = f"train {len(run.split.train)} rows, validation {len(run.split.validation)} rows"
    results = climb(specs, X, y, plan, run.ctx, ids=TrialIds(), executor=run.executor)
    for fitted in results:
        if isinstance(fitted, Fitted):
            run.keep_oof(fitted.trial.trial_id, plan.folds[0].held_out, fitted.val_pred)
            run.holdout_pred[fitted.trial.trial_id] = fitted.val_pred
    return [r.trial if isinstance(r, Fitted) else r for r in results]


def with_cv(run: RunState, trials: list[Trial]) -> list[Trial]:
    settings, cfg = run.cfg.preset_settings, run.cfg
    n_folds = cfg.cv_folds or settings.cv_folds
    if run.n_choice > settings.cv_max_rows or n_folds < 2:
        return trials
    X, y = run.choice_rows
    plan = choice_folds(run.split, X.index, y, n_folds=n_folds, classification=run.prep.task.is_classification)
    run.schemes["cv"] = plan.describe()
    run.cv_plan = plan
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


def with_seeds(run: RunState, trials: list[Trial]) -> list[Trial]:
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


def decision_task(run: RunState, trial: Trial) -> Task:
    """The task as the chosen trial decides it: with its tuned threshold, when it has one."""
    return run.prep.task if trial.threshold is None else replace(run.prep.task, threshold=trial.threshold)


def refit_and_test(run: RunState, trial: Trial) -> tuple[Any, dict[str, float], np.ndarray]:
    """Refit the chosen candidate on train+validation; score it once on the untouched test part (at the decision
    threshold fixed before the test)."""
    X, y = run.choice_rows
    pipeline, _, _ = fit_pipeline(get_spec(trial.name), run.ctx, X, y, trial.params)
    X_test, y_test = run.prep.X.iloc[run.n_choice:], run.prep.y[run.n_choice:]
    pred = predict_matrix(pipeline, X_test, run.prep.task)
    return pipeline, score_all(y_test, pred, decision_task(run, trial)), pred


def timed(run: RunState, key: str, step: str | None = None) -> Any:
    """A context that times a step into ``run.timings[key]`` and tells the listeners its start and end."""
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
