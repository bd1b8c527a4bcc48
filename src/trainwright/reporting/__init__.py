"""Layer 7: renderers of report objects (HTML, Markdown, JSON, Matplotlib plots).

``attach_run_report(result)`` writes runs/<id>/report.{html,md,json} and returns the result with report_path set;
``write_audit_report(audit, profile, out_dir, stem)`` writes the audit's HTML and JSON.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

__all__ = ["attach_run_report", "build_run_report", "write_audit_report"]


def build_run_report(result: Any) -> Any:
    """The run's Report object (evaluation/report.py) from a TrainResult."""
    from trainwright.evaluation.report import run_report

    data = getattr(result, "report_data", None)
    return run_report(run_id=result.run_id, source=getattr(data, "source", "") or "the data", task=result.task,
                      schema=result.schema, split=result.split, leaderboard=result.leaderboard, choice=result.choice,
                      test_scores=result.test_scores, diagnosis=result.diagnosis, data=data, timings=result.timings)


def attach_run_report(result: Any) -> Any:
    """Render the run report into the run folder; return ``result`` with ``report_path`` (the HTML file)."""
    from trainwright.reporting.render import write_report

    files = write_report(build_run_report(result), Path(result.run_dir), "report")
    return replace(result, report_path=files["html"])


def write_audit_report(audit: Any, profile: Any, out_dir: str | Path, stem: str) -> dict[str, Path]:
    from trainwright.evaluation.report import audit_report
    from trainwright.reporting.render import write_report

    return write_report(audit_report(audit, profile), out_dir, stem)
