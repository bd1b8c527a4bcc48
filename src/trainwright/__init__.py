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


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the package metadata, the one place the version is written
        from trainwright.lineage import package_version

        return package_version("trainwright") or "unknown"
    raise AttributeError(name)


def train(data: Any, target: str | None = None, **kwargs: Any) -> TrainResult:
    """Run the whole workflow and write its report; see ``trainwright.workflow.train``."""
    from trainwright.reporting import ReportWriter
    from trainwright.workflow import train as _train

    listeners = (*kwargs.pop("listeners", ()), ReportWriter())  # the run report: runs/<id>/report.{html,md,json}
    return _train(data, target, listeners=listeners, **kwargs)


def audit(data: Any, target: str, **kwargs: Any) -> Any:
    """Check a table before training and write its HTML/JSON report; see ``trainwright.reporting.audit.run_audit``."""
    from trainwright.reporting.audit import run_audit

    return run_audit(data, target, **kwargs)


def load(path: Any) -> Model:
    """Load a saved model bundle; see ``trainwright.bundle.load``."""
    from trainwright.bundle import load as _load

    return _load(path)
