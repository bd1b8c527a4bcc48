"""Layer 5: the engineer's log. A narrow Tracker protocol, fed only by the orchestrator."""

from trainwright.tracking.base import NullTracker, Tracker
from trainwright.tracking.mlflow_tracker import MLflowTracker, Store, default_tracker, resolve_uri

__all__ = ["MLflowTracker", "NullTracker", "Store", "Tracker", "default_tracker", "resolve_uri"]
