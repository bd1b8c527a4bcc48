"""Hyperparameter search through the fold engine: Optuna asks, the engine fits, every trial is a ``Trial``.

One study per model spec. The spec's portfolio (known-good configurations) is enqueued before any sampling, so a
short budget already tries them; then the sampler (TPE by default, random or grid, seeded with the run's seed)
proposes parameters. A trial is scored on the plan it is given:

- a hold-out plan (train -> validation, early stopping on validation as on the ladder): one fit per trial, scored
  exactly as the ladder's trials, so their validation scores compare;
- a k-fold plan over the choice rows: fold by fold, the running mean reported to the pruner after each fold, so a
  trial clearly worse than the median after its first folds stops there. Boosted models cannot early-stop on a
  held-out fold (that fold would choose its own score), so their round count comes from the ladder's early-stopped
  fit, scaled by the learning-rate ratio.

The ladder's own fit of the defaults is told to a new study as a finished trial (no refit), so the sampler starts
from it. On a pool of processes, hold-out trials run side by side in batches of the pool's size. Plans come from
the choice rows only: the search never fits or scores a test row. It stops at the trial count or when the next
trial would pass the deadline.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import FoldPlan
from trainwright.evaluation import Trial, TrialIds, get_metric, score_all, score_one
from trainwright.models import ModelSpec
from trainwright.models._rounds import RoundReport
from trainwright.training import Fitted, fit_candidate, fit_fold, run_folds
from trainwright.training.engine import FitContext, FitPruned, FoldFit, out_of_fold
from trainwright.training.executor import Executor, resolve
from trainwright.training.fit import failed_trial
from trainwright.training.ladder import CandidateTask
from trainwright.tuning.study import grid_points, make_pruner, make_sampler, open_study

__all__ = ["SearchResult", "SearchTrial", "search"]

PORTFOLIO = "portfolio"
MAX_GRID = 1000  # grid points enqueued into a new study (a resumed grid study samples at random)


@dataclass(frozen=True)
class SearchTrial:
    """One trial of a search: the leaderboard row, Optuna's trial number, where its parameters came from
    (``portfolio`` or the sampler's name), and its out-of-fold predictions (positions into the plan's rows)."""

    trial: Trial
    number: int
    source: str
    positions: np.ndarray | None = None
    pred: np.ndarray | None = None


@dataclass(frozen=True)
class SearchResult:
    spec: str
    trials: tuple[SearchTrial, ...]
    n_stored: int  # finished trials in the study after this search, earlier runs' included (a resumed study grows)
    stopped: str  # trials | time | space (grid exhausted)

    def best(self, metric: str) -> SearchTrial | None:
        ok = [t for t in self.trials if t.trial.ok and not math.isnan(t.trial.score(metric))]
        if not ok:
            return None
        sign = 1 if get_metric(metric).greater_is_better else -1
        return max(ok, key=lambda t: sign * t.trial.score(metric))


def _clipped(value: Any, distribution: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return value if value in distribution.choices else None
    value = min(max(value, distribution.low), distribution.high)
    return int(value) if isinstance(distribution, IntDistribution) else float(value)


def _enqueue_portfolio(study: Any, spec: ModelSpec, space: Mapping[str, Any]) -> None:
    """The spec's known-good configurations, first in the queue (once per study: a resumed study has them)."""
    if study.trials:
        return
    for config in spec.portfolio:  # every searched parameter given (the defaults, then the configuration)
        params = {k: _clipped(v, space[k]) for k, v in {**spec.defaults, **config}.items() if k in space}
        study.enqueue_trial({k: v for k, v in params.items() if v is not None}, user_attrs={"source": PORTFOLIO},
                            skip_if_exists=True)


def _add_known(study: Any, space: Mapping[str, Any], known: tuple[Mapping[str, Any], float] | None) -> None:
    """Tell a new study a result it already has (the ladder's default fit on the same plan), without refitting:
    the sampler learns from it, and the search is never worse than the defaults."""
    import optuna

    if known is None or math.isnan(known[1]) or any(t.state.is_finished() for t in study.trials):
        return
    params = {k: _clipped(known[0][k], d) for k, d in space.items() if k in known[0]}
    if len(params) == len(space) and all(v is not None for v in params.values()):
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dict(space), value=float(known[1]),
                                                  user_attrs={"source": "ladder"}))


def _with_rounds(spec: ModelSpec, params: dict[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """A boosted model's round count on k folds: the ladder's early-stopped count times base lr / this lr."""
    if base is None or spec.early_stopping is None or "n_estimators" not in params or "learning_rate" not in params:
        return params
    ratio = float(base.get("learning_rate", params["learning_rate"])) / float(params["learning_rate"])
    rounds = round(int(base["n_estimators"]) * ratio)
    return {**params, "n_estimators": int(min(max(rounds, 20), int(spec.defaults.get("n_estimators", rounds)) * 2))}


def _round_reporter(asked: Any, maximize: bool) -> RoundReport:
    """Tell the Optuna trial its validation score every few boosting rounds (in the study's direction: a loss is
    negated when the study maximises); raise ``FitPruned`` when the pruner says the trial is not worth finishing."""
    def report(step: int, value: float, higher_is_better: bool) -> None:
        asked.report(value if higher_is_better == maximize else -value, step)
        if asked.should_prune():
            raise FitPruned(f"pruned at round {step}: its validation curve is below the median of earlier trials")

    return report


def _on_holdout(spec: ModelSpec, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan,
                ctx: FitContext, trial_id: str, report: RoundReport | None = None,
                ) -> tuple[Trial, np.ndarray | None, np.ndarray | None]:
    fitted = fit_candidate(spec, params, X, y, plan, ctx, trial_id=trial_id, report=report)
    if isinstance(fitted, Fitted):
        return fitted.trial, plan.folds[0].held_out, fitted.val_pred
    return fitted, None, None


def _on_folds(spec: ModelSpec, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, plan: FoldPlan,
              ctx: FitContext, trial_id: str, asked: Any, executor: Executor | None
              ) -> tuple[Trial, np.ndarray | None, np.ndarray | None]:
    """Fold by fold with a report to the pruner after each (or all folds at once on a process pool)."""
    task, metric = ctx.task, ctx.task.metric
    plan = replace(plan, early_stopping=False)
    fits: list[FoldFit] = []
    scores: list[float] = []
    try:
        if executor is not None and executor.n_workers > 1:
            run = run_folds(spec, params, X, y, plan, ctx, executor=executor)
            fits, scores = list(run.fits), list(run.scores)
        else:
            for k, fold in enumerate(plan.folds):
                fit = fit_fold(spec, params, X, y, fold, ctx, keep_pipeline=False)
                fits.append(fit)
                scores.append(float(score_one(metric, y[fold.held_out], fit.pred, task)))
                asked.report(float(np.mean(scores)), step=k)
                if k < len(plan) - 1 and asked.should_prune():
                    message = f"pruned after {k + 1} of {len(plan)} folds (median rule): mean {np.mean(scores):.4f}"
                    return failed_trial(spec, "pruned", message, fold.seed, trial_id=trial_id, params=params), None, None
    except Exception as exc:  # a configuration that breaks is one failed trial, not a failed search
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return failed_trial(spec, "failed", text, ctx.random_state, trial_id=trial_id, params=params), None, None
    n_outputs = len(task.classes) if task.is_classification else 1
    oof = out_of_fold(plan, fits, n_outputs)
    seen = ~np.isnan(oof).all(axis=1)
    pred = oof[seen] if task.is_classification else oof[seen, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val_scores = score_all(y[seen], pred, task)
    n_pred = sum(len(f.fold.held_out) for f in fits)
    trial = Trial(name=spec.name, family=spec.family, rung=spec.rung, status="ok", params=params,
                  seed=plan.folds[0].seed, val_scores=val_scores, fit_seconds=float(sum(f.fit_seconds for f in fits)),
                  predict_ms_per_1k=sum(f.predict_seconds for f in fits) * 1e6 / max(n_pred, 1),
                  message=f"search folds: {np.mean(scores):.4f} ± {np.std(scores, ddof=1):.4f} over {len(scores)}",
                  trial_id=trial_id)
    return trial, np.flatnonzero(seen), oof[seen]


def search(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, plan: FoldPlan, ctx: FitContext, *, n_trials: int,
           ids: TrialIds, sampler: str = "tpe", study_path: Any = None, base_params: Mapping[str, Any] | None = None,
           executor: Executor | None = None, time_limit: float = math.inf,
           known: tuple[Mapping[str, Any], float] | None = None, pruner: str = "median",
           on_trial: Callable[[SearchTrial], None] | None = None) -> SearchResult:
    """Up to ``n_trials`` trials of ``spec`` on ``plan`` (rows of ``X``/``y`` by position): the portfolio first,
    then the sampler. Stops early when the next trial would pass ``ctx.deadline`` or ``time_limit`` seconds; no fit
    runs past either (boosted models stop between rounds). ``known``: parameters and score already measured on this
    plan (the ladder's), told to a new study. ``pruner``: median | halving | none (see ``make_pruner``)."""
    space = spec.space(ctx.build_context(len(plan.folds[0].fit)))
    if not space or n_trials <= 0:
        return SearchResult(spec.name, (), 0, "space")
    metric = ctx.task.metric
    maximize = get_metric(metric).greater_is_better
    study = open_study(study_path, spec.name, maximize=maximize, sampler=make_sampler(sampler, space, ctx.random_state),
                       pruner=make_pruner(len(plan), pruner))
    fresh = not study.trials
    _enqueue_portfolio(study, spec, space)
    if sampler == "grid" and fresh:
        for point in grid_points(space, ctx.random_state)[:MAX_GRID]:
            study.enqueue_trial(point, user_attrs={"source": "grid"})
    _add_known(study, space, known)
    if sampler == "grid":
        waiting = sum(1 for t in study.trials if t.state.name == "WAITING")
        n_trials = min(n_trials, waiting)
    deadline = min(ctx.deadline, time.monotonic() + time_limit)
    ctx = replace(ctx, deadline=deadline)
    # on a pool of processes, hold-out trials run side by side: ask a batch, fit it, tell it (TPE's constant liar
    # keeps a batch's proposals apart); k-fold trials run their folds side by side instead
    batch = executor.n_workers if executor is not None and executor.n_workers > 1 and len(plan) == 1 else 1
    data = (executor.share(X), executor.share(y)) if batch > 1 and executor is not None else None
    worker_ctx = replace(ctx.for_worker(), n_jobs=executor.threads_per_task) if batch > 1 and executor else ctx
    done: list[SearchTrial] = []
    stopped = "trials"
    while len(done) < n_trials:
        seconds = [t.trial.fit_seconds for t in done if t.trial.fit_seconds > 0]
        expected = float(np.mean(seconds)) * 1.2 if seconds else 0.0
        if time.monotonic() + expected >= deadline:
            stopped = "time"
            break
        asked = [study.ask(space) for _ in range(min(batch, n_trials - len(done)))]
        tasks = []
        for one in asked:
            trial_id = ids.new(spec.name)
            one.set_user_attr("trial_id", trial_id)
            params = spec.params(one.params, size_scale=ctx.size_scale)
            if len(plan) > 1:
                params = _with_rounds(spec, params, base_params)
            tasks.append(CandidateTask(spec, params, data or (X, y), plan, worker_ctx, trial_id))
        if batch > 1 and executor is not None:
            results = executor.map(_fit_task, tasks)
        elif len(plan) == 1:
            results = [_on_holdout(t.spec, t.params, X, y, plan, ctx, t.trial_id,
                                   None if pruner == "none" else _round_reporter(one, maximize))
                       for t, one in zip(tasks, asked, strict=True)]
        else:
            results = [_on_folds(t.spec, t.params, X, y, plan, ctx, t.trial_id, one, executor)
                       for t, one in zip(tasks, asked, strict=True)]
        for one, (trial, positions, pred) in zip(asked, results, strict=True):
            source = str(one.user_attrs.get("source", sampler))
            note = f"search #{one.number} ({source})"
            trial = replace(trial, message=f"{note}; {trial.message}" if trial.message else note)
            _tell(study, one, trial, metric)
            outcome = SearchTrial(trial, one.number, source, positions, pred)
            done.append(outcome)
            if on_trial is not None:
                on_trial(outcome)
    return SearchResult(spec.name, tuple(done), sum(t.state.is_finished() for t in study.trials), stopped)


def _fit_task(task: CandidateTask) -> tuple[Trial, np.ndarray | None, np.ndarray | None]:
    X, y = resolve(task.data[0]), resolve(task.data[1])
    return _on_holdout(task.spec, task.params, X, y, task.plan, task.ctx, task.trial_id)


def _tell(study: Any, asked: Any, trial: Trial, metric: str) -> None:
    from optuna.trial import TrialState

    if trial.status == "pruned":
        study.tell(asked, state=TrialState.PRUNED)
    elif trial.ok and not math.isnan(trial.score(metric)):
        study.tell(asked, trial.score(metric))
    else:
        study.tell(asked, state=TrialState.FAIL)
