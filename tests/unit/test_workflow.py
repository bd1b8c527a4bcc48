"""The orchestrator end to end in-process: result, run folder, notes, tracker calls, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import trainwright as tw
from tests.conftest import dataset_path
from trainwright.config import load_config
from trainwright.exceptions import ConfigError, DataError
from trainwright.training import Event
from trainwright.workflow import TrainResult, prepare, train

MODELS = ("dummy", "linear", "lightgbm")
BUDGET = 3600  # generous: a time budget that runs out (slow, shared machine) legitimately skips CV, changing the board


class RecordingTracker:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, run_id: str, *, config: dict[str, Any], tags: dict[str, str]) -> None:
        self.calls.append(("start", run_id))

    def trial(self, trial: Any, *, chosen: bool = False) -> None:
        self.calls.append(("trial", (trial.name, chosen)))

    def finish(self, result: Any, *, run_dir: Path) -> None:
        self.calls.append(("finish", run_dir))

    def fail(self, error: BaseException) -> None:
        self.calls.append(("fail", type(error).__name__))


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small data: spinning OpenMP threads only cost time on a shared 2-core box
        yield


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def penguins_run(runs: Path) -> tuple[TrainResult, list[Event], RecordingTracker]:
    events: list[Event] = []
    tracker = RecordingTracker()
    result = train(dataset_path("penguins"), "species", preset="quick", models=MODELS, output_dir=str(runs),
                   time_budget=BUDGET, on_event=events.append, tracker=tracker)
    return result, events, tracker


def test_result_and_choice(penguins_run: Any) -> None:
    result, _, _ = penguins_run
    assert result.task.kind.value == "multiclass" and result.task.metric == "log_loss"
    assert [t.name for t in result.leaderboard.trials] == list(MODELS)
    assert result.leaderboard.ranked()[0].name == "dummy"
    assert result.choice.chosen in MODELS[1:] and result.choice.reason
    assert result.chosen.name == result.choice.chosen
    assert 0 <= result.test_score < 0.3  # penguins are easy: a low log-loss on the untouched test part
    assert set(result.timings) >= {"prepare_s", "ladder_s", "cv_s", "refit_test_s"}
    cv = [t for t in result.leaderboard.trials if t.cv_scores]
    assert {t.name for t in cv} >= {"dummy", "linear"} and all(len(t.cv_scores) == 3 for t in cv)  # quick: 3 folds
    assert result.choice.basis == "cv"


def test_run_folder_contents(penguins_run: Any) -> None:
    result, _, _ = penguins_run
    run = result.run_dir
    assert run.is_dir() and run.name == result.run_id
    assert result.bundle == run / "model"
    assert {p.name for p in run.iterdir()} >= {"run.json", "leaderboard.csv", "split.json", "model"}
    summary = json.loads((run / "run.json").read_text())
    assert summary["chosen"] == result.choice.chosen and summary["task"] == "multiclass"
    assert summary["test_scores"]["log_loss"] == pytest.approx(result.test_score)
    board = pd.read_csv(run / "leaderboard.csv")
    assert board["model"].tolist()[0] == "dummy" and "val_log_loss" in board and "train_log_loss" in board
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"pipeline.skops", "schema.json", "task.json", "metrics.json", "split.json",
                                      "config.json", "metadata.json"}
    assert not list(run.parent.glob(".*partial"))  # written atomically, nothing left behind


def test_split_saved_is_a_partition_of_the_file_rows(penguins_run: Any) -> None:
    result, _, _ = penguins_run
    saved = json.loads((result.run_dir / "split.json").read_text())
    rows = saved["rows"]
    every = rows["train"] + rows["validation"] + rows["test"]
    assert sorted(every) == list(range(344))
    assert saved["fingerprint"] == result.split.fingerprint
    assert saved["contamination"]["test_rows_with_twin_in_train"] == 0


def test_events_and_tracker(penguins_run: Any) -> None:
    result, events, tracker = penguins_run
    ladder = [(e.stage, e.spec.name) for e in events if e.step == "ladder"]
    assert ladder == [(s, n) for n in MODELS for s in ("start", "done")]
    assert any(e.step == "cv" for e in events)
    after = [(e.stage, e.step) for e in events if e.spec is None and e.step not in {"prepare", "run"}]
    assert after == [("done", "choice"), ("start", "refit"), ("done", "refit"), ("done", "bundle"),
                     ("start", "analysis"), ("done", "analysis"), ("start", "write")]
    assert events[0].step == "prepare" and (events[1].stage, events[1].step) == ("start", "run")
    assert (events[-1].stage, events[-1].step) == ("done", "run") and events[-1].payload is result
    kinds = [c[0] for c in tracker.calls]
    assert kinds == ["start", "trial", "trial", "trial", "finish"]
    assert ("trial", (result.choice.chosen, True)) in tracker.calls
    assert tracker.calls[-1] == ("finish", result.run_dir)


def test_same_data_and_config_give_the_same_leaderboard(penguins_run: Any, runs: Path) -> None:
    first, _, _ = penguins_run
    again = train(dataset_path("penguins"), "species", preset="quick", models=MODELS, output_dir=str(runs),
                  time_budget=BUDGET)
    assert again.run_id != first.run_id
    assert again.split.fingerprint == first.split.fingerprint
    for a, b in zip(first.leaderboard.trials, again.leaderboard.trials, strict=True):
        assert a.name == b.name
        assert dict(a.val_scores) == dict(b.val_scores)
        assert a.cv_scores == b.cv_scores
    assert again.choice.chosen == first.choice.chosen and again.test_scores == first.test_scores


def test_python_api_train_and_load(tmp_path: Path) -> None:
    frame = pd.read_csv(dataset_path("titanic"))
    result = tw.train(frame, target="survived", preset="quick", models=("dummy", "linear"), output_dir=str(tmp_path))
    assert result.task.positive_label == "survived" and result.task.metric == "roc_auc"
    model = tw.load(result.bundle)
    out = model.predict(frame.drop(columns=["survived"]))
    assert len(out) == len(frame) and list(out.columns) == ["prediction", "proba_died", "proba_survived"]
    assert (out["prediction"] == frame["survived"]).mean() > 0.75


def test_missing_target_rows_dropped_with_a_note(tmp_path: Path) -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    frame.loc[[0, 10, 20, 30], "species"] = np.nan
    result = train(frame, "species", preset="quick", models=("dummy",), output_dir=str(tmp_path))
    assert result.notes == ("dropped 4 rows whose target 'species' is missing",)
    assert sum(result.split.sizes.values()) == len(frame) - 4


def test_config_object_and_overrides(tmp_path: Path) -> None:
    cfg = load_config(None, target="progression", preset="quick", models=("dummy", "linear"), output_dir=str(tmp_path))
    result = train(dataset_path("diabetes"), config=cfg, metric="mae")
    assert result.task.kind.value == "regression" and result.task.metric == "mae"
    assert result.config.metric == "mae" and result.config.output_dir == str(tmp_path)
    assert result.leaderboard.metric == "mae" and "mae" in result.test_scores


def test_group_column_is_kept_out_of_features_and_parts(tmp_path: Path) -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    frame["family"] = np.arange(len(frame)) // 4
    grouped = train(frame, "species", preset="quick", models=("dummy",), output_dir=str(tmp_path),
                    split={"group_column": "family"})
    assert grouped.split.strategy == "grouped" and "family" not in grouped.schema.features
    fam = frame["family"]
    assert not set(fam.loc[grouped.split.train]) & set(fam.loc[grouped.split.test])


def test_door_reports_every_problem_at_once(tmp_path: Path) -> None:
    frame = pd.read_csv(dataset_path("titanic"))
    with pytest.raises(DataError) as info:
        train(frame, "survive", output_dir=str(tmp_path), split={"group_column": "famliy", "time_column": "when"})
    codes = sorted((p.code, p.column) for p in info.value.problems)
    assert codes == [("data.column_absent", "famliy"), ("data.column_absent", "when"), ("target.absent", "survive")]


def test_unknown_model_refused_before_loading_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        train(tmp_path / "does-not-exist.csv", "y", models=("lightgmb",))


def test_prepare_rejects_data_without_features() -> None:
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(40)], "y": [0, 1] * 20})
    with pytest.raises(DataError) as info:
        prepare(frame, load_config(None, target="y"))
    assert info.value.problems[0].code == "data.no_features"
