"""Layer 7: renderers of report objects (HTML, Markdown, JSON, Matplotlib plots).

``ReportWriter`` is a listener of the workflow: it collects the torch models' per-epoch curves while they train
(``curves.EpochCurves``: TensorBoard files when the config names a folder) and at the ``write`` step renders
runs/<id>/report.{html,md,json}; ``write_audit_report(audit, profile, out_dir, stem)`` writes the audit's HTML and
JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.reporting.curves import EpochCurves

__all__ = ["ReportWriter", "build_run_report", "write_audit_report"]


def build_run_report(result: Any, curves: Mapping[str, list[dict[str, float]]] | None = None) -> Any:
    """The run's Report object (evaluation/report.py) from a TrainResult and the per-epoch ``curves`` by trial."""
    from trainwright.evaluation.report import run_report

    data = getattr(result, "report_data", None)
    return run_report(run_id=result.run_id, source=getattr(data, "source", "") or "the data", task=result.task,
                      schema=result.schema, split=result.split, leaderboard=result.leaderboard, choice=result.choice,
                      test_scores=result.test_scores, diagnosis=result.diagnosis, data=data, timings=result.timings,
                      curves=curves)


class ReportWriter:
    """Renders the run report into the run folder when the workflow says the folder is being written; until then
    it files the per-epoch curves of the torch models (and their TensorBoard files)."""

    def __init__(self) -> None:
        self.curves = EpochCurves()

    def __call__(self, event: Any) -> None:
        self.curves(event)
        if event.step == "write" and event.stage == "start":
            from trainwright.reporting.render import write_report

            report = build_run_report(event.payload.result, self.curves.curves)
            write_report(report, Path(event.payload.directory), "report")


def write_audit_report(audit: Any, profile: Any, out_dir: str | Path, stem: str) -> dict[str, Path]:
    from trainwright.evaluation.report import audit_report
    from trainwright.reporting.render import write_report

    return write_report(audit_report(audit, profile), out_dir, stem)
