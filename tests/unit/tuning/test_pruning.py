"""Pruning inside the search over boosting rounds: each trial tells Optuna its validation score every few rounds and
stops when the pruner says its curve is below the earlier trials'. Real Optuna, real LightGBM and XGBoost."""

from __future__ import annotations

import optuna
import pytest

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.data import holdout_plan
from trainwright.evaluation import TrialIds
from trainwright.models import get_spec
from trainwright.training import FitContext
from trainwright.tuning import search
from trainwright.tuning.study import ROUND_WARMUP, make_pruner, open_study
from trainwright.workflow.prepare import prepared_and_split


@pytest.fixture(scope="module")
def credit():
    cfg = load_config(None, target="Status", preset="quick")
    prep, split = prepared_and_split(dataset_path("credit_data"), cfg)
    n = len(split.train) + len(split.validation)
    plan = holdout_plan(len(split.train), len(split.validation), seed=0)
    return prep, prep.X.iloc[:n], prep.y[:n], plan


@pytest.mark.parametrize("model", ["lightgbm", pytest.param("xgboost", marks=pytest.mark.slow)])
def test_median_pruning_over_rounds_stops_poor_trials_and_the_study_records_them(credit, tmp_path, model) -> None:
    prep, X, y, plan = credit
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1, size_scale=0.25)  # 500 rounds at most
    result = search(get_spec(model), X, y, plan, ctx, n_trials=14, ids=TrialIds(), sampler="random",
                    study_path=tmp_path / "study.journal", pruner="median")
    pruned = [t for t in result.trials if t.trial.status == "pruned"]
    assert pruned, "with 14 random configurations, some curves fall below the median"
    assert all(t.trial.message.split("; ")[-1].startswith("pruned at round") for t in pruned)
    rounds = [int(t.trial.message.split("pruned at round ")[1].split(":")[0]) for t in pruned]
    assert all(r >= ROUND_WARMUP for r in rounds)  # nothing is pruned in its warm-up rounds
    assert result.best(prep.task.metric) is not None and all(t.pred is None for t in pruned)
    study = open_study(tmp_path / "study.journal", model, maximize=True, sampler=None, pruner=make_pruner(1))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert any(t.intermediate_values for t in study.trials)  # the rounds' scores are in the study


def test_without_pruning_every_trial_runs_to_its_end(credit) -> None:
    prep, X, y, plan = credit
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1, size_scale=0.1)
    result = search(get_spec("lightgbm"), X, y, plan, ctx, n_trials=7, ids=TrialIds(), sampler="random", pruner="none")
    assert [t.trial.status for t in result.trials] == ["ok"] * 7
    with pytest.raises(ValueError, match="pruner"):
        make_pruner(1, "sometimes")
