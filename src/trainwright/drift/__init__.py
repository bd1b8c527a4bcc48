"""Layer 2b (above data): drift of new data against the training data. The reference profile a bundle keeps
(``ReferenceProfile``), the statistics (PSI; scipy's two-sample KS and chi-square tests) and the drift report
shared by serving and monitoring. Imports only data, config and exceptions."""

from trainwright.drift.compare import compare, compare_column, metric_change
from trainwright.drift.reference import (
    OTHER_CATEGORY,
    PREDICTION,
    SAMPLE_SIZE,
    ColumnProfile,
    ReferenceProfile,
    build_profile,
    column_values,
    numeric_values,
    prediction_values,
    profile_column,
)
from trainwright.drift.report import ColumnDrift, DriftReport, MetricChange, Thresholds
from trainwright.drift.statistics import bin_fractions, chi_square, ks_test, psi

__all__ = [
    "OTHER_CATEGORY", "PREDICTION", "SAMPLE_SIZE", "ColumnDrift", "ColumnProfile", "DriftReport", "MetricChange",
    "ReferenceProfile", "Thresholds", "bin_fractions", "build_profile", "chi_square", "column_values", "compare",
    "compare_column", "ks_test", "metric_change", "numeric_values", "prediction_values", "profile_column", "psi",
]
