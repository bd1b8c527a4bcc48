"""Shared fixtures: real datasets from ../shared/datasets (or the bundled copy), isolated working directories."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
BUNDLED = ROOT / "datasets"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow tracking is on by default in `train`; creating a store costs ~2 s per fresh directory, so tests run
# without it unless they ask for it with the `tracking_on` fixture (tests/unit/tracking, tests/integration).
os.environ["TRAINWRIGHT_TRACKING"] = "0"


def dataset_path(name: str) -> Path:
    """A real dataset by file stem: the shared copy, or the one bundled with the project."""
    for folder in (SHARED, BUNDLED):
        path = folder / f"{name}.csv"
        if path.exists():
            return path
    pytest.fail(f"dataset {name}.csv not found in {SHARED} or {BUNDLED}")


@pytest.fixture
def data_path():
    return dataset_path


@pytest.fixture
def frame():
    def load(name: str) -> pd.DataFrame:
        return pd.read_csv(dataset_path(name))

    return load


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Every test runs in its own empty directory, so runs/ and mlflow.db never land in the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TRAINWRIGHT_TRACKING", "0")


@pytest.fixture
def tracking_on(monkeypatch):
    """MLflow tracking as a user gets it (default store: sqlite:///mlflow.db in the test's own directory)."""
    monkeypatch.delenv("TRAINWRIGHT_TRACKING", raising=False)


@pytest.fixture(scope="session")
def titanic_bundle(tmp_path_factory):
    """One bundle trained with dummy/linear/lightgbm on titanic (quick preset), shared by the session. Read-only."""
    from tests.bundles import train_bundle

    return train_bundle(tmp_path_factory.mktemp("titanic-runs"), ("dummy", "linear", "lightgbm"))


@pytest.fixture(scope="session")
def lightgbm_bundle(tmp_path_factory):
    """A LightGBM bundle on titanic (one fixed-size fit, written like the workflow's), shared. Read-only."""
    from tests.bundles import quick_bundle

    return quick_bundle(tmp_path_factory.mktemp("lightgbm-bundle"))
