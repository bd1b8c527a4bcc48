"""trainwright: from a labelled table to a tested, packaged, served and monitored model.

    import trainwright as tw
    result = tw.train("data.csv", target="churn", preset="balanced")
    model = tw.load(result.bundle); model.predict(frame)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainwright.exceptions import (
    BundleError,
    ConfigError,
    DataError,
    GateFailed,
    SchemaMismatchError,
    TrackingError,
    TrainingError,
    TrainwrightError,
)

if TYPE_CHECKING:
    from trainwright.bundle import Model
    from trainwright.workflow import TrainResult

__all__ = [
    "BundleError", "ConfigError", "DataError", "GateFailed", "SchemaMismatchError", "TrackingError", "TrainingError",
    "TrainwrightError", "audit", "load", "train",
]
__version__ = "0.1.0"


def train(data: Any, target: str | None = None, **kwargs: Any) -> TrainResult:
    """Run the whole workflow; see ``trainwright.workflow.train``."""
    from trainwright.reporting import attach_run_report
    from trainwright.workflow import train as _train

    result = attach_run_report(_train(data, target, **kwargs))  # the run report: runs/<id>/report.{html,md,json}
    if result.report_path is not None and "tracker" not in kwargs:
        _log_report(result)
    return result


def _log_report(result: TrainResult) -> None:
    """The report is rendered after the workflow's tracker finished: add it to the same MLflow run."""
    from trainwright.tracking import NullTracker, default_tracker
    from trainwright.tracking.registry import attach_files

    if not isinstance(default_tracker(result.config), NullTracker):
        attach_files(result.run_id, sorted(result.run_dir.glob("report.*")), uri=result.config.tracking_uri)


def audit(data: Any, target: str, **kwargs: Any) -> Any:
    """Check a table before training and write its HTML/JSON report; see ``trainwright.reporting.audit.run_audit``."""
    from trainwright.reporting.audit import run_audit

    return run_audit(data, target, **kwargs)


def load(path: Any) -> Model:
    """Load a saved model bundle; see ``trainwright.bundle.load``."""
    from trainwright.bundle import load as _load

    return _load(path)
