"""The dense workflow in process: the task from the layout, the ladder's names checked, a run folder complete."""

from __future__ import annotations

import json

import pytest

from tests.unit.dense.scenes import make_scenes
from trainwright.config import load_config
from trainwright.exceptions import ConfigError, DataError
from trainwright.workflow import train
from trainwright.workflow.dense import dense_task_of, ladder_specs


def test_task_from_layout_or_option(tmp_path):
    make_scenes(tmp_path / "det", 3)
    make_scenes(tmp_path / "seg", 3, coco=False)
    assert dense_task_of(tmp_path / "det", None, {}) == "detection"
    assert dense_task_of(tmp_path / "seg", None, {}) == "segmentation"
    assert dense_task_of(tmp_path / "det", None, {"task": "segmentation"}) == "segmentation"
    assert dense_task_of(tmp_path / "det", None, {"task": "binary"}) is None
    assert dense_task_of(tmp_path / "table.csv", None, {}) is None


def test_ladder_names_are_checked_and_ordered():
    cfg = load_config(None, target="label", task="detection", models=("centernet", "components"))
    assert [s.name for s in ladder_specs("detection", cfg)] == ["components", "centernet"]
    assert [s.name for s in ladder_specs("segmentation", load_config(None, target="label", preset="quick"))] == [
        "pixel_lightgbm", "unet"]
    with pytest.raises(ConfigError, match="unknown segmentation model"):
        ladder_specs("segmentation", load_config(None, target="label", models=("centernet",)))


def test_segmentation_run_folder(tmp_path):
    make_scenes(tmp_path / "scenes", 12, seed=4, coco=False)
    result = train(tmp_path / "scenes", preset="quick", models=["pixel_lightgbm"], output_dir=str(tmp_path / "runs"),
                   tracking=False)
    assert result.task == "segmentation" and result.chosen == "pixel_lightgbm"
    assert set(result.test_scores["per_class"]) == {"background", "circle", "square", "triangle"}
    assert 0.0 <= result.test_score <= 1.0 and result.split_sizes["test"] >= 1
    summary = json.loads((result.run_dir / "run.json").read_text())
    assert summary["chosen"] == "pixel_lightgbm" and summary["split"] == result.split_sizes
    assert (result.bundle / "dense.json").is_file() and result.report_path is not None
    assert list((result.run_dir / "examples").glob("*.png"))
    assert not list((tmp_path / "runs").glob(".*"))  # no partial folder left


def test_detection_without_masks_has_no_baseline(tmp_path):
    make_scenes(tmp_path / "scenes", 10, seed=5)
    for mask in (tmp_path / "scenes" / "masks").iterdir():
        mask.unlink()
    (tmp_path / "scenes" / "masks").rmdir()
    with pytest.raises(Exception, match="no candidate could be trained") as caught:
        train(tmp_path / "scenes", models=["components"], output_dir=str(tmp_path / "runs"), tracking=False)
    assert "no masks in the data" in str(caught.value.problems)  # type: ignore[attr-defined]


def test_a_table_is_refused_for_a_dense_task(tmp_path):
    with pytest.raises(DataError, match="not a detection or segmentation folder"):
        train(tmp_path, task="segmentation", output_dir=str(tmp_path / "runs"), tracking=False)
