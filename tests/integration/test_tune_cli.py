"""``trainwright tune`` through the real CLI: a short search, and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import dataset_path
from tests.integration.cli import assert_clean_failure, run_cli


def test_tune_refuses_an_unknown_sampler_and_a_run_without_a_study(tmp_path: Path) -> None:
    data = dataset_path("iris")
    assert_clean_failure(run_cli("tune", data, "--target", "species", "--sampler", "anneal", cwd=tmp_path), 2, "sampler")
    assert_clean_failure(run_cli("tune", data, "--target", "species", "--resume", "nope", cwd=tmp_path), 2,
                         "no stored search", "nope")


@pytest.mark.slow
def test_tune_searches_and_stores_its_study(tmp_path: Path) -> None:
    proc = run_cli("tune", dataset_path("iris"), "--target", "species", "--models", "linear", "--trials", "4",
                   "--preset", "quick", "--choose", "best", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert (run / "study.journal").is_file() and (run / "model").is_dir()
    assert "--resume" in proc.stdout and json.loads((run / "run.json").read_text())["chosen"]
