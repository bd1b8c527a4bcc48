"""Greedy ensemble selection, its estimator, its bundle round trip, and the choice rules around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from tests.conftest import dataset_path
from trainwright.bundle._format import read_pipeline, verify_manifest, write_bundle
from trainwright.config import load_config
from trainwright.data import Task, TaskKind
from trainwright.evaluation import Leaderboard, Trial, score_one
from trainwright.exceptions import BundleError
from trainwright.models import get_spec
from trainwright.models.ensemble import WeightedEnsemble
from trainwright.training import FitContext, fit_pipeline
from trainwright.training.ensemble import blend, cross_fitted, greedy_selection, prepared
from trainwright.workflow.prepare import prepared_and_split


def _members(n: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], Task]:
    """Three noisy probability predictions of a binary target, each wrong in its own way."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    task = Task(kind=TaskKind.BINARY, target="y", classes=(0, 1), metric="log_loss")
    preds = {}
    for i, noise in enumerate((0.8, 1.0, 1.2)):
        logit = (2 * y - 1) * 1.5 + rng.normal(0, 1 + noise, n)
        p1 = 1 / (1 + np.exp(-logit))
        preds[f"m{i}"] = np.column_stack([1 - p1, p1]).astype(np.float32)
    return y, preds, task


def test_greedy_selection_weights_score_and_never_worse_than_its_best_member() -> None:
    y, preds, task = _members()
    selection = greedy_selection(preds, y, task, rounds=20)
    assert sum(selection.weights.values()) == pytest.approx(1.0)
    assert all(w > 0 for w in selection.weights.values())
    by_hand = sum(w * preds[t].astype(np.float64) for t, w in selection.weights.items())
    by_hand = by_hand / by_hand.sum(axis=1, keepdims=True)
    assert score_one(task.metric, y, by_hand, task) == pytest.approx(selection.score, rel=1e-6)
    np.testing.assert_allclose(selection.pred, blend(prepared(preds, task), selection.weights))
    best_member = min(score_one(task.metric, y, p, task) for p in prepared(preds, task).values())
    assert selection.score <= best_member + 1e-12  # log-loss: lower is better
    assert len(selection.weights) >= 2  # independent errors: averaging pays


def test_cross_fitted_scores_each_fold_with_weights_chosen_elsewhere() -> None:
    y, preds, task = _members()
    folds = [np.arange(len(y))[k::4] for k in range(4)]
    honest, scores = cross_fitted(preds, y, task, folds, rounds=10)
    assert len(scores) == 4 and not np.isnan(honest).any()
    assert scores[0] == pytest.approx(score_one(task.metric, y[folds[0]], honest[folds[0]], task))


@pytest.fixture(scope="module")
def penguins_members() -> tuple[pd.DataFrame, np.ndarray, list[Pipeline], int]:
    cfg = load_config(None, target="species", preset="quick")
    prep, split = prepared_and_split(dataset_path("penguins"), cfg)
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=0, n_jobs=1)
    n = len(split.train)
    X, y = prep.X.iloc[:n], prep.y[:n]
    members = [fit_pipeline(get_spec(name), ctx, X, y, {**get_spec(name).params(), "n_estimators": 30})[0]
               for name in ("linear", "lightgbm")]
    return prep.X.iloc[n:], prep.y[n:], members, len(prep.task.classes)


def test_ensemble_bundle_round_trip_gives_identical_predictions(tmp_path: Path, penguins_members) -> None:
    X_new, _, members, n_classes = penguins_members
    pipeline = Pipeline([("model", WeightedEnsemble(members, [0.25, 0.75], n_classes))])
    expected = pipeline.predict_proba(X_new)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0)
    manual = 0.25 * members[0].predict_proba(X_new) + 0.75 * members[1].predict_proba(X_new)
    np.testing.assert_allclose(expected, manual)
    bundle = write_bundle(tmp_path / "model", pipeline, {})
    assert (bundle / "member1" / "model.lgb.txt").is_file()  # the LightGBM member in its own format
    verify_manifest(bundle)
    loaded = read_pipeline(bundle)
    np.testing.assert_array_equal(loaded.predict_proba(X_new), expected)
    np.testing.assert_array_equal(loaded.predict(X_new), pipeline.predict(X_new))
    with (bundle / "member0" / "metrics.json").open("w") as fh:  # an unlisted file inside a member bundle
        fh.write("{}")
    with pytest.raises(BundleError, match="integrity"):
        read_pipeline(bundle)


def test_ensemble_refits_its_members(penguins_members) -> None:
    X_new, y_new, members, n_classes = penguins_members
    ensemble = WeightedEnsemble(members, [0.5, 0.5], n_classes).fit(X_new, y_new)
    assert all(a is not b for a, b in zip(ensemble.members, members, strict=True))
    assert ensemble.predict_proba(X_new).shape == (len(X_new), n_classes)


def _trial(trial_id: str, rung: int, cv: tuple[float, ...], val: float = float("nan")) -> Trial:
    return Trial(name=trial_id.split("#")[0], family="x", rung=rung, status="ok", cv_scores=cv,
                 val_scores={"roc_auc": val if not np.isnan(val) else float(np.mean(cv)) if cv else val},
                 trial_id=trial_id, members=(("linear", 0.5), ("lightgbm", 0.5)) if trial_id == "ensemble" else ())


def test_choose_simplest_or_best_and_never_cv_against_holdout() -> None:
    board = Leaderboard((
        _trial("dummy", 0, (0.5, 0.5, 0.5)),
        _trial("linear", 1, (0.905, 0.915, 0.905, 0.910, 0.910)),
        _trial("lightgbm", 6, (0.905, 0.915, 0.900, 0.910, 0.905)),
        _trial("lightgbm#2", 6, (), val=0.999),  # a hold-out score only: not comparable with the CV means
        _trial("ensemble", 7, (0.900, 0.925, 0.905, 0.920, 0.910)),
    ), "roc_auc")
    simplest = board.choose()
    assert (simplest.chosen, simplest.best, simplest.basis) == ("linear", "ensemble", "cv")
    assert f"{simplest.best_score - simplest.chosen_score:.4f} ahead" in simplest.reason  # the gap is shown
    best = board.choose(rule="best")
    assert (best.chosen, best.best) == ("ensemble", "ensemble")
    assert "linear" in best.reason and "behind" in best.reason  # the report shows what simplicity would give
    with pytest.raises(ValueError, match="rule"):
        board.choose(rule="fastest")


def test_a_chosen_ensemble_refits_each_member_on_train_and_validation() -> None:
    from trainwright.training import SequentialExecutor
    from trainwright.workflow.search import refit_and_test_any
    from trainwright.workflow.steps import RunState

    cfg = load_config(None, target="species", preset="quick")
    prep, split = prepared_and_split(dataset_path("penguins"), cfg)
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=0, n_jobs=1)
    run = RunState(prep, split, cfg, ctx, SequentialExecutor(1), "test")
    linear = Trial(name="linear", family="linear", rung=1, status="ok", params=get_spec("linear").params())
    lightgbm = Trial(name="lightgbm", family="gbdt", rung=6, status="ok",
                     params={**get_spec("lightgbm").params(), "n_estimators": 30})
    ensemble = Trial(name="ensemble", family="ensemble", rung=7, status="ok", members=(("linear", 0.4), ("lightgbm", 0.6)))
    board = Leaderboard((linear, lightgbm, ensemble), "log_loss")
    pipeline, scores, pred = refit_and_test_any(run, board, ensemble)
    final = pipeline.steps[-1][1]
    assert isinstance(final, WeightedEnsemble) and list(final.weights) == [0.4, 0.6]
    n_choice = len(split.train) + len(split.validation)
    assert pred.shape == (len(prep.y) - n_choice, 3) and "log_loss" in scores
    assert final.members[1].steps[-1][1].n_estimators == 30  # each member with its own trial's parameters
