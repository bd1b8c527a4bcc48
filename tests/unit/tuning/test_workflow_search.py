"""The search and the ensemble inside ``train``: leaderboard rows, out-of-fold predictions, the stored study."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.evaluation import score_one
from trainwright.tuning import open_study
from trainwright.workflow import TrainResult, train

MODELS = ("dummy", "linear", "lightgbm")


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, set[Any], Path]:
    runs = tmp_path_factory.mktemp("runs")
    seen: set[Any] = set()
    search_module = importlib.import_module("trainwright.tuning.search")
    real = search_module.fit_candidate

    def spy(spec: Any, params: Any, X: Any, y: Any, plan: Any, ctx: Any, **kw: Any) -> Any:
        for fold in plan.folds:  # every row a search trial fits or scores, by its file label
            seen.update(X.index[fold.fit].tolist() + X.index[fold.held_out].tolist())
        return real(spec, params, X, y, plan, ctx, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_module, "fit_candidate", spy)
        result = train(dataset_path("diabetes"), "progression", preset="quick", models=MODELS, output_dir=str(runs),
                       search_trials=4, search_models=("linear",), ensemble_size=10, choose="best",
                       tracking=False, time_budget=900)  # a loaded machine must not turn the re-score off
    return result, seen, runs


def test_search_trials_are_leaderboard_rows_with_their_own_ids_and_oof(searched) -> None:
    result, seen, _ = searched
    board = result.leaderboard
    found = [t for t in board.trials if "search #" in t.message]
    assert [t.trial_id for t in found] == ["linear#2", "linear#3", "linear#4", "linear#5"]
    assert board.to_frame()["trial_id"].is_unique
    choice_rows = set(result.split.train) | set(result.split.validation)
    assert seen and seen <= choice_rows and not seen & set(result.split.test)  # the search never saw a test row
    for trial in found:
        oof = result.oof_predictions(trial.trial_id)
        assert set(oof.index) <= choice_rows
    rescored = [t for t in found if len(t.cv_scores) > 1]
    assert len(rescored) == 1 and "re-scored" in rescored[0].message  # the search's best, believed after CV
    assert result.timings["search_s"] > 0 and "search" in result.schemes


def test_ensemble_trial_weights_and_oof_score_by_hand(searched) -> None:
    result, _, _ = searched
    ensemble = next(t for t in result.leaderboard.trials if t.family == "ensemble")
    weights = dict(ensemble.members)
    assert sum(weights.values()) == pytest.approx(1.0) and len(weights) >= 2
    oof = result.oof_predictions(ensemble.trial_id)
    assert not set(oof.index) & set(result.split.test)
    blend = sum(w * result.oof_predictions(m).loc[oof.index, "prediction"].to_numpy(np.float64)
                for m, w in weights.items())
    np.testing.assert_allclose(oof["prediction"].to_numpy(), blend, rtol=1e-5)
    y = pd.read_csv(dataset_path("diabetes")).loc[oof.index, "progression"].to_numpy(float)
    ours = score_one(result.task.metric, y, blend, result.task)
    members = [score_one(result.task.metric, y, result.oof_predictions(m).loc[oof.index, "prediction"].to_numpy(float),
                         result.task) for m in weights]
    assert ours <= min(members) + 1e-9  # rmse: at least as good as its best member on the rows it was selected on
    assert len(ensemble.cv_scores) > 1  # cross-fitted over the CV folds: comparable with the members' CV means


def _stored(path: Path) -> int:
    study = open_study(path, "linear", maximize=False, sampler=None, pruner=None)
    return sum(t.state.is_finished() for t in study.trials)


def test_choose_best_and_the_study_is_kept_beside_the_run(searched) -> None:
    result, _, runs = searched
    assert result.choice.chosen == result.choice.best
    journal = result.run_dir / "study.journal"
    assert journal.is_file() and not list(runs.glob(".*.study.journal"))
    assert _stored(journal) == 5  # the ladder's default, told, and four trials
    import trainwright as tw

    assert result.chosen.family == "ensemble"  # on diabetes the blend's cross-fitted CV beats every single model
    model = tw.load(result.bundle)
    rows = pd.read_csv(dataset_path("diabetes")).loc[result.split.test[:5]]
    assert type(model.pipeline.steps[-1][1]).__name__ == "WeightedEnsemble"
    assert model.predict(rows)["prediction"].notna().all()


def test_a_resumed_run_continues_the_stored_study(searched) -> None:
    result, _, runs = searched
    journal = result.run_dir / "study.journal"
    stored = _stored

    before = stored(journal)
    again = train(dataset_path("diabetes"), "progression", preset="quick", models=MODELS, output_dir=str(runs),
                  search_trials=2, search_models=("linear",), resume_study=result.run_id, tracking=False,
                  time_budget=900)
    assert stored(again.run_dir / "study.journal") == before + 2
    assert stored(journal) == before  # the first run's study is left as it was
