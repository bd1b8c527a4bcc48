"""The time budget, held: boosted fits stop at a deadline (and report their rounds), the ladder always gets a boosting
model in when one fits, the reserve is estimated from what the run measured, and a model whose CV was skipped for
time does not silently drop out of the choice."""

from __future__ import annotations

import time

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from catboost import CatBoostClassifier

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.data import holdout_plan
from trainwright.evaluation import Leaderboard, Trial
from trainwright.models import get_spec
from trainwright.models._rounds import REPORT_EVERY, round_hooks, stops_at_deadline
from trainwright.training import FitContext, climb, fit_candidate
from trainwright.training.engine import FitPruned
from trainwright.tuning.budget import (
    contention,
    predict_seconds_after_choice,
    refit_seconds,
    seconds_since_process_start,
    tail_seconds,
)
from trainwright.workflow.prepare import prepared_and_split
from trainwright.workflow.steps import value_order


def _data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(seed).normal(size=(n, 8))
    return X, (X[:, 0] + X[:, 1] ** 2 + 0.5 * X[:, 2] > 1).astype(int)


@pytest.mark.parametrize("make", [
    lambda: lgb.LGBMClassifier(n_estimators=100_000, n_jobs=1, verbose=-1),
    lambda: xgb.XGBClassifier(n_estimators=100_000, n_jobs=1),
    lambda: CatBoostClassifier(iterations=100_000, thread_count=1, verbose=0, allow_writing_files=False),
])
def test_a_boosted_fit_stops_at_the_deadline_keeps_its_rounds_and_reports_them(make) -> None:
    X, y = _data()
    model = make()
    seen: list[tuple[int, float, bool]] = []
    hooks, unhook = round_hooks(model, time.monotonic() + 0.6, lambda r, v, h: seen.append((r, v, h)))
    eval_kwargs: dict = {"eval_set": (X[:500], y[:500])}  # CatBoost
    if isinstance(model, lgb.LGBMModel):
        eval_kwargs = {"eval_X": (X[:500],), "eval_y": (y[:500],)}
    elif isinstance(model, xgb.XGBModel):
        eval_kwargs = {"eval_set": [(X[:500], y[:500])], "verbose": False}
    start = time.monotonic()
    model.fit(X, y, **eval_kwargs, **hooks)
    unhook()
    assert stops_at_deadline(model)
    assert time.monotonic() - start < 10.0  # 100,000 rounds would take minutes (a loaded machine: seconds)
    assert seen and all(r % REPORT_EVERY == 0 for r, _, _ in seen) and [r for r, _, _ in seen] == sorted(r for r, _, _ in seen)
    assert all(h is False for _, _, h in seen)  # the default eval metrics are losses
    assert model.predict_proba(X[:5]).shape == (5, 2)
    if isinstance(model, xgb.XGBModel):
        assert model.get_params()["callbacks"] is None  # nothing left on the estimator after the fit


def test_no_deadline_no_report_adds_nothing_and_other_models_are_left_alone() -> None:
    from sklearn.linear_model import LogisticRegression

    assert round_hooks(lgb.LGBMClassifier())[0] == {}
    assert round_hooks(LogisticRegression(), time.monotonic() + 1)[0] == {}
    assert not stops_at_deadline(LogisticRegression())


@pytest.fixture(scope="module")
def titanic():
    cfg = load_config(None, target="survived", preset="balanced")
    prep, split = prepared_and_split(dataset_path("titanic"), cfg)
    n = len(split.train) + len(split.validation)
    plan = holdout_plan(len(split.train), len(split.validation), seed=0)
    return prep, prep.X.iloc[:n], prep.y[:n], plan


def test_a_round_report_that_raises_prunes_the_trial(titanic) -> None:
    prep, X, y, plan = titanic
    ctx = FitContext(prep.schema, prep.task, n_jobs=1)

    def prune_at_30(step: int, value: float, higher: bool) -> None:
        if step >= 30:
            raise FitPruned(f"pruned at round {step}")

    trial = fit_candidate(get_spec("lightgbm"), get_spec("lightgbm").params(), X, y, plan, ctx, trial_id="lightgbm#2",
                          report=prune_at_30)
    assert trial.status == "pruned" and trial.message == "pruned at round 30" and trial.trial_id == "lightgbm#2"


def test_the_ladder_fits_a_boosting_model_whenever_time_is_left_and_cheap_strong_models_go_first(titanic) -> None:
    prep, X, y, plan = titanic
    specs = value_order([get_spec(n) for n in ("dummy", "linear", "svm", "random_forest", "catboost", "lightgbm")])
    assert [s.name for s in specs] == ["dummy", "linear", "lightgbm", "random_forest", "catboost", "svm"]
    params = {**get_spec("lightgbm").params(), "learning_rate": 0.001, "n_estimators": 1_000_000}
    slow = get_spec("lightgbm").__class__(**{**get_spec("lightgbm").__dict__, "defaults": params, "relative_cost": 1e4})
    # the SVM estimated at 10,000 x the linear model's time too, but it cannot stop half-way: skipped
    costly = get_spec("svm").__class__(**{**get_spec("svm").__dict__, "relative_cost": 1e4})
    ctx = FitContext(prep.schema, prep.task, n_jobs=1, deadline=time.monotonic() + 4.0)
    start = time.monotonic()
    trials = {t.trial_id: t for t in (r.trial if hasattr(r, "trial") else r
                                      for r in climb([specs[0], specs[1], slow, costly], X, y, plan, ctx))}
    # estimated at 10,000 x the linear model's time, it is still fitted: it stops at its share of the time left
    assert trials["lightgbm"].ok and trials["lightgbm"].fit_seconds < 3.0
    assert trials["svm"].status == "skipped" and "time budget" in trials["svm"].message
    assert time.monotonic() - start < 6.0


def _trial(trial_id: str, rung: int, cv: tuple[float, ...], val: float, **kw) -> Trial:
    return Trial(name=trial_id.split("#")[0].split(".")[0], family="x", rung=rung, status="ok", cv_scores=cv,
                 val_scores={"roc_auc": val}, val_se=0.01, trial_id=trial_id, **kw)


def test_a_model_whose_cv_was_skipped_for_time_stays_in_the_choice_on_the_validation_part() -> None:
    board = Leaderboard((
        _trial("dummy", 0, (0.5, 0.5, 0.5), 0.5),
        _trial("linear", 1, (0.80, 0.82, 0.81), 0.81),
        _trial("catboost", 6, (), 0.86, message="cv skipped: time budget"),
    ), "roc_auc")
    choice = board.choose(rule="best")
    assert (choice.chosen, choice.basis) == ("catboost", "bootstrap")  # compared on validation, never CV vs hold-out
    # behind on validation: CV decides as before, and the hold-out-only trial is not compared
    board = Leaderboard((*board.trials[:2], _trial("catboost", 6, (), 0.70)), "roc_auc")
    assert (board.choose(rule="best").chosen, board.choose().basis) == ("linear", "cv")


def test_the_reserve_knows_bags_need_no_refit_and_ensembles_refit_their_other_members() -> None:
    a = _trial("lightgbm", 6, (0.8, 0.8), 0.8, fit_seconds=2.0)
    bag = _trial("lightgbm.bag", 6, (0.8, 0.8), 0.8, fit_seconds=10.0)
    b = _trial("catboost", 6, (0.8, 0.8), 0.8, fit_seconds=4.0)
    ensemble = _trial("ensemble", 7, (0.8, 0.8), 0.8, members=(("lightgbm.bag", 0.5), ("catboost", 0.5)))
    board = Leaderboard((a, bag, b, ensemble), "roc_auc")
    assert refit_seconds(a, 1000, 800, lookup=board.get) == pytest.approx(1.15 * 2.0 * 1000 / 800)
    assert refit_seconds(bag, 1000, 800, lookup=board.get, bagged={"lightgbm.bag"}) == 0.0
    assert refit_seconds(ensemble, 1000, 800, lookup=board.get, bagged={"lightgbm.bag"}) == pytest.approx(
        1.15 * 4.0 * 1000 / 800)
    assert tail_seconds(60, 1000) > tail_seconds(60, 1000, tracking=False) > tail_seconds(15, 1000, tracking=False)
    assert tail_seconds(15, 1000, contention=3.0) == pytest.approx(2 * tail_seconds(15, 1000) - 0.05 * 15)
    # k-NN at 300 ms per 1,000 rows on 7,000 training rows, 1,300 test rows and 12 columns: 7 s of predictions
    assert predict_seconds_after_choice(300.0, n_train=7000, n_test=1300, n_columns=12) == pytest.approx(
        0.3 * (1.3 + 7.0 + 37.0))
    assert 1.0 <= contention() <= 5.0
    assert 0.0 < seconds_since_process_start() < 3600 * 24
