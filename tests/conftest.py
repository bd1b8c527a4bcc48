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
