"""--seeds N: the top candidates refitted with N seeds (over CV folds on small data), and the choice on that spread."""

from __future__ import annotations

import pytest

from tests.conftest import dataset_path
from trainwright.evaluation import Leaderboard, Trial
from trainwright.training.seeds import choose_with_seeds, seed_candidates, seed_values


def trial(name: str, rung: int, seeds: tuple[float, ...], val: float, cv: tuple[float, ...] = ()) -> Trial:
    return Trial(name=name, family=name, rung=rung, status="ok", val_scores={"roc_auc": val}, seed_scores=seeds,
                 cv_scores=cv)


def test_seed_values_start_with_the_runs_own_seed():
    assert seed_values(7, 3) == [7, 8, 9]


def test_candidates_are_the_simple_rungs_and_the_top_others():
    trials = [trial("dummy", 0, (), 0.5), trial("linear", 1, (), 0.7), trial("forest", 4, (), 0.8),
              trial("gbm", 6, (), 0.9), trial("knn", 3, (), 0.6)]
    assert [t.name for t in seed_candidates(trials, "roc_auc", top=2)] == ["dummy", "linear", "gbm", "forest"]


def test_choice_on_seeds_takes_the_simpler_model_within_one_standard_error():
    # linear mean 0.80, gbm mean 0.81 with sd 0.02 over 3 seeds -> se 0.0115: linear is within it
    board = Leaderboard((trial("dummy", 0, (0.5, 0.5, 0.5), 0.5), trial("linear", 1, (0.80, 0.80, 0.80), 0.80),
                         trial("gbm", 6, (0.79, 0.81, 0.83), 0.83, cv=(0.95, 0.96))), "roc_auc")
    choice = choose_with_seeds(board)
    assert (choice.basis, choice.chosen, choice.best) == ("seeds", "linear", "gbm")
    assert choice.standard_error == pytest.approx(0.02 / 3**0.5)
    assert board.choose().basis == "cv"  # without seeds the CV scores would decide


def test_choice_on_seeds_keeps_a_clearly_better_complex_model():
    board = Leaderboard((trial("linear", 1, (0.70, 0.71, 0.69), 0.7), trial("gbm", 6, (0.90, 0.91, 0.89), 0.9)),
                        "roc_auc")
    assert choose_with_seeds(board).chosen == "gbm"


def test_without_seed_scores_the_ordinary_choice_is_kept():
    board = Leaderboard((trial("linear", 1, (), 0.7, cv=(0.7, 0.72)), trial("gbm", 6, (), 0.9, cv=(0.9, 0.91))), "roc_auc")
    assert choose_with_seeds(board) == board.choose()


def test_small_data_repeats_cross_validation_per_seed_and_the_first_seed_reproduces_cv():
    from trainwright.workflow import train

    result = train(dataset_path("iris"), target="species", preset="quick", models=("dummy", "linear"), seeds=3)
    linear = result.leaderboard.get("linear")
    assert len(linear.seed_scores) == 3 * len(linear.cv_scores) == 9
    assert linear.seed_scores[:3] == linear.cv_scores  # seed 0 = the run's own folds and seed, to the last digit
    assert len(set(linear.seed_scores)) > 3  # later seeds draw other folds
    assert result.choice.basis == "seeds" and "3 seeds x 3 folds" in linear.message


def test_large_data_refits_on_train_and_scores_validation_per_seed(monkeypatch):
    from trainwright import config
    from trainwright.workflow import train

    small_limit = config.PRESETS["quick"].model_copy(update={"cv_max_rows": 10})  # as if the data were large
    monkeypatch.setitem(config.PRESETS, "quick", small_limit)
    result = train(dataset_path("iris"), target="species", preset="quick", models=("dummy", "linear"), seeds=3)
    linear = result.leaderboard.get("linear")
    assert linear.cv_scores == () and len(linear.seed_scores) == 3
    # a model that ignores its seed gives its validation score three times over, to the last digit
    assert linear.seed_scores == (linear.score("log_loss"),) * 3
    assert "3 seeds on the validation part" in linear.message
