"""Layer 5: the engineer's log. A narrow Tracker protocol, fed only by the orchestrator."""

from trainwright.tracking.base import NullTracker, Tracker

__all__ = ["NullTracker", "Tracker"]
