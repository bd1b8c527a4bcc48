"""What ``train`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.config import Config
from trainwright.data import Schema, Split, Task
from trainwright.evaluation import Choice, Leaderboard, Trial
from trainwright.training.oof import OutOfFold

__all__ = ["TrainResult"]


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` returns: the leaderboard, the choice and why, the one test result, and where things are."""

    run_id: str
    run_dir: Path
    config: Config
    task: Task
    schema: Schema
    split: Split
    leaderboard: Leaderboard
    choice: Choice
    test_scores: dict[str, float]
    bundle: Path
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    diagnosis: Any = None
    report_path: Path | None = None
    report_data: Any = None  # evaluation/report.py ReportData: test predictions, importance, audit (for the report)
    oof: OutOfFold = field(default_factory=lambda: OutOfFold({}), repr=False)
    schemes: dict[str, str] = field(default_factory=dict)  # how scores were obtained: holdout, cv, seeds

    @property
    def chosen(self) -> Trial:
        return self.leaderboard.get(self.choice.chosen)

    @property
    def test_score(self) -> float:
        return self.test_scores[self.task.metric]

    @cached_property
    def test_interval(self) -> dict[str, Any] | None:
        """95% percentile-bootstrap interval of the test score (``low``, ``high``, ``n_boot``), from the test
        predictions the run kept; None before the analysis step or on too few rows."""
        from trainwright.evaluation.report_parts import bootstrap_interval

        data = self.report_data
        if data is None:
            return None
        return bootstrap_interval(data.y_test, data.test_pred, self.task, random_state=self.config.seed)

    def __repr__(self) -> str:
        interval = self.test_interval
        ci = f" [{interval['low']:.4f}, {interval['high']:.4f}]" if interval else ""
        lines = [f"TrainResult(run_id={self.run_id!r})",
                 f"  task:    {self.task.kind.value} · target {self.task.target!r} · metric {self.task.metric}",
                 f"  chosen:  {self.choice.chosen} ({self.chosen.name}) of {len(self.leaderboard.trials)} trials",
                 f"  test:    {self.task.metric} = {self.test_score:.4f}{ci} on {len(self.split.test)} rows",
                 f"  bundle:  {self.bundle}",
                 f"  report:  {self.report_path or self.run_dir / 'report.html'}"]
        return "\n".join(lines)

    def oof_predictions(self, trial_id: str) -> pd.DataFrame:
        """The predictions trial ``trial_id`` made on rows it was not fitted on (the validation part for a hold-out
        trial, every choice row for a cross-validated one), indexed by the file's row numbers; never a test row.
        Columns: ``prediction`` (regression) or ``proba_<class>`` per class."""
        self.leaderboard.get(trial_id)  # KeyError for an unknown trial
        return self.oof.frame(trial_id, self.task)
