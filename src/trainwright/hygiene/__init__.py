"""Layer 2b (above data): data hygiene before any model is trained. The audit's checks (duplicates, columns,
leakage, imbalance, outliers, target drift over time, label noise via cleanlab), the twin check of a split, the
safe fixes, and the exploratory statistics of the audit report. Imports only data, config and exceptions."""

from trainwright.hygiene.audit import (
    SEVERITIES,
    AuditReport,
    audit_file,
    audit_frame,
    preflight,
    with_split_findings,
)
from trainwright.hygiene.checks import Finding
from trainwright.hygiene.eda import ColumnSummary, DataProfile, profile_frame
from trainwright.hygiene.fixes import FixResult, apply_fixes
from trainwright.hygiene.label_noise import LabelProbabilities, find_label_issues
from trainwright.hygiene.twins import audit_split, split_twins

__all__ = [
    "SEVERITIES", "AuditReport", "ColumnSummary", "DataProfile", "Finding", "FixResult", "LabelProbabilities",
    "apply_fixes", "audit_file", "audit_frame", "audit_split", "find_label_issues",
    "preflight", "profile_frame", "split_twins", "with_split_findings",
]
