"""The steps after the ladder's checks: hyperparameter search, the greedy ensemble, the choice rule, and the refit
of an ensemble. Each goes through the fold engine on the choice rows; none reads a test row.

- ``with_search``: the preset's (or ``search_models``') best families searched on the validation part (or k folds),
  the portfolio first; each trial is a leaderboard row with its own id and its out-of-fold predictions kept; the
  best trial of each family is re-scored over the cross-validation folds (the ladder's partition) before it is
  believed. The study is a journal file beside the run (``study.journal``): ``resume_study`` continues it.
- ``with_ensemble``: Caruana's greedy selection over the kept out-of-fold predictions, one more trial whose scores
  are cross-fitted (weights chosen without the rows they score); with the preset's stacking, a linear level-2 model
  on the same predictions, cross-fitted the same way, one more trial again. Bags (the k fold models of a
  cross-validated trial) take their trial's place in the pool: an ensemble of bags needs no refit.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.data import FoldPlan, choice_folds, holdout_plan
from trainwright.evaluation import Choice, Leaderboard, Trial, TrialIds, bootstrap_se, score_all
from trainwright.exceptions import ConfigError, Problem
from trainwright.models import get_spec, resolve
from trainwright.models.ensemble import StackedEnsemble, WeightedEnsemble
from trainwright.training import Event, cross_validate
from trainwright.training.ensemble import cross_fitted, greedy_selection, stacked
from trainwright.training.seeds import choose_with_seeds
from trainwright.tuning import SearchTrial, search
from trainwright.tuning.budget import predict_seconds_after_choice, refit_seconds
from trainwright.workflow.steps import (
    RunState,
    bag_pipeline,
    bagged_trial,
    refit,
    refit_and_test,
    tested,
)

__all__ = ["STUDY_FILE", "choose", "keep_study", "refit_and_test_any", "with_ensemble", "with_search"]

STUDY_FILE = "study.journal"
ENSEMBLE = "ensemble"
STACK = "stack"
_POOL = 20  # the best trials an ensemble may draw from
_STACK_POOL = 8  # the best trials a stack's level-2 model reads (a linear model on a few dozen columns)


def _study_path(run: RunState) -> Path:
    """Where the study lives while the run is made (the run folder appears only once its bundle is complete)."""
    return Path(run.cfg.output_dir) / f".{run.run_id}.{STUDY_FILE}"


def _start_study(run: RunState) -> Path:
    path = _study_path(run)
    resumed = run.cfg.resume_study
    if resumed:
        source = Path(run.cfg.output_dir) / resumed / STUDY_FILE
        if not source.is_file():
            raise ConfigError(f"no stored search to resume in run {resumed!r}", [Problem(
                "config.no_study", f"{source} does not exist", fix="pass the id of a run that searched (trainwright runs)")])
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)  # the old run stays as it was; this run's study continues from its copy
    return path


def keep_study(run: RunState, run_dir: Path) -> None:
    """Move the study into the finished run folder (``runs/<id>/study.journal``)."""
    path = _study_path(run)
    if path.is_file():
        shutil.move(str(path), str(Path(run_dir) / STUDY_FILE))


def discard_study(run: RunState) -> None:
    """A failed or killed-by-exception run leaves no study behind (a kill -9 leaves one; the next sweep takes it)."""
    _study_path(run).unlink(missing_ok=True)


def _search_specs(run: RunState, trials: list[Trial]) -> list[Any]:
    cfg = run.cfg
    if cfg.search_models is not None:
        resolve(cfg.search_models)  # an unknown name is refused with the valid ones
        names = [n for n in cfg.search_models if any(t.name == n and t.ok for t in trials)]
    else:
        board = Leaderboard(tuple(trials), run.prep.task.metric)
        names = list(dict.fromkeys(t.name for t in board.ranked() if t.ok and t.rung > 0))
    ctx = run.ctx.build_context(len(run.split.train))
    specs = [get_spec(n) for n in names]
    specs = [s for s in specs if s.space(ctx)]
    return specs if cfg.search_models is not None else specs[:cfg.preset_settings.search_top]


def _search_plan(run: RunState) -> FoldPlan:
    cfg, settings = run.cfg, run.cfg.preset_settings
    n_folds = cfg.cv_folds or settings.cv_folds
    if cfg.search_scheme == "cv" and run.n_choice <= settings.cv_max_rows and n_folds >= 2:
        X, y = run.choice_rows  # a partition of its own (seed + 1): the re-score uses the ladder's CV partition
        return choice_folds(run.split, X.index, y, n_folds=n_folds, classification=run.prep.task.is_classification,
                            seed=cfg.seed + 1)
    return holdout_plan(len(run.split.train), len(run.split.validation), seed=cfg.seed)


def _cv_plan(run: RunState) -> FoldPlan | None:
    """The ladder's CV partition (the same folds, so CV means compare), or None when the data is too large."""
    if run.cv_plan is not None:
        return run.cv_plan
    settings, cfg = run.cfg.preset_settings, run.cfg
    n_folds = cfg.cv_folds or settings.cv_folds
    if run.n_choice > settings.cv_max_rows or n_folds < 2:
        return None
    X, y = run.choice_rows
    return choice_folds(run.split, X.index, y, n_folds=n_folds, classification=run.prep.task.is_classification)


def _reserve(run: RunState, trials: list[Trial]) -> float:
    """Seconds kept back for what follows the search: the refit of the likeliest choice, the test, the analysis,
    the bundle and the report (tuning/budget.py)."""
    return run.tail + run.refit_estimate(trials)


def with_search(run: RunState, trials: list[Trial]) -> list[Trial]:
    """Search the chosen families after the ladder (and its CV); the new trials follow the ladder's."""
    cfg = run.cfg
    n_trials = cfg.search_trials if cfg.search_trials is not None else cfg.preset_settings.search_trials
    specs = _search_specs(run, trials) if n_trials > 0 else []
    if not specs:
        return trials
    start = time.monotonic()
    run.hold(_reserve(run, trials))
    X, y = run.choice_rows
    plan, path = _search_plan(run), _start_study(run)
    run.schemes["search"] = f"{cfg.sampler}, {plan.describe()}"
    ids = TrialIds(tuple(t.trial_id for t in trials))
    found: list[Trial] = []
    for i, spec in enumerate(specs):
        share = run.ctx.seconds_left / (len(specs) - i)
        if share <= 0:
            break
        ladder_trial = next((t for t in trials if t.name == spec.name and t.ok), None)

        def kept(outcome: SearchTrial, spec: Any = spec) -> None:
            if outcome.trial.ok and outcome.positions is not None and outcome.pred is not None:
                run.keep_oof(outcome.trial.trial_id, outcome.positions, outcome.pred)
                if len(plan) == 1:  # the validation part's predictions, as the ladder's (thresholds read them)
                    run.holdout_pred[outcome.trial.trial_id] = outcome.pred
            run.notify(Event("done", spec, outcome.trial, step="search"))

        run.notify(Event("start", spec, step="search"))
        result = search(spec, X, y, plan, run.ctx, n_trials=math.ceil(n_trials / len(specs)), ids=ids,
                        sampler=cfg.sampler, study_path=path,
                        base_params=ladder_trial.params if ladder_trial is not None else None,
                        executor=run.executor, time_limit=share, on_trial=kept,
                        known=(ladder_trial.params, ladder_trial.score(run.prep.task.metric))
                        if ladder_trial is not None and len(plan) == 1 else None)
        run.schemes[f"search {spec.name}"] = f"{len(result.trials)} trials ({result.n_stored} in the study), " \
                                             f"stopped by {result.stopped}"
        found += _rescored(run, result.trials, trials + found)
    run.timings["search_s"] = round(time.monotonic() - start, 3)
    return trials + found


def _rescored(run: RunState, outcomes: tuple[SearchTrial, ...], earlier: list[Trial]) -> list[Trial]:
    """The search's best trial of a family, re-scored over the ladder's CV folds (when the data is small enough
    and time is left), so its score is not the best of many noisy draws; with bagging, its fold models become one
    more trial, its bag."""
    trials = [o.trial for o in outcomes]
    metric = run.prep.task.metric
    ok = [t for t in trials if t.ok and not math.isnan(t.score(metric))]
    plan = _cv_plan(run)
    if not ok or plan is None:
        return trials
    sign = 1 if Leaderboard((), metric).greater_is_better else -1
    best = max(ok, key=lambda t: sign * t.score(metric))
    if run.ctx.seconds_left < best.fit_seconds * len(plan) * 1.5 / run.executor.n_workers:
        return trials
    spec = get_spec(best.name)
    run.notify(Event("start", spec, best, step="cv"))
    X, y = run.choice_rows
    keep = run.cfg.preset_settings.bagging
    updated, folds = cross_validate(best, spec, X, y, plan, run.ctx, executor=run.executor, keep_pipelines=keep)
    bags = []
    if folds is not None:
        run.keep_oof(best.trial_id, np.arange(run.n_choice), folds.oof)
        updated = replace(updated, message=f"{updated.message}; the search's best, re-scored over {len(plan)} folds")
        if keep:
            bags.append(bagged_trial(run, updated, folds, earlier + trials))
    run.notify(Event("done", spec, updated, step="cv"))
    return [updated if t.trial_id == best.trial_id else t for t in trials] + bags


def _ensemble_pool(run: RunState, trials: list[Trial]) -> tuple[list[Trial], bool]:
    """The trials to select from: the cross-validated ones when at least two are (their out-of-fold predictions
    cover every choice row, and the ensemble gets comparable CV scores), else every ok trial with predictions."""
    metric = run.prep.task.metric
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok and t.rung > 0 and t.trial_id in run.oof
              and not math.isnan(t.score(metric))]
    ranked = [t for t in ranked if f"{t.trial_id}.bag" not in run.bags]  # its bag instead: same predictions, no refit
    cv = [t for t in ranked if len(t.cv_scores) > 1 and len(run.oof.entries[t.trial_id][0]) == run.n_choice]
    return (cv[:_POOL], True) if len(cv) >= 2 else (ranked[:_POOL], False)


def _pool_predictions(run: RunState, pool: list[Trial], on_cv: bool
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, list[np.ndarray]]:
    """(choice-row positions every member predicted, trial id -> predictions on them, their targets, the folds that
    cross-fit a combination: the CV partition's when the pool was cross-validated)."""
    labels = run.prep.X.index.to_numpy()[:run.n_choice]
    common = set(labels)
    for t in pool:
        common &= set(run.oof.entries[t.trial_id][0].tolist())
    positions = np.flatnonzero(np.isin(labels, list(common)))
    rows = labels[positions]
    preds = {}
    for t in pool:
        entry_rows, pred = run.oof.entries[t.trial_id]
        order = {r: i for i, r in enumerate(entry_rows.tolist())}
        preds[t.trial_id] = np.asarray(pred, dtype=np.float64)[[order[r] for r in rows.tolist()]]
    y = run.prep.y[positions]
    if on_cv and (plan := _cv_plan(run)) is not None:
        folds = [np.asarray(f.held_out) for f in plan.folds]  # every choice row: positions are 0..n-1
    else:
        folds = [np.arange(len(y))[k::5] for k in range(5)]
    return positions, preds, y, folds


def with_ensemble(run: RunState, trials: list[Trial]) -> list[Trial]:
    """One more trial: the greedy ensemble of the pool's out-of-fold predictions (when it has two members or more);
    and one more with the preset's stacking: the linear stack of the best of the same pool."""
    cfg, task = run.cfg, run.prep.task
    rounds = cfg.ensemble_size if cfg.ensemble_size is not None else cfg.preset_settings.ensemble_size
    pool, on_cv = _ensemble_pool(run, trials)
    if len(pool) < 2 or (rounds <= 0 and not cfg.preset_settings.stacking):
        return trials
    if run.ctx.seconds_left <= 0:  # the work time is spent: what is left belongs to the refit and the bundle
        run.schemes["ensemble"] = "skipped: time budget"
        return trials
    start = time.perf_counter()
    positions, preds, y, folds = _pool_predictions(run, pool, on_cv)
    found: list[Trial] = []
    if rounds > 0:
        selection = greedy_selection(preds, y, task, rounds=rounds)
        if len(selection.weights) < 2:  # one member: that trial itself, already on the leaderboard
            run.schemes["ensemble"] = f"greedy selection kept only {next(iter(selection.weights))}: no ensemble"
        else:
            honest, fold_scores = cross_fitted(preds, y, task, folds, rounds=rounds)
            members = tuple(sorted(selection.weights.items(), key=lambda kv: -kv[1]))
            note = (f"greedy selection over {len(pool)} trials on {len(y)} rows; selected in-sample "
                    f"{selection.score:.4f}, cross-fitted {np.mean(fold_scores):.4f}; "
                    + ", ".join(f"{m} {w:.2f}" for m, w in members))
            trial = _combined(run, trials, pool, ENSEMBLE, members, (honest, fold_scores, y, on_cv),
                              {"rounds": rounds, "members": len(members)}, note, time.perf_counter() - start)
            run.keep_oof(trial.trial_id, positions, selection.pred)
            found.append(trial)
    if cfg.preset_settings.stacking:
        stack_pool = pool[:_STACK_POOL]
        stack = stacked({t.trial_id: preds[t.trial_id] for t in stack_pool}, y, task, folds, random_state=cfg.seed)
        weights = _coefficient_shares(stack.meta, len(stack.order))
        members = tuple(zip(stack.order, weights, strict=True))
        note = (f"linear stack over the out-of-fold predictions of {len(stack_pool)} trials on {len(y)} rows, "
                f"cross-fitted {np.mean(stack.fold_scores):.4f}; coefficient shares "
                + ", ".join(f"{m} {w:.2f}" for m, w in members))
        trial = _combined(run, trials + found, stack_pool, STACK, members, (stack.pred, stack.fold_scores, y, on_cv),
                          {"meta": type(stack.meta).__name__, "members": len(members)}, note, 0.0)
        run.stacks[trial.trial_id] = stack.meta
        run.keep_oof(trial.trial_id, positions, stack.pred)
        found.append(trial)
    run.timings["ensemble_s"] = round(time.perf_counter() - start, 3)
    found = [t for t in found if _refit_fits(run, trials + found, t)]
    for trial in found:
        run.notify(Event("done", None, trial, step="ensemble"))
    return [*trials, *found]


def _refit_fits(run: RunState, trials: list[Trial], trial: Trial) -> bool:
    """Whether ``trial``'s refit (its members that are not bags) fits in the budget left after the tail; an
    ensemble that would not is left off the leaderboard (and the scheme says so) rather than break the budget."""
    board = Leaderboard(tuple(trials), run.prep.task.metric)
    n_train, n_test = len(run.split.train), len(run.prep.X) - run.n_choice
    needed = refit_seconds(trial, run.n_choice, n_train, lookup=board.get, bagged=run.bags) + \
        predict_seconds_after_choice(trial.predict_ms_per_1k, n_train=n_train, n_test=n_test,
                                     n_columns=run.prep.X.shape[1])
    left = run.end - run.tail - time.monotonic()
    if needed <= left:
        return True
    run.schemes[trial.trial_id] = (f"left out: its refit and predictions (~{needed:.1f}s) would pass the time budget "
                                   f"({left:.1f}s left)")
    return False


def _coefficient_shares(meta: Any, n_members: int) -> list[float]:
    """Each member's share of the level-2 model's absolute coefficients (what the report shows as its weight)."""
    coef = np.abs(np.asarray(meta.coef_, dtype=float)).reshape(-1 if meta.coef_.ndim == 1 else meta.coef_.shape[0], -1)
    per_member = coef.sum(axis=0).reshape(n_members, -1).sum(axis=1)
    total = per_member.sum()
    return [float(v / total) if total > 0 else 1.0 / n_members for v in per_member]


def _combined(run: RunState, trials: list[Trial], pool: list[Trial], kind: str, members: tuple[tuple[str, float], ...],
              honest: tuple[np.ndarray, tuple[float, ...], np.ndarray, bool], params: dict[str, Any], note: str,
              seconds: float) -> Trial:
    """The leaderboard row of an ensemble or a stack, scored by its cross-fitted predictions."""
    task = run.prep.task
    pred, fold_scores, y, on_cv = honest
    pred = pred if task.is_classification else pred.reshape(-1)
    by_id = {t.trial_id: t for t in pool}
    return Trial(
        name=kind, family=kind, rung=max(t.rung for t in pool) + 1, status="ok", params=params, seed=run.cfg.seed,
        val_scores=score_all(y, pred, task), val_se=bootstrap_se(y, pred, task, random_state=run.cfg.seed),
        cv_scores=fold_scores if on_cv else (),
        fit_seconds=sum(by_id[m].fit_seconds for m, _ in members) + seconds,
        predict_ms_per_1k=sum(by_id[m].predict_ms_per_1k for m, _ in members),
        size_bytes=sum(by_id[m].size_bytes for m, _ in members), message=note,
        trial_id=TrialIds(tuple(t.trial_id for t in trials)).new(kind), members=members,
    )


def choose(board: Leaderboard, run: RunState) -> Choice:
    """The run's choice rule: ``simplest`` within one standard error (the default) or ``best``."""
    rule = run.cfg.choose or run.cfg.preset_settings.choose
    return choose_with_seeds(board, rule=rule) if run.cfg.seeds > 1 else board.choose(rule=rule)


def refit_and_test_any(run: RunState, board: Leaderboard, trial: Trial) -> tuple[Any, dict[str, float], np.ndarray]:
    """The chosen trial refit on train+validation and tested once. A bag is its fold models (no refit); an ensemble
    or a stack takes each member's model (a bag as it is, any other trial refit) and combines them."""
    if not trial.members:
        return refit_and_test(run, trial)
    from sklearn.pipeline import Pipeline

    fitted = [bag_pipeline(run, m) if m in run.bags else refit(run, board.get(m)) for m, _ in trial.members]
    n_classes = len(run.prep.task.classes) if run.prep.task.is_classification else 0
    if trial.trial_id in run.stacks:
        model: Any = StackedEnsemble(fitted, run.stacks[trial.trial_id], n_classes)
    else:
        model = WeightedEnsemble(fitted, [w for _, w in trial.members], n_classes)
    return tested(run, trial, Pipeline([("model", model)]))
