"""Layer 4: metrics, the leaderboard and the choice."""

from trainwright.evaluation.leaderboard import Choice, Leaderboard, Trial, TrialIds
from trainwright.evaluation.metrics import (
           METRICS,
           Metric,
           bootstrap_se,
           check_metric,
           get_metric,
           score_all,
           score_one,
)

__all__ = ["METRICS", "Choice", "Leaderboard", "Metric", "Trial", "TrialIds", "bootstrap_se", "check_metric", "get_metric",
           "score_all", "score_one"]
