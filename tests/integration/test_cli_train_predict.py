"""The real CLI on real data: train (quick preset) then predict, for binary, multiclass and regression tasks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainwright as tw
from tests.conftest import dataset_path
from tests.integration.cli import run_cli
from trainwright.config import PRESETS


@dataclass(frozen=True)
class Case:
    dataset: str
    target: str
    kind: str
    metric: str
    models: str | None  # None: the quick preset's own list


CASES = {
    "titanic": Case("titanic", "survived", "binary", "roc_auc", None),  # missing age, categoricals
    # fewer candidates on the others (every model on every task is the contract test's job)
    "credit_data": Case("credit_data", "Status", "binary", "roc_auc", "dummy,lightgbm"),  # missing, categoricals
    "penguins": Case("penguins", "species", "multiclass", "log_loss", "dummy,linear"),
    "diabetes": Case("diabetes", "progression", "regression", "rmse", "dummy,linear"),
}


@dataclass(frozen=True)
class Trained:
    case: Case
    cwd: Path
    stdout: str
    stderr: str
    returncode: int

    @property
    def run_dir(self) -> Path:
        (run,) = [p for p in (self.cwd / "runs").iterdir() if not p.name.startswith(".")]
        return run


@pytest.fixture(scope="module", params=list(CASES))
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    case = CASES[request.param]
    cwd = tmp_path_factory.mktemp(case.dataset)
    args = ["train", dataset_path(case.dataset), "--target", case.target, "--preset", "quick"]
    if case.models:
        args += ["--models", case.models]
    proc = run_cli(*args, cwd=cwd)
    return Trained(case, cwd, proc.stdout, proc.stderr, proc.returncode)


def test_train_exits_cleanly_and_prints_leaderboard_and_test(trained: Trained) -> None:
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "Traceback" not in trained.stderr
    out = trained.stdout
    metric = trained.case.metric
    assert f"Leaderboard: {metric} on the validation part" in out
    assert re.search(r"model +rung +val +train +cv mean ± sd +fit s +ms/1k rows +size KB +note", out)  # every column
    models = trained.case.models.split(",") if trained.case.models else PRESETS["quick"].models
    for name in models:
        assert re.search(rf"^ *{name}\b", out, re.MULTILINE), name  # a row per candidate in the table
    test = re.search(rf"Test \(touched once, after the choice\): {metric} = (-?[\d.]+)", out)
    assert test, out[-2000:]
    summary = json.loads((trained.run_dir / "run.json").read_text())
    assert float(test.group(1)) == pytest.approx(summary["test_scores"][metric], abs=1e-4)
    assert "Chosen:" in out and summary["chosen"] in out
    assert summary["task"] == trained.case.kind


def test_bundle_present_with_manifest(trained: Trained) -> None:
    bundle = trained.run_dir / "model"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"pipeline.skops", "schema.json", "task.json", "metrics.json", "split.json",
                                      "config.json", "metadata.json"}
    assert f"Model bundle: runs/{trained.run_dir.name}/model" in trained.stdout
    task = json.loads((bundle / "task.json").read_text())
    assert task["kind"] == trained.case.kind and task["metric"] == trained.case.metric


def test_predict_writes_every_row_in_order(trained: Trained) -> None:
    source = dataset_path(trained.case.dataset)
    scored = trained.cwd / "scored.csv"
    bundle = trained.run_dir / "model"
    proc = run_cli("predict", bundle, source, "-o", scored, cwd=trained.cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    frame = pd.read_csv(source)
    assert f"wrote {len(frame)} predictions to" in proc.stdout
    out = pd.read_csv(scored)
    assert len(out) == len(frame)
    expected = tw.load(bundle).predict(frame)  # the same rows through the Python API, in input order
    if trained.case.kind == "regression":
        assert list(out.columns) == ["prediction"]
        np.testing.assert_allclose(out["prediction"], expected["prediction"], rtol=1e-12)
        return
    classes = sorted(frame[trained.case.target].dropna().astype(str).unique())
    assert list(out.columns) == ["prediction", *[f"proba_{c}" for c in classes]]
    assert out["prediction"].astype(str).tolist() == expected["prediction"].astype(str).tolist()
    proba = out[[f"proba_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba, expected[[f"proba_{c}" for c in classes]].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (out["prediction"].astype(str) == frame[trained.case.target].astype(str)).mean() > 0.7


def test_python_api_round_trip(tmp_path: Path) -> None:
    frame = pd.read_csv(dataset_path("penguins"))
    r = tw.train(dataset_path("penguins"), target="species", preset="quick", models=("dummy", "linear"),
                 output_dir=str(tmp_path / "runs"))
    out = tw.load(r.bundle).predict(frame)
    assert list(out.index) == list(frame.index)
    assert (out["prediction"] == frame["species"]).mean() > 0.9
