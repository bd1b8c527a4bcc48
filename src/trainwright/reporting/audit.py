"""The whole ``audit`` step: checks, the split's twin check, exploratory statistics, the reports, and --fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainwright.hygiene import LabelProbabilities

__all__ = ["AuditResult", "run_audit"]


@dataclass(frozen=True)
class AuditResult:
    audit: Any  # hygiene AuditReport
    profile: Any  # hygiene DataProfile (None when the target is unusable)
    files: dict[str, Path]
    fix: Any = None  # hygiene FixResult when --fix was asked


def run_audit(data: str | Path, target: str, *, time_column: str | None = None, fix: bool = False,
              output_dir: str | Path = "reports", label_model: str = "logistic", label_probabilities: LabelProbabilities | None = None,
              random_state: int = 0, allow_drop_rows: bool = False) -> AuditResult:
    """Audit the file at ``data``; write ``<output_dir>/<name>.audit.{html,md,json}``; with ``fix``, the cleaned
    file and its record of changes beside the original. The label-noise check judges labels by out-of-fold
probabilities of ``label_model`` (logistic | lightgbm) through the fold engine, or of ``label_probabilities``.
    ``allow_drop_rows``: let the fix remove more than a few percent of the rows (refused otherwise, before writing)."""
    from trainwright.data import infer_schema, infer_task
    from trainwright.hygiene import apply_fixes, audit_file, profile_frame, split_twins
    from trainwright.reporting import write_audit_report
    from trainwright.training import label_probabilities_for

    audit, frame = audit_file(data, target, time_column=time_column,
                              label_probabilities=label_probabilities or label_probabilities_for(label_model),
                              random_state=random_state)
    audit = split_twins(frame, audit, time_column=time_column, random_state=random_state)
    profile = None
    if audit.task != "unknown":
        labelled = frame.loc[frame[target].notna()]
        profile = profile_frame(labelled, infer_task(labelled[target]), infer_schema(labelled, target),
                                random_state=random_state)
    files = write_audit_report(audit, profile, output_dir, f"{Path(data).name.split('.')[0]}.audit")
    fixed = apply_fixes(data, frame, audit, allow_drop_rows=allow_drop_rows, random_state=random_state) if fix else None
    return AuditResult(audit, profile, files, fixed)
