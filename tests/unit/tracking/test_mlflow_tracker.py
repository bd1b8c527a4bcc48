"""The MLflow tracker on a real SQLite store: what a train run leaves in the engineer's log."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.exceptions import TrackingError
from trainwright.tracking import MLflowTracker, NullTracker, Store, default_tracker, resolve_uri
from trainwright.tracking.store import model_name, sqlite_path

MODELS = ("dummy", "linear", "lightgbm", "mlp")  # the MLP trains in epochs: its curves are logged


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One real tracked train run (iris, quick preset) in a fresh default store: sqlite:///mlflow.db in the cwd,
    through the Python API (so the report listener runs too)."""
    from trainwright import train

    home = tmp_path_factory.mktemp("tracked")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.delenv("TRAINWRIGHT_TRACKING", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = train(dataset_path("iris"), target="species", preset="quick", models=MODELS)
        store = Store().open(create=False)
        parent = store.client.search_runs([store.experiment_id], "tags.`trainwright.kind` = 'parent'")[0]
        children = store.client.search_runs([store.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        artifacts = {f.path for f in store.client.list_artifacts(parent.info.run_id)}
    return home, result, store, parent, children, artifacts


def test_the_default_store_is_an_sqlite_file_in_the_working_directory_with_artifacts_beside_it(tracked):
    home, _, store, parent, _, _ = tracked
    assert store.uri == f"sqlite:///{home / 'mlflow.db'}"
    assert (home / "mlflow.db").is_file()
    assert Path(parent.info.artifact_uri.removeprefix("file://")).is_relative_to(home / "mlartifacts")


def test_parent_run_holds_config_fingerprints_lineage_schema_split_and_leaderboard(tracked):
    home, result, store, parent, _, artifacts = tracked
    tags, params, metrics = parent.data.tags, parent.data.params, parent.data.metrics
    assert parent.info.status == "FINISHED" and parent.info.run_name == result.run_id
    assert tags["trainwright.chosen"] == result.choice.chosen and tags["trainwright.dataset"] == "iris"
    metadata = json.loads((home / result.bundle / "metadata.json").read_text())
    assert tags["file_sha256"] == metadata["fingerprints"]["file_sha256"]
    assert tags["frame_sha256"] == metadata["fingerprints"]["frame_sha256"]
    assert params["preset"] == "quick" and params["seed"] == "0" and params["split.train"] == "0.7"
    assert metrics["test_log_loss"] == pytest.approx(result.test_scores["log_loss"])
    assert {"config.json", "lineage.json", "schema.json", "task.json", "split.json", "leaderboard.csv", "run.json"} <= artifacts
    client = store.client
    lineage = json.loads(Path(client.download_artifacts(parent.info.run_id, "lineage.json", str(home))).read_text())
    assert lineage["seed"] == 0 and "scikit-learn" in lineage["libraries"] and lineage["python"]
    board = pd.read_csv(client.download_artifacts(parent.info.run_id, "leaderboard.csv", str(home)))
    assert list(board["model"]) == list(result.leaderboard.to_frame()["model"])


def test_one_child_run_per_trial_with_params_metrics_times_and_tags(tracked):
    _, result, _, _, children, _ = tracked
    assert sorted(c.data.tags["model"] for c in children) == sorted(MODELS)
    chosen = [c for c in children if c.data.tags["chosen"] == "true"]
    assert [c.data.tags["model"] for c in chosen] == [result.choice.chosen]
    for child in children:
        trial = result.leaderboard.get(child.data.tags["model"])
        assert child.data.tags["family"] == trial.family and child.data.tags["rung"] == str(trial.rung)
        assert child.data.metrics["val_log_loss"] == pytest.approx(trial.score("log_loss"))
        assert child.data.metrics["train_log_loss"] == pytest.approx(trial.train_scores["log_loss"])
        assert child.data.metrics["fit_seconds"] >= 0 and child.data.metrics["predict_ms_per_1k"] > 0
        assert child.data.params["seed"] == "0" and child.info.status == "FINISHED"
    lightgbm = next(c for c in children if c.data.tags["model"] == "lightgbm")
    assert "n_estimators" in lightgbm.data.params and "learning_rate" in lightgbm.data.params


def test_a_model_trained_in_epochs_has_its_curves_as_step_metrics_of_its_child_run(tracked):
    _, _, store, _, children, _ = tracked
    by_model = {c.data.tags["model"]: c for c in children}
    history = {name: store.client.get_metric_history(by_model["mlp"].info.run_id, name)
               for name in ("epoch_train_loss", "epoch_val_score", "epoch_lr")}
    steps = [m.step for m in history["epoch_train_loss"]]
    assert len(steps) >= 2 and steps == sorted(set(steps))
    assert [m.step for m in history["epoch_val_score"]] == steps == [m.step for m in history["epoch_lr"]]
    losses = [m.value for m in history["epoch_train_loss"]]
    assert all(v > 0 for v in losses) and min(losses) < losses[0]  # it learned
    assert store.client.get_metric_history(by_model["lightgbm"].info.run_id, "epoch_train_loss") == []


def test_the_chosen_model_is_an_mlflow_pyfunc_model_that_predicts_like_the_bundle(tracked):
    import mlflow.pyfunc

    from trainwright.bundle import load

    home, result, store, parent, _, _ = tracked
    store.use()
    frame = pd.read_csv(dataset_path("iris")).head(20)
    expected = load(home / result.bundle).predict(frame)
    for uri in (parent.data.tags["trainwright.model_uri"], f"runs:/{parent.info.run_id}/model"):
        got = mlflow.pyfunc.load_model(uri).predict(frame)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_resolve_uri_prefers_the_argument_then_the_environment(monkeypatch, tmp_path):
    assert resolve_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_uri() == "http://127.0.0.1:5000"
    assert resolve_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_paths_relative_and_absolute():
    assert sqlite_path("sqlite:///mlflow.db") == Path("mlflow.db")
    assert sqlite_path("sqlite:////srv/log/mlflow.db") == Path("/srv/log/mlflow.db")
    assert sqlite_path("http://host:5000") is None


def test_model_name_is_the_dataset_stem_made_safe():
    assert model_name("/data/credit data.v2.csv") == "credit_data_v2"
    assert model_name("<DataFrame>") == "dataframe"


def test_default_tracker_follows_config_and_the_opt_out_variable(monkeypatch):
    cfg = load_config(None, target="y")
    assert isinstance(default_tracker(cfg), NullTracker)  # TRAINWRIGHT_TRACKING=0 under tests
    monkeypatch.delenv("TRAINWRIGHT_TRACKING")
    assert isinstance(default_tracker(cfg), MLflowTracker)
    assert default_tracker(load_config(None, target="y", tracking_uri="sqlite:///a.db")).uri == "sqlite:///a.db"
    assert isinstance(default_tracker(load_config(None, target="y", tracking=False)), NullTracker)


def test_a_directory_that_cannot_be_written_is_one_tracking_error():
    # /proc refuses new files even to root, unlike a chmod-ed directory
    with pytest.raises(TrackingError) as err:
        Store("sqlite:////proc/mlflow.db").open()
    assert "not writable" in str(err.value) and "--no-tracking" in str(err.value)
    assert err.value.exit_code == 5


def test_a_missing_directory_and_a_file_in_the_way_are_tracking_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    for uri in (f"sqlite:///{tmp_path / 'nope' / 'mlflow.db'}", f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}"):
        with pytest.raises(TrackingError, match="cannot be used") as err:
            Store(uri).open()
        assert "does not exist" in str(err.value)
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("uri", ["nosuchscheme://somewhere/x", "http://127.0.0.1:9"])
def test_a_bad_uri_fails_fast_with_one_tracking_error(uri):
    start = time.monotonic()
    with pytest.raises(TrackingError, match="cannot be used"):
        Store(uri).open()
    assert time.monotonic() - start < 30


def test_an_unusable_store_stops_train_before_any_data_is_read(monkeypatch, tmp_path):
    from trainwright.workflow import train

    monkeypatch.delenv("TRAINWRIGHT_TRACKING")
    with pytest.raises(TrackingError):
        train(tmp_path / "does-not-exist.csv", target="y", tracking_uri="sqlite:////proc/mlflow.db")
    assert not (tmp_path / "runs").exists() and not os.listdir(tmp_path)


def test_reading_a_store_that_does_not_exist_does_not_create_one(tmp_path):
    with pytest.raises(TrackingError, match="cannot be used") as err:
        Store().open(create=False)
    assert "no store at" in str(err.value) and not (tmp_path / "mlflow.db").exists()


def test_promote_registers_under_the_dataset_name_and_moves_the_champion_alias(tracked):
    from trainwright.tracking.registry import champion_uri, find_run, promote

    _, result, store, parent, _, _ = tracked
    assert find_run(store, parent.info.run_id).info.run_id == parent.info.run_id  # MLflow id works too
    first = promote(result.run_id, uri=store.uri)
    second = promote(parent.info.run_id, uri=store.uri)
    assert (first.name, second.name) == ("iris", "iris")
    assert int(second.version) == int(first.version) + 1 and second.previous == first.version
    version = store.client.get_model_version_by_alias("iris", "champion")
    assert str(version.version) == second.version and version.run_id == parent.info.run_id
    assert champion_uri(store, "iris") == "models:/iris@champion"
    with pytest.raises(TrackingError, match="no champion"):
        champion_uri(store, "titanic")
    with pytest.raises(TrackingError, match="no run 'nope'"):
        promote("nope", uri=store.uri)


def test_the_report_and_the_trial_ids_are_in_the_same_parent_run(tracked):
    _, result, store, parent, children, _ = tracked
    reports = {f.path for f in store.client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/report.md"} <= reports and result.report_path is not None
    assert sorted(c.data.tags["trial_id"] for c in children) == sorted(t.trial_id for t in result.leaderboard.trials)
    assert all(c.info.run_name == c.data.tags["trial_id"] for c in children)
