"""Data larger than one process, for real: Parquet shards read by Ray Data, XGBoost boosted by two Ray Train
workers that each read their own rows, the one test scored on the workers, and ``predict`` from a Parquet directory
to a Parquet directory; the quality matches the in-memory workflow on the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data.shards import PART_COLUMN, hash_parts, parquet_files, read_sample

SHARDS = 4


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """credit_data cut into 4 Parquet files (two of them in a sub-folder)."""
    frame = pd.read_csv(dataset_path("credit_data"))
    folder = tmp_path_factory.mktemp("shards") / "credit"
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), SHARDS)):
        target = folder / ("more" if i >= 2 else "") / f"part-{i}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.iloc[rows].to_parquet(target, index=False)
    (folder / "_SUCCESS").write_text("")  # what Spark leaves: not a shard
    return folder


@pytest.fixture(scope="module")
def sharded_run(shards: Path, tmp_path_factory: pytest.TempPathFactory):
    from trainwright.config import load_config
    from trainwright.workflow.sharded import predict_shards, train_sharded

    out = tmp_path_factory.mktemp("sharded")
    cfg = load_config(None, target="Status", output_dir=str(out / "runs"), workers=2, time_budget=600, seed=0)
    lines: list[str] = []
    result = train_sharded(parquet_files(shards), cfg, log=lines.append)
    rows = predict_shards(result.bundle, parquet_files(shards), out / "predictions")
    return result, lines, rows, out


def test_a_directory_or_a_glob_of_parquet_files_is_one_dataset(shards: Path) -> None:
    files = parquet_files(shards)
    assert files is not None and len(files) == SHARDS and all(f.suffix == ".parquet" for f in files)
    assert parquet_files(f"{shards}/**/*.parquet") == files
    assert parquet_files(dataset_path("credit_data")) is None  # a single CSV is not a sharded dataset
    sample = read_sample(files, rows=400)
    assert len(sample) == 400 and sample["Status"].notna().all()


def test_the_hash_split_is_stable_and_keeps_identical_rows_together() -> None:
    frame = pd.DataFrame({"a": np.arange(5000) % 50, "b": np.arange(5000) % 3})  # 150 distinct rows, many twins
    parts = hash_parts(frame, ["a", "b"], (0.7, 0.15, 0.15), seed=0)
    shuffled = frame.sample(frac=1.0, random_state=1)
    again = pd.Series(hash_parts(shuffled, ["a", "b"], (0.7, 0.15, 0.15), seed=0), index=shuffled.index)
    assert (again.sort_index().to_numpy() == parts).all()  # same row, same part, whatever the order
    assert frame.assign(**{PART_COLUMN: parts}).groupby(["a", "b"])[PART_COLUMN].nunique().max() == 1
    big = pd.DataFrame({"x": np.arange(100_000)})
    shares = np.bincount(hash_parts(big, ["x"], (0.7, 0.15, 0.15), seed=3), minlength=3) / len(big)
    assert shares == pytest.approx([0.7, 0.15, 0.15], abs=0.01)
    assert (hash_parts(big, ["x"], (0.7, 0.15, 0.15), seed=4) != hash_parts(big, ["x"], (0.7, 0.15, 0.15), seed=3)).any()


def test_two_workers_each_read_their_own_rows_and_the_model_beats_the_baseline(sharded_run) -> None:
    result, lines, _, _ = sharded_run
    assert result.workers == 2 and len(result.rows_per_worker) == 2
    assert sum(result.rows_per_worker) == result.parts["train"]  # every train row read once, by one worker
    assert min(result.rows_per_worker) > 0.3 * result.parts["train"]
    assert sum(result.parts.values()) == result.rows == len(pd.read_csv(dataset_path("credit_data")))
    assert result.test_scores["roc_auc"] > result.baseline_scores["roc_auc"] + 0.2
    assert any("2 workers trained" in line and "rows read per worker" in line for line in lines)


def test_its_quality_matches_the_in_memory_workflow_on_the_same_rows(sharded_run) -> None:
    from trainwright.workflow import train

    result, _, _, out = sharded_run
    local = train(dataset_path("credit_data"), "Status", preset="quick", models=("xgboost",), seed=0,
                  output_dir=str(out / "local"), tracking=False)
    assert result.test_scores["roc_auc"] == pytest.approx(local.test_scores["roc_auc"], abs=0.04)


def test_the_bundle_predicts_a_file_and_a_parquet_directory_like_each_other(sharded_run, shards: Path) -> None:
    from trainwright.bundle import load

    result, _, rows, out = sharded_run
    frame = pd.concat([pd.read_parquet(f) for f in parquet_files(shards)], ignore_index=True)
    assert rows == len(frame)
    written = pd.read_parquet(out / "predictions")
    assert len(written) == len(frame) and {"prediction", "proba_good", "proba_bad"} <= set(written.columns)
    model = load(result.bundle)
    direct = model.predict(frame.head(300))
    pd.testing.assert_frame_equal(written.head(300).reset_index(drop=True), direct.reset_index(drop=True),
                                  check_dtype=False, atol=1e-6)
    assert (result.run_dir / "run.json").is_file() and (result.run_dir / "leaderboard.csv").is_file()
    assert not list(Path(result.run_dir).parent.glob(".*.ray"))  # Ray Train's checkpoint folder removed


def test_the_cli_trains_in_memory_on_a_shard_folder_and_predicts_it_into_a_folder(shards: Path, tmp_path: Path,
                                                                                  capsys, monkeypatch) -> None:
    from trainwright.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    code = main(["train", str(shards), "--target", "Status", "--models", "dummy,lightgbm", "--preset", "quick",
                 "--no-tracking", "-o", str(tmp_path / "runs")])  # no --backend ray: the shards read as one table
    assert code == 0, capsys.readouterr().err
    (bundle,) = (tmp_path / "runs").glob("*/model")
    capsys.readouterr()
    assert main(["predict", str(bundle), str(shards), "-o", str(tmp_path / "scored.csv")]) == 2  # a folder in, a folder out
    captured = capsys.readouterr()
    assert "names a file" in captured.out + captured.err
    assert main(["predict", str(bundle), str(shards), "-o", str(tmp_path / "scored")]) == 0
    written = pd.read_parquet(tmp_path / "scored")
    assert len(written) == len(pd.read_csv(dataset_path("credit_data"))) and "prediction" in written.columns
    assert not (tmp_path / "scored.csv").exists() and not list(tmp_path.glob(".scored*"))
