"""The search through the fold engine: real Optuna, real LightGBM, a small real dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.data import Split, choice_folds, holdout_plan
from trainwright.evaluation import TrialIds
from trainwright.models import all_specs, get_spec
from trainwright.training import FitContext, Fitted, fit_candidate
from trainwright.tuning import search
from trainwright.tuning.study import grid_values, make_sampler
from trainwright.workflow.prepare import prepared_and_split


@dataclass(frozen=True)
class Problem:
    X: pd.DataFrame
    y: np.ndarray
    split: Split
    ctx: FitContext


@pytest.fixture(scope="module")
def diabetes() -> Problem:
    cfg = load_config(None, target="progression", preset="quick")
    prep, split = prepared_and_split(dataset_path("diabetes"), cfg)
    n = len(split.train) + len(split.validation)
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=0, n_jobs=1, size_scale=0.1)  # <= 200 rounds
    return Problem(prep.X.iloc[:n], prep.y[:n], split, ctx)


def test_every_search_space_is_typed_and_depends_on_the_problem() -> None:
    from optuna.distributions import BaseDistribution

    from trainwright.data import TaskKind
    from trainwright.models import BuildContext

    for kind in TaskKind:
        for rows in (60, 50_000):
            ctx = BuildContext(task=kind, n_rows=rows, n_classes=2, random_state=0)
            for spec in all_specs():
                space = spec.space(ctx)
                assert all(isinstance(d, BaseDistribution) for d in space.values()), spec.name
                assert set(space) <= set(spec.defaults), spec.name  # only parameters the builder reads
                for config in spec.portfolio:
                    assert set(config) <= set(spec.defaults), spec.name
    small = get_spec("lightgbm").space(BuildContext(task=TaskKind.BINARY, n_rows=60, n_classes=2, random_state=0))
    large = get_spec("lightgbm").space(BuildContext(task=TaskKind.BINARY, n_rows=50_000, n_classes=2, random_state=0))
    assert small["num_leaves"].high < large["num_leaves"].high
    linear = get_spec("linear")
    assert set(linear.space(BuildContext(task=TaskKind.REGRESSION, n_rows=100, n_classes=0, random_state=0))) == {"alpha"}
    assert set(linear.space(BuildContext(task=TaskKind.BINARY, n_rows=100, n_classes=2, random_state=0))) == {"C"}


def test_search_on_validation_portfolio_first_unique_ids_at_least_the_default(diabetes: Problem) -> None:
    spec = get_spec("lightgbm")
    plan = holdout_plan(len(diabetes.split.train), len(diabetes.split.validation))
    default = fit_candidate(spec, spec.params(size_scale=0.1), diabetes.X, diabetes.y, plan, diabetes.ctx,
                            trial_id="lightgbm")
    assert isinstance(default, Fitted)
    ids = TrialIds(("lightgbm",))
    result = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=5, ids=ids, sampler="tpe",
                    known=(default.trial.params, default.trial.score("rmse")))
    trials = result.trials
    assert [t.trial.trial_id for t in trials] == [f"lightgbm#{i}" for i in range(2, 7)]  # own ids, never "lightgbm"
    n_portfolio = len(spec.portfolio)
    assert [t.source for t in trials[:n_portfolio]] == ["portfolio"] * n_portfolio
    assert {t.source for t in trials[n_portfolio:]} == {"tpe"}
    space = spec.space(diabetes.ctx.build_context(len(plan.folds[0].fit)))
    for outcome, config in zip(trials, spec.portfolio, strict=False):  # as given, within the space's bounds
        for k, v in config.items():
            assert outcome.trial.params[k] == pytest.approx(min(max(v, space[k].low), space[k].high))
    assert result.n_stored == 6  # the ladder's result told to the study, plus five trials
    best = result.best("rmse")
    assert best is not None
    assert best.trial.score("rmse") <= default.trial.score("rmse") + 1e-9 or any(
        t.trial.score("rmse") <= default.trial.score("rmse") for t in trials)
    for outcome in trials:  # scored like the ladder: validation rows only, every trial with its own seed and params
        assert outcome.trial.ok and outcome.trial.seed == plan.folds[0].seed
        np.testing.assert_array_equal(outcome.positions, plan.folds[0].held_out)
        assert outcome.trial.best_iteration is not None
        assert outcome.trial.params["n_estimators"] == outcome.trial.best_iteration


def test_search_over_folds_prunes_and_stays_in_the_choice_rows(diabetes: Problem) -> None:
    spec = get_spec("linear")
    plan = choice_folds(diabetes.split, diabetes.X.index, diabetes.y, n_folds=4, classification=False, seed=1)
    touched: list[np.ndarray] = []
    for fold in plan.folds:
        touched += [fold.fit, fold.held_out]
    assert max(int(a.max()) for a in touched) < len(diabetes.X)  # positions into the choice rows only
    test_labels = set(diabetes.split.test)
    assert not test_labels & set(diabetes.X.index)
    result = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=14, ids=TrialIds(), sampler="random")
    statuses = [t.trial.status for t in result.trials]
    assert "pruned" in statuses and "ok" in statuses
    for outcome in result.trials:
        if outcome.trial.ok:
            assert outcome.positions is not None and len(outcome.positions) == len(diabetes.X)
            assert outcome.trial.cv_scores == ()  # only a re-score on the ladder's partition counts as CV


def test_search_respects_the_deadline(diabetes: Problem) -> None:
    import time
    from dataclasses import replace

    spec = get_spec("linear")
    plan = holdout_plan(len(diabetes.split.train), len(diabetes.split.validation))
    late = replace(diabetes.ctx, deadline=time.monotonic() - 1)
    assert search(spec, diabetes.X, diabetes.y, plan, late, n_trials=5, ids=TrialIds()).trials == ()
    assert search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=50, ids=TrialIds(),
                  time_limit=0.0).stopped == "time"


def test_samplers_are_seeded_and_grid_covers_the_space(diabetes: Problem) -> None:
    spec = get_spec("linear")
    plan = holdout_plan(len(diabetes.split.train), len(diabetes.split.validation))

    def params(sampler: str) -> list[Any]:
        out = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=5, ids=TrialIds(), sampler=sampler)
        return [t.trial.params["alpha"] for t in out.trials]

    assert params("random") == params("random")
    grid = params("grid")
    space = spec.space(diabetes.ctx.build_context(100))
    assert len(grid) == len(spec.portfolio) + len(grid_values(space["alpha"]))  # the grid ends the search
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("anneal", space, 0)


def test_a_stored_study_is_continued(diabetes: Problem, tmp_path: Path) -> None:
    spec = get_spec("linear")
    plan = holdout_plan(len(diabetes.split.train), len(diabetes.split.validation))
    path = tmp_path / "study.journal"
    first = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=3, ids=TrialIds(), study_path=path)
    again = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=2, ids=TrialIds(), study_path=path)
    assert (first.n_stored, again.n_stored) == (3, 5)
    assert {t.source for t in again.trials} == {"tpe"}  # the portfolio was tried once, in the first search


def test_trials_run_side_by_side_on_a_process_pool(diabetes: Problem) -> None:
    from trainwright.training import ProcessExecutor

    spec = get_spec("linear")
    plan = holdout_plan(len(diabetes.split.train), len(diabetes.split.validation))
    pool = ProcessExecutor(2, cores=2)
    try:
        parallel = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=4, ids=TrialIds(), executor=pool)
    finally:
        pool.close()
    alone = search(spec, diabetes.X, diabetes.y, plan, diabetes.ctx, n_trials=2, ids=TrialIds())
    assert [t.trial.trial_id for t in parallel.trials] == ["linear", "linear#2", "linear#3", "linear#4"]
    assert [t.source for t in parallel.trials[:2]] == ["portfolio", "portfolio"]
    for a, b in zip(parallel.trials, alone.trials, strict=False):  # the same portfolio trials, the same scores
        assert a.trial.score("rmse") == pytest.approx(b.trial.score("rmse"))
    assert parallel.n_stored == 4 and all(t.trial.ok for t in parallel.trials)
