"""Leaderboard and the one-standard-error choice, on hand-built trials with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainwright.evaluation import Leaderboard, Trial

RUNGS = {"dummy": 0, "linear": 1, "knn": 3, "random_forest": 4, "lightgbm": 6}


def trial(name: str, score: float, *, se: float = float("nan"), metric: str = "roc_auc", cv: tuple[float, ...] = (),
          seeds: tuple[float, ...] = (), status: str = "ok") -> Trial:
    return Trial(name=name, family=name, rung=RUNGS[name], status=status, val_scores={metric: score} if status == "ok" else {},
                 train_scores={metric: score + 0.05} if status == "ok" else {}, val_se=se, cv_scores=cv, seed_scores=seeds)


def test_simpler_model_within_one_se_is_chosen() -> None:
    board = Leaderboard((trial("dummy", 0.5, se=0.03), trial("linear", 0.84, se=0.02), trial("lightgbm", 0.85, se=0.02)),
                        "roc_auc")
    choice = board.choose()
    assert (choice.chosen, choice.best, choice.basis) == ("linear", "lightgbm", "bootstrap")
    assert choice.standard_error == 0.02  # the best trial's SE
    assert choice.chosen_score == 0.84 and choice.best_score == 0.85
    assert "within one standard error" in choice.reason and "lightgbm" in choice.reason


def test_best_is_chosen_when_simpler_is_further_than_one_se() -> None:
    board = Leaderboard((trial("dummy", 0.5, se=0.03), trial("linear", 0.82, se=0.02), trial("lightgbm", 0.85, se=0.02)),
                        "roc_auc")
    choice = board.choose()
    assert choice.chosen == choice.best == "lightgbm"
    assert "linear" in choice.reason and "more than one standard error" in choice.reason


def test_the_simplest_of_several_within_one_se_wins() -> None:
    board = Leaderboard((trial("lightgbm", 0.90, se=0.05), trial("random_forest", 0.89, se=0.05),
                         trial("knn", 0.86, se=0.05), trial("linear", 0.80, se=0.05)), "roc_auc")
    assert board.choose().chosen == "knn"  # 0.86 >= 0.90 - 0.05; linear 0.80 is not


def test_lower_is_better_metric() -> None:
    board = Leaderboard((trial("linear", 0.41, se=0.02, metric="log_loss"), trial("lightgbm", 0.40, se=0.02, metric="log_loss"),
                         trial("random_forest", 0.45, se=0.02, metric="log_loss")), "log_loss")
    choice = board.choose()
    assert (choice.best, choice.chosen) == ("lightgbm", "linear")
    board = Leaderboard((trial("linear", 0.43, se=0.02, metric="log_loss"), trial("lightgbm", 0.40, se=0.02, metric="log_loss")),
                        "log_loss")
    assert board.choose().chosen == "lightgbm"


def test_cv_basis_preferred_over_bootstrap() -> None:
    # On the validation part (bootstrap) linear is far behind; over CV folds it is within one SE.
    lgb_cv = (0.86, 0.84, 0.85, 0.88, 0.82)
    lin_cv = (0.85, 0.84, 0.85, 0.84, 0.83)  # mean 0.842 >= 0.85 - SE 0.01
    board = Leaderboard((trial("dummy", 0.5, se=0.001), trial("linear", 0.70, se=0.001, cv=lin_cv),
                         trial("random_forest", 0.80, se=0.001), trial("lightgbm", 0.90, se=0.001, cv=lgb_cv)), "roc_auc")
    choice = board.choose()
    assert choice.basis == "cv"
    expected_se = np.std(lgb_cv, ddof=1) / math.sqrt(len(lgb_cv))
    assert choice.standard_error == pytest.approx(expected_se)
    assert choice.best_score == pytest.approx(np.mean(lgb_cv))
    assert choice.best == "lightgbm"  # random_forest has no CV scores and trails on validation: not in the CV pool
    assert choice.chosen == "linear" and "cross-validated" in choice.reason
    # the same trials without CV scores: bootstrap basis, lightgbm best, linear far behind
    plain = Leaderboard(tuple(Trial(**{**t.__dict__, "cv_scores": ()}) for t in board.trials), "roc_auc")
    assert (plain.choose().basis, plain.choose().chosen) == ("bootstrap", "lightgbm")
    # a trial without CV scores leading on validation: every trial is judged on validation, none dropped
    leader = Leaderboard((*board.trials[:2], Trial(**{**board.trials[2].__dict__, "val_scores": {"roc_auc": 0.99}}),
                          board.trials[3]), "roc_auc")
    assert (leader.choose().basis, leader.choose().best) == ("bootstrap", "random_forest")


def test_cv_where_simpler_is_further_than_one_se() -> None:
    board = Leaderboard((trial("linear", 0.8, cv=(0.80, 0.81, 0.79)), trial("lightgbm", 0.9, cv=(0.86, 0.85, 0.87))), "roc_auc")
    assert board.choose().chosen == "lightgbm"


def test_seeds_basis_when_no_cv() -> None:
    board = Leaderboard((trial("linear", 0.8, se=0.5, seeds=(0.80, 0.80, 0.80)),
                         trial("lightgbm", 0.9, se=0.5, seeds=(0.85, 0.86, 0.87))), "roc_auc")
    choice = board.choose()
    assert choice.basis == "seeds" and choice.chosen == "lightgbm"
    assert choice.standard_error == pytest.approx(np.std([0.85, 0.86, 0.87], ddof=1) / math.sqrt(3))


def test_no_standard_error_means_single_and_best() -> None:
    board = Leaderboard((trial("linear", 0.84), trial("lightgbm", 0.85)), "roc_auc")
    choice = board.choose()
    assert (choice.basis, choice.chosen, choice.standard_error) == ("single", "lightgbm", 0.0)


def test_failed_and_skipped_trials_are_ignored_by_choice_and_ranked_last() -> None:
    board = Leaderboard((trial("dummy", 0.5, se=0.01), trial("knn", 0.0, status="failed"), trial("linear", 0.7, se=0.01),
                         trial("random_forest", 0.0, status="skipped"), trial("lightgbm", 0.8, se=0.01)), "roc_auc")
    assert board.choose().chosen == "lightgbm"
    assert [t.name for t in board.ranked()] == ["dummy", "lightgbm", "linear", "knn", "random_forest"]


def test_baselines_first_in_ranked_even_when_worst_or_best() -> None:
    board = Leaderboard((trial("linear", 0.40, metric="rmse"), trial("lightgbm", 0.30, metric="rmse"),
                         trial("dummy", 0.90, metric="rmse"), trial("knn", 0.35, metric="rmse")), "rmse")
    assert [t.name for t in board.ranked()] == ["dummy", "lightgbm", "knn", "linear"]
    frame = board.to_frame()
    assert frame["model"].tolist() == ["dummy", "lightgbm", "knn", "linear"]
    for column in ("val_rmse", "train_rmse", "val_se", "cv_mean", "cv_std", "fit_s", "predict_ms_per_1k", "size_kb", "note"):
        assert column in frame.columns
    assert frame.loc[0, "val_rmse"] == 0.90


def test_no_finished_trial_raises() -> None:
    with pytest.raises(ValueError):
        Leaderboard((trial("linear", 0, status="failed"),), "roc_auc").choose()


def test_get_and_ok() -> None:
    board = Leaderboard((trial("linear", 0.7), trial("knn", 0, status="failed")), "roc_auc")
    assert board.get("linear").score("roc_auc") == 0.7
    assert [t.name for t in board.ok()] == ["linear"]
    assert board.greater_is_better
    with pytest.raises(KeyError):
        board.get("xgboost")
