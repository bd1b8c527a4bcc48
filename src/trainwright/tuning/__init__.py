"""Layer 5: hyperparameter search over the fold engine (Optuna, imported lazily), portfolios first."""

from trainwright.tuning.search import SearchResult, SearchTrial, search
from trainwright.tuning.study import SAMPLERS, open_study, study_storage

__all__ = ["SAMPLERS", "SearchResult", "SearchTrial", "open_study", "search", "study_storage"]
