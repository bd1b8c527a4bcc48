"""Layer 4: fit one candidate, climb the ladder, cross-validate."""

from trainwright.training.fit import Fitted, fit_candidate, fit_pipeline, predict_matrix
from trainwright.training.ladder import Event, climb, cross_validate

__all__ = ["Event", "Fitted", "climb", "cross_validate", "fit_candidate", "fit_pipeline", "predict_matrix"]
