"""Bagging and stacking inside the workflow (the ``best`` preset): a bag is the k fold models of a cross-validated
trial, scored by its out-of-fold predictions; a stack is a linear level-2 model on the pool's out-of-fold
predictions, cross-fitted for its scores. Both are leaderboard rows with their own ids, both refit-free or refit
member by member, both bundled pickle-free and exported to ONNX; and the whole thing runs from the CLI to predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from tests.integration.cli import run_cli
from trainwright.bundle import load, write_bundle
from trainwright.bundle.export import export_onnx
from trainwright.config import load_config
from trainwright.evaluation import Leaderboard, score_one
from trainwright.models import get_spec
from trainwright.models.ensemble import StackedEnsemble, WeightedEnsemble, stack_features
from trainwright.training import FitContext, SequentialExecutor
from trainwright.workflow.prepare import prepared_and_split
from trainwright.workflow.search import refit_and_test_any, with_ensemble
from trainwright.workflow.steps import RunState, ladder, with_cv

MODELS = ("dummy", "linear", "lightgbm", "xgboost")


@pytest.fixture(scope="module")
def penguins_run():
    cfg = load_config(None, target="species", preset="best", models=MODELS, tracking=False, time_budget=600)
    prep, split = prepared_and_split(dataset_path("penguins"), cfg)
    ctx = FitContext(schema=prep.schema, task=prep.task, random_state=0, n_jobs=1, size_scale=0.1)
    run = RunState(prep, split, cfg, ctx, SequentialExecutor(1), "bagging-test")
    trials = with_ensemble(run, with_cv(run, ladder(run, [get_spec(m) for m in MODELS])))
    return run, Leaderboard(tuple(trials), prep.task.metric)


def test_bags_are_rows_scored_out_of_fold_by_their_fold_models(penguins_run) -> None:
    run, board = penguins_run
    bags = [t for t in board.trials if t.trial_id.endswith(".bag")]
    assert {t.trial_id for t in bags} == {"lightgbm.bag", "xgboost.bag"}  # the boosted CV candidates, not linear
    X, y = run.choice_rows
    for bag in bags:
        base = board.get(bag.trial_id.removesuffix(".bag"))
        assert bag.cv_scores == base.cv_scores and bag.params["bagged_folds"] == 5 == len(run.bags[bag.trial_id])
        rows, pred = run.oof.entries[bag.trial_id]
        assert len(rows) == run.n_choice and not np.isin(rows, run.split.test).any()
        proba = pred.astype(np.float64) / pred.astype(np.float64).sum(axis=1, keepdims=True)  # stored as float32
        oof_score = score_one(run.prep.task.metric, y, proba, run.prep.task)
        assert bag.score(run.prep.task.metric) == pytest.approx(oof_score, abs=1e-6)
        # each fold model predicts its own held-out fold: the bag's out-of-fold predictions, recomputed by hand
        for fold, member in zip(run.cv_plan.folds, run.bags[bag.trial_id], strict=True):
            held = member.predict_proba(X.iloc[fold.held_out])
            np.testing.assert_allclose(held, pred[fold.held_out], atol=1e-5)


def test_the_stack_is_cross_fitted_on_the_pools_predictions_and_the_ensemble_takes_bags(penguins_run) -> None:
    run, board = penguins_run
    stack = next(t for t in board.trials if t.family == "stack")
    members = [m for m, _ in stack.members]
    assert "lightgbm.bag" in members and "lightgbm" not in members  # a bag takes its trial's place
    assert len(stack.cv_scores) == 5 and abs(sum(w for _, w in stack.members) - 1) < 1e-9
    meta = run.stacks[stack.trial_id]
    y = run.choice_rows[1]
    features = stack_features([run.oof.entries[m][1] for m in members], len(run.prep.task.classes))
    assert meta.coef_.shape == (3, features.shape[1])  # fitted on every row's out-of-fold features
    fold_pred = run.oof.entries[stack.trial_id][1].astype(np.float64)
    fold_pred /= fold_pred.sum(axis=1, keepdims=True)  # stored as float32
    assert score_one("log_loss", y, fold_pred, run.prep.task) == pytest.approx(
        stack.score("log_loss"), abs=1e-5)  # its score is the cross-fitted predictions', not the in-sample fit's
    ensemble = next((t for t in board.trials if t.family == "ensemble"), None)
    if ensemble is not None:
        assert all(m.endswith(".bag") or m == "linear" for m, _ in ensemble.members)


def test_a_chosen_stack_or_bag_is_tested_bundled_loaded_and_exported(penguins_run, tmp_path: Path) -> None:
    run, board = penguins_run
    stack = next(t for t in board.trials if t.family == "stack")
    pipeline, scores, pred = refit_and_test_any(run, board, stack)
    model = pipeline.steps[-1][1]
    assert isinstance(model, StackedEnsemble) and "log_loss" in scores
    bag_members = [m for m in model.members if isinstance(m.steps[-1][1], WeightedEnsemble)]
    assert bag_members and all(len(m.steps[-1][1].members) == 5 for m in bag_members)  # bags as they are: no refit
    X_test = run.prep.X.iloc[run.n_choice:]
    _, _, bag_pred = refit_and_test_any(run, board, board.get("lightgbm.bag"))
    np.testing.assert_allclose(bag_pred, np.mean([m.predict_proba(X_test) for m in run.bags["lightgbm.bag"]], axis=0))
    documents = {"schema": run.prep.schema.to_dict(), "task": run.prep.task.to_dict(),
                 "metrics": {"metric": "log_loss"}, "metadata": {"run_id": "stack"}}
    from trainwright.drift import build_profile

    documents["profile"] = build_profile(X_test, run.prep.schema, run.prep.task, pred).to_dict()
    loaded = load(write_bundle(tmp_path / "model", pipeline, documents))
    np.testing.assert_allclose(loaded.predict_proba_array(loaded.prepare(X_test)), pred, atol=1e-9)
    export = export_onnx(loaded, tmp_path / "onnx")
    assert export.max_abs_difference <= export.allowed_difference


@pytest.mark.slow
def test_best_preset_from_the_cli_to_predict(tmp_path: Path) -> None:
    data = dataset_path("penguins")
    config = tmp_path / "config.yaml"
    config.write_text("search_trials: 2\n", encoding="utf-8")  # the mechanics, not the search: a short one
    proc = run_cli("train", data, "--target", "species", "--preset", "best", "--models", ",".join(MODELS),
                   "--config", config, "--time-budget", "600", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert board["trial_id"].str.endswith(".bag").any() and (board["family"] == "stack").any()
    summary = json.loads((run_dir / "run.json").read_text())
    assert "chosen by --choose best" in summary["reason"]  # the best preset chooses by the best expected score
    out = tmp_path / "scored.csv"
    predicted = run_cli("predict", run_dir / "model", data, "-o", out, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    scored = pd.read_csv(out)
    assert len(scored) == len(pd.read_csv(data)) and {"proba_Adelie", "prediction"} <= set(scored.columns)
