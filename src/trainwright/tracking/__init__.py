"""Layer 5: the engineer's log. A narrow Tracker protocol, fed by the orchestrator's events."""

from trainwright.tracking.base import NullTracker, Tracker
from trainwright.tracking.listener import TrackingListener
from trainwright.tracking.mlflow_tracker import MLflowTracker, default_tracker
from trainwright.tracking.store import Store, resolve_uri

__all__ = ["MLflowTracker", "NullTracker", "Store", "Tracker", "TrackingListener", "default_tracker", "resolve_uri"]
