"""The steps between the door and the bundle: the ladder, cross-validation, the seed spread, the refit and the
one test. Each takes the run's state and goes through the fold engine."""

from __future__ import annotations

import contextlib
import functools
import math
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
from trainwright.tuning.budget import contention, predict_seconds_after_choice, refit_seconds, tail_seconds
from trainwright.workflow.prepare import Prepared

LADDER_FLOOR = 0.4  # the least share of the time left the ladder gets, whatever the tail is estimated at

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
    bags: dict[str, list[Any]] = field(default_factory=dict)  # bagged trial id -> its fold pipelines (its model)
    stacks: dict[str, Any] = field(default_factory=dict)  # stacked trial id -> its fitted level-2 model
    end: float = math.inf  # when the whole budget ends (time.monotonic); ctx.deadline is the work deadline before it

    def __post_init__(self) -> None:
        self.end = self.ctx.deadline

    @property
    def tail(self) -> float:
        """Seconds kept for the bundle, the analysis, the report and the log (tuning/budget.py)."""
        if not math.isfinite(self.end):
            return 0.0
        budget, rows = self.cfg.effective_time_budget, len(self.prep.X)
        return tail_seconds(budget, rows, tracking=self.cfg.tracking, contention=contention())

    def hold(self, reserve: float, *, floor: float = 0.0) -> None:
        """Work until ``reserve`` seconds before the end: every fit and step before the choice reads this deadline.
        ``floor``: the share of the time left that the work gets whatever the reserve says (a reserve larger than
        the budget must not leave the ladder nothing but the baselines)."""
        now = time.monotonic()
        self.ctx = replace(self.ctx, deadline=max(self.end - reserve, now + floor * max(self.end - now, 0.0)))

    def refit_estimate(self, trials: list[Trial]) -> float:
        """What the likeliest choice costs after the choice: its refit and its predictions (test, profile,
        importance); the dearest of the three best candidates (a guess, kept back)."""
        board = Leaderboard(tuple(trials), self.prep.task.metric)
        top = [t for t in board.ranked() if t.ok and t.rung > 0][:3]
        n_train, n_test = len(self.split.train), len(self.prep.X) - self.n_choice
        return max((refit_seconds(t, self.n_choice, n_train, lookup=board.get, bagged=self.bags)
                    + predict_seconds_after_choice(t.predict_ms_per_1k, n_train=n_train, n_test=n_test,
                                                   n_columns=self.prep.X.shape[1]) for t in top), default=0.0)

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


def value_order(specs: list[Any]) -> list[Any]:
    """The ladder's fitting order: baselines and the linear model, then the rest cheapest first (LightGBM early, the
    SVM last), so a short budget is spent on the candidates that pay most per second. The choice still ranks by rung."""
    simple = [s for s in specs if s.rung <= 1]
    return simple + sorted((s for s in specs if s.rung > 1), key=lambda s: (s.relative_cost, s.rung))


def warm_up_bundle_imports() -> None:
    """Import skops.io in a background thread while the ladder fits: it imports every scikit-learn estimator and
    torch (2 s, more on a busy machine), which otherwise lands in the tail of the budget, when the bundle is written.
    Fits spend their time in native code that releases the GIL, so the import costs them little."""
    import importlib
    import sys
    import threading

    if "skops.io" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("skops.io",), name="warm-up-skops", daemon=True).start()


def ladder(run: RunState, specs: list[Any]) -> list[Trial]:
    X, y = run.choice_rows
    warm_up_bundle_imports()
    # the refit is not timed yet: a tenth of the budget; and the ladder has at least 40% of the time left
    run.hold(run.tail + 0.1 * run.cfg.effective_time_budget, floor=LADDER_FLOOR)
    specs = value_order(specs)
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
    run.hold(run.tail + run.refit_estimate(trials))
    updated = {t.trial_id: t for t in trials}
    bags: list[Trial] = []
    for trial in _cv_candidates(trials, run.prep.task.metric, settings.cv_top):
        spec = get_spec(trial.name)
        needed = trial.fit_seconds * len(plan) * 1.2 / run.executor.n_workers
        if run.ctx.seconds_left <= 0 or (run.ctx.seconds_left < needed and trial.rung > 1):
            updated[trial.trial_id] = replace(trial, message=(trial.message + "; cv skipped: time budget").lstrip("; "))
            continue
        run.notify(Event("start", spec, trial, step="cv"))
        keep = _bagging(run) and trial.rung > 1
        updated[trial.trial_id], folds = cross_validate(trial, spec, X, y, plan, run.ctx, executor=run.executor,
                                                        keep_pipelines=keep)
        if folds is not None:
            run.keep_oof(trial.trial_id, np.arange(run.n_choice), folds.oof)
            if keep:
                bags.append(bagged_trial(run, updated[trial.trial_id], folds, trials + bags))
        run.notify(Event("done", spec, updated[trial.trial_id], step="cv"))
    return [updated[t.trial_id] for t in trials] + bags


def _bagging(run: RunState) -> bool:
    return run.cfg.preset_settings.bagging


def bagged_trial(run: RunState, trial: Trial, folds: Any, taken: list[Trial]) -> Trial:
    """The k-fold bag of ``trial``: its k fold models, each fitted without one fold, averaged (AutoGluon's bagging).
    Its out-of-fold predictions are exactly its CV's, so it is scored by them and needs no refit: the fold models
    are the model. One more leaderboard row with its own id; ensembles and stacks take it instead of ``trial``."""
    from trainwright.evaluation import bootstrap_se

    trial_id = TrialIds(tuple(t.trial_id for t in taken)).new(f"{trial.trial_id}.bag")
    run.bags[trial_id] = folds.pipelines
    task, y = run.prep.task, run.choice_rows[1]
    pred = folds.oof if task.is_classification else folds.oof[:, 0]
    run.keep_oof(trial_id, np.arange(run.n_choice), folds.oof)
    k = len(folds.pipelines)
    return replace(trial, trial_id=trial_id, params={**trial.params, "bagged_folds": k}, train_scores={},
                   val_scores=score_all(y, pred, task), val_se=bootstrap_se(y, pred, task, random_state=run.cfg.seed),
                   fit_seconds=folds.fit_seconds, predict_ms_per_1k=trial.predict_ms_per_1k * k,
                   size_bytes=trial.size_bytes * k, best_iteration=None,
                   message=f"{k}-fold bag of {trial.trial_id}: its fold models averaged, scored out of fold, no refit")


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
    pipeline = bag_pipeline(run, trial.trial_id) if trial.trial_id in run.bags else refit(run, trial)
    return tested(run, trial, pipeline)


def tested(run: RunState, trial: Trial, pipeline: Any) -> tuple[Any, dict[str, float], np.ndarray]:
    """The one test of the chosen model; then the analysis may work until half the tail is left (the bundle is
    written before it, the report and the log after it)."""
    X_test, y_test = run.prep.X.iloc[run.n_choice:], run.prep.y[run.n_choice:]
    pred = predict_matrix(pipeline, X_test, run.prep.task)
    run.hold(0.5 * run.tail)
    return pipeline, score_all(y_test, pred, decision_task(run, trial)), pred


def refit(run: RunState, trial: Trial) -> Any:
    """``trial``'s parameters fitted on every choice row, by the end of the budget (a boosted model stops there, and
    always gets at least half its expected time)."""
    X, y = run.choice_rows
    expected = refit_seconds(trial, run.n_choice, len(run.split.train), lookup=lambda i: trial)
    ctx = replace(run.ctx, deadline=max(run.end - 0.9 * run.tail, time.monotonic() + 0.5 * expected))
    return fit_pipeline(get_spec(trial.name), ctx, X, y, trial.params)[0]


def bag_pipeline(run: RunState, trial_id: str) -> Any:
    """A bagged trial's model: its fold pipelines averaged with equal weights (models/ensemble.py)."""
    from sklearn.pipeline import Pipeline

    from trainwright.models.ensemble import WeightedEnsemble

    members = run.bags[trial_id]
    n_classes = len(run.prep.task.classes) if run.prep.task.is_classification else 0
    return Pipeline([("model", WeightedEnsemble(members, [1.0 / len(members)] * len(members), n_classes))])


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
