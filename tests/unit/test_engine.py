"""The engine: trial ids, the fold engine's out-of-fold predictions, executors, label-noise probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.data import kfold_plan
from trainwright.evaluation import Leaderboard, Trial, TrialIds, score_one
from trainwright.models import get_spec
from trainwright.training import (
    FitContext,
    ProcessExecutor,
    SequentialExecutor,
    label_probabilities,
    run_folds,
)
from trainwright.workflow import TrainResult, prepare, train


def _trial(trial_id: str, name: str, score: float, params: dict[str, float]) -> Trial:
    return Trial(name=name, family="gbdt", rung=6, status="ok", params=params, val_scores={"roc_auc": score},
                 val_se=0.01, trial_id=trial_id)


def test_trial_ids_are_unique_and_two_trials_of_one_spec_live_side_by_side() -> None:
    ids = TrialIds()
    assert [ids.new("lightgbm"), ids.new("lightgbm"), ids.new("linear"), ids.new("lightgbm")] == [
        "lightgbm", "lightgbm#2", "linear", "lightgbm#3"]
    board = Leaderboard((_trial("lightgbm", "lightgbm", 0.80, {"num_leaves": 31}),
                         _trial("lightgbm#2", "lightgbm", 0.90, {"num_leaves": 7})), "roc_auc")
    assert board.get("lightgbm#2").params == {"num_leaves": 7} and board.get("lightgbm").params == {"num_leaves": 31}
    choice = board.choose()
    assert (choice.chosen, choice.best) == ("lightgbm#2", "lightgbm#2")
    assert board.to_frame()["trial_id"].tolist() == ["lightgbm#2", "lightgbm"]
    with pytest.raises(ValueError, match="unique"):
        Leaderboard((_trial("a", "lightgbm", 0.8, {}), _trial("a", "lightgbm", 0.9, {})), "roc_auc")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out = tmp_path_factory.mktemp("runs")
    return train(dataset_path("titanic"), "survived", preset="quick", output_dir=str(out), seed=3)


def test_oof_predictions_for_every_ok_trial_never_a_test_row(quick_run: TrainResult) -> None:
    result = quick_run
    board = result.leaderboard
    assert board.to_frame()["trial_id"].is_unique
    choice_rows = set(result.split.train) | set(result.split.validation)
    for trial in board.ok():
        oof = result.oof_predictions(trial.trial_id)
        assert list(oof.columns) == [f"proba_{c}" for c in result.task.classes]
        assert oof.dtypes.eq(np.float32).all() and oof.index.name == "row"
        assert not set(oof.index) & set(result.split.test)  # never a test row
        assert set(oof.index) <= choice_rows
        np.testing.assert_allclose(oof.sum(axis=1), 1.0, atol=1e-5)
        if trial.cv_scores:  # cross-validated: every choice row, and its folds' scores come from these predictions
            assert set(oof.index) == choice_rows
        else:  # a hold-out trial: the validation part, scored as the leaderboard says
            assert list(oof.index) == list(result.split.validation)
            y = result.task.encode(pd.read_csv(dataset_path("titanic")).loc[oof.index, "survived"])
            assert score_one("roc_auc", y, oof.to_numpy(), result.task) == pytest.approx(trial.score("roc_auc"), abs=1e-6)
    with pytest.raises(KeyError):
        result.oof_predictions("no-such-trial")


def test_a_pool_of_processes_gives_the_same_fold_scores_as_one_process() -> None:
    prep = prepare(dataset_path("penguins"), load_config(None, target="species"))
    plan = kfold_plan(prep.y, n_folds=4, classification=True, seed=0)
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    spec = get_spec("lightgbm")
    params = spec.params({"n_estimators": 30})
    one = run_folds(spec, params, prep.X, prep.y, plan, ctx, executor=SequentialExecutor(1))
    pool = ProcessExecutor(2, cores=2)
    two = run_folds(spec, params, prep.X, prep.y, plan, ctx, executor=pool)
    pool.close()
    assert pool.threads_per_task == 1 and two.scores == pytest.approx(one.scores)
    np.testing.assert_array_equal(one.oof, two.oof)
    assert not np.isnan(one.oof).any()  # k folds cover every row once


def test_label_probabilities_are_out_of_fold_linear_probabilities() -> None:
    prep = prepare(dataset_path("penguins"), load_config(None, target="species"))
    proba = label_probabilities(prep.frame, prep.y, prep.schema, 0)
    assert proba.shape == (len(prep.y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == prep.y).mean() > 0.95  # penguins are easy even out of fold


def test_workers_run_cross_validation_in_processes_with_the_same_leaderboard(tmp_path) -> None:
    common = {"preset": "quick", "output_dir": str(tmp_path), "models": ("dummy", "linear", "lightgbm"),
              "time_budget": 900}  # a loaded machine must not skip a CV for time in one run and not the other
    one = train(dataset_path("penguins"), "species", **common)
    two = train(dataset_path("penguins"), "species", workers=2, **common)
    assert [t.trial_id for t in one.leaderboard.trials] == [t.trial_id for t in two.leaderboard.trials]
    for a, b in zip(one.leaderboard.trials, two.leaderboard.trials, strict=True):
        assert a.cv_scores == pytest.approx(b.cv_scores, rel=1e-6)  # threads per fit may differ: not bit for bit
    assert one.choice.chosen == two.choice.chosen
