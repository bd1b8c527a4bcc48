"""Layer 7: renderers of report objects (HTML, Markdown, JSON, Matplotlib plots).

``ReportWriter`` is a listener of the workflow: at its ``write`` step it renders runs/<id>/report.{html,md,json};
``write_audit_report(audit, profile, out_dir, stem)`` writes the audit's HTML and JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ReportWriter", "build_run_report", "write_audit_report"]


def build_run_report(result: Any) -> Any:
    """The run's Report object (evaluation/report.py) from a TrainResult."""
    from trainwright.evaluation.report import run_report

    data = getattr(result, "report_data", None)
    return run_report(run_id=result.run_id, source=getattr(data, "source", "") or "the data", task=result.task,
                      schema=result.schema, split=result.split, leaderboard=result.leaderboard, choice=result.choice,
                      test_scores=result.test_scores, diagnosis=result.diagnosis, data=data, timings=result.timings)


class ReportWriter:
    """Renders the run report into the run folder when the workflow says the folder is being written."""

    def __call__(self, event: Any) -> None:
        if event.step == "write" and event.stage == "start":
            from trainwright.reporting.render import write_report

            write_report(build_run_report(event.payload.result), Path(event.payload.directory), "report")


def write_audit_report(audit: Any, profile: Any, out_dir: str | Path, stem: str) -> dict[str, Path]:
    from trainwright.evaluation.report import audit_report
    from trainwright.reporting.render import write_report

    return write_report(audit_report(audit, profile), out_dir, stem)
