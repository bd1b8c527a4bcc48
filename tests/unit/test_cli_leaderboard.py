"""The leaderboard table fits the console it is printed on: narrow terminals drop the last columns, not the figures."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from tests.conftest import dataset_path
from trainwright.cli import _console
from trainwright.cli.train import _COLUMNS, _render
from trainwright.workflow import TrainResult, train


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out = tmp_path_factory.mktemp("runs")
    return train(dataset_path("iris"), "species", preset="quick", models=("dummy", "linear"), output_dir=str(out))


@pytest.mark.parametrize(("width", "hidden"), [(80, _COLUMNS[6:]), (100, _COLUMNS[8:]), (120, ())])
def test_table_fits_the_width(result: TrainResult, monkeypatch: pytest.MonkeyPatch, width: int,
                              hidden: tuple[str, ...]) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(_console, "console", Console(file=buffer, width=width, color_system=None))
    _render(result)
    text = buffer.getvalue()
    table = [line for line in text.split("Chosen:")[0].splitlines() if not line.startswith("(")]
    assert max(len(line) for line in table) <= width  # the table itself never folds or overflows
    header = next(line for line in text.splitlines() if line.strip().startswith("model"))
    for col in _COLUMNS:
        assert (col in header) == (col not in hidden), (col, header)
    for trial in result.leaderboard.trials:  # one unbroken row per model, its validation score in full
        assert re.search(rf"^ *{trial.name}\b.* {trial.score(result.task.metric):.4f} ", text, re.MULTILINE), trial.name
    if hidden:
        assert str(Path(result.run_dir) / "leaderboard.csv") in " ".join(text.split())
