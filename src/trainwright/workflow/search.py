"""The steps after the ladder's checks: hyperparameter search, the greedy ensemble, the choice rule, and the refit
of an ensemble. Each goes through the fold engine on the choice rows; none reads a test row.

- ``with_search``: the preset's (or ``search_models``') best families searched on the validation part (or k folds),
  the portfolio first; each trial is a leaderboard row with its own id and its out-of-fold predictions kept; the
  best trial of each family is re-scored over the cross-validation folds (the ladder's partition) before it is
  believed. The study is a journal file beside the run (``study.journal``): ``resume_study`` continues it.
- ``with_ensemble``: Caruana's greedy selection over the kept out-of-fold predictions, one more trial whose scores
  are cross-fitted (weights chosen without the rows they score).
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
from trainwright.models.ensemble import WeightedEnsemble
from trainwright.training import Event, cross_validate, fit_pipeline, predict_matrix
from trainwright.training.ensemble import cross_fitted, greedy_selection
from trainwright.training.seeds import choose_with_seeds
from trainwright.tuning import SearchTrial, search
from trainwright.workflow.steps import RunState, decision_task, refit_and_test

__all__ = ["STUDY_FILE", "choose", "keep_study", "refit_and_test_any", "with_ensemble", "with_search"]

STUDY_FILE = "study.journal"
ENSEMBLE = "ensemble"
_POOL = 20  # the best trials an ensemble may draw from


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
    """Seconds kept back for what follows the search: the refit, the test, the analysis and the bundle."""
    slowest = max((t.fit_seconds for t in trials if t.ok), default=0.0)
    return 0.15 * run.cfg.effective_time_budget + 3.0 * slowest


def with_search(run: RunState, trials: list[Trial]) -> list[Trial]:
    """Search the chosen families after the ladder (and its CV); the new trials follow the ladder's."""
    cfg = run.cfg
    n_trials = cfg.search_trials if cfg.search_trials is not None else cfg.preset_settings.search_trials
    specs = _search_specs(run, trials) if n_trials > 0 else []
    if not specs:
        return trials
    start = time.monotonic()
    X, y = run.choice_rows
    plan, path = _search_plan(run), _start_study(run)
    run.schemes["search"] = f"{cfg.sampler}, {plan.describe()}"
    ids = TrialIds(tuple(t.trial_id for t in trials))
    found: list[Trial] = []
    for i, spec in enumerate(specs):
        share = (run.ctx.seconds_left - _reserve(run, trials)) / (len(specs) - i)
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
        found += _rescored(run, result.trials)
    run.timings["search_s"] = round(time.monotonic() - start, 3)
    return trials + found


def _rescored(run: RunState, outcomes: tuple[SearchTrial, ...]) -> list[Trial]:
    """The search's best trial of a family, re-scored over the ladder's CV folds (when the data is small enough
    and time is left), so its score is not the best of many noisy draws."""
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
    updated, folds = cross_validate(best, spec, X, y, plan, run.ctx, executor=run.executor)
    if folds is not None:
        run.keep_oof(best.trial_id, np.arange(run.n_choice), folds.oof)
        updated = replace(updated, message=f"{updated.message}; the search's best, re-scored over {len(plan)} folds")
    run.notify(Event("done", spec, updated, step="cv"))
    return [updated if t.trial_id == best.trial_id else t for t in trials]


def _ensemble_pool(run: RunState, trials: list[Trial]) -> tuple[list[Trial], bool]:
    """The trials to select from: the cross-validated ones when at least two are (their out-of-fold predictions
    cover every choice row, and the ensemble gets comparable CV scores), else every ok trial with predictions."""
    metric = run.prep.task.metric
    board = Leaderboard(tuple(trials), metric)
    ranked = [t for t in board.ranked() if t.ok and t.rung > 0 and t.trial_id in run.oof
              and not math.isnan(t.score(metric))]
    cv = [t for t in ranked if len(t.cv_scores) > 1 and len(run.oof.entries[t.trial_id][0]) == run.n_choice]
    return (cv[:_POOL], True) if len(cv) >= 2 else (ranked[:_POOL], False)


def with_ensemble(run: RunState, trials: list[Trial]) -> list[Trial]:
    """One more trial: the greedy ensemble of the pool's out-of-fold predictions (when it has two members or more)."""
    cfg, task = run.cfg, run.prep.task
    rounds = cfg.ensemble_size if cfg.ensemble_size is not None else cfg.preset_settings.ensemble_size
    pool, on_cv = _ensemble_pool(run, trials)
    if rounds <= 0 or len(pool) < 2:
        return trials
    start = time.perf_counter()
    labels = run.prep.X.index.to_numpy()[:run.n_choice]
    common = set(labels)
    for t in pool:
        common &= set(run.oof.entries[t.trial_id][0].tolist())
    positions = np.flatnonzero(np.isin(labels, list(common)))  # choice-row positions every member predicted
    rows = labels[positions]
    preds = {}
    for t in pool:
        entry_rows, pred = run.oof.entries[t.trial_id]
        order = {r: i for i, r in enumerate(entry_rows.tolist())}
        preds[t.trial_id] = np.asarray(pred, dtype=np.float64)[[order[r] for r in rows.tolist()]]
    y = run.prep.y[positions]
    selection = greedy_selection(preds, y, task, rounds=rounds)
    if len(selection.weights) < 2:  # one member: that trial itself, already on the leaderboard
        run.schemes["ensemble"] = f"greedy selection kept only {next(iter(selection.weights))}: no ensemble"
        return trials
    if on_cv and (plan := _cv_plan(run)) is not None:
        folds = [np.asarray(f.held_out) for f in plan.folds]  # every choice row: positions are 0..n-1
    else:
        folds = [np.arange(len(y))[k::5] for k in range(5)]
    honest, fold_scores = cross_fitted(preds, y, task, folds, rounds=rounds)
    honest_pred = honest if task.is_classification else honest.reshape(-1)
    members = tuple(sorted(selection.weights.items(), key=lambda kv: -kv[1]))
    by_id = {t.trial_id: t for t in pool}
    trial = Trial(
        name=ENSEMBLE, family=ENSEMBLE, rung=max(t.rung for t in pool) + 1, status="ok",
        params={"rounds": rounds, "members": len(members)}, seed=cfg.seed, val_scores=score_all(y, honest_pred, task),
        val_se=bootstrap_se(y, honest_pred, task, random_state=cfg.seed),
        cv_scores=fold_scores if on_cv else (),
        fit_seconds=sum(by_id[m].fit_seconds for m, _ in members) + time.perf_counter() - start,
        predict_ms_per_1k=sum(by_id[m].predict_ms_per_1k for m, _ in members),
        size_bytes=sum(by_id[m].size_bytes for m, _ in members),
        message=(f"greedy selection over {len(pool)} trials on {len(y)} rows; selected in-sample "
                 f"{selection.score:.4f}, cross-fitted {np.mean(fold_scores):.4f}; "
                 + ", ".join(f"{m} {w:.2f}" for m, w in members)),
        trial_id=TrialIds(tuple(t.trial_id for t in trials)).new(ENSEMBLE), members=members,
    )
    run.keep_oof(trial.trial_id, positions, selection.pred)
    run.timings["ensemble_s"] = round(time.perf_counter() - start, 3)
    run.notify(Event("done", None, trial, step="ensemble"))
    return [*trials, trial]


def choose(board: Leaderboard, run: RunState) -> Choice:
    """The run's choice rule: ``simplest`` within one standard error (the default) or ``best``."""
    rule = run.cfg.choose or run.cfg.preset_settings.choose
    return choose_with_seeds(board, rule=rule) if run.cfg.seeds > 1 else board.choose(rule=rule)


def refit_and_test_any(run: RunState, board: Leaderboard, trial: Trial) -> tuple[Any, dict[str, float], np.ndarray]:
    """The chosen trial refit on train+validation and tested once; an ensemble refits each member and averages."""
    if not trial.members:
        return refit_and_test(run, trial)
    from sklearn.pipeline import Pipeline

    X, y = run.choice_rows
    fitted = [fit_pipeline(get_spec(board.get(m).name), run.ctx, X, y, board.get(m).params)[0] for m, _ in trial.members]
    n_classes = len(run.prep.task.classes) if run.prep.task.is_classification else 0
    ensemble = WeightedEnsemble(fitted, [w for _, w in trial.members], n_classes)
    pipeline = Pipeline([("model", ensemble)])
    X_test, y_test = run.prep.X.iloc[run.n_choice:], run.prep.y[run.n_choice:]
    pred = predict_matrix(pipeline, X_test, run.prep.task)
    return pipeline, score_all(y_test, pred, decision_task(run, trial)), pred
