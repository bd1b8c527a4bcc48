"""The data doctor: checks a labelled table before any model sees it.

``audit_frame`` returns an ``AuditReport`` of Findings (code, severity info/warning/blocking, columns, rows,
examples, the rule that fired and the fix); ``preflight`` is the audit ``train`` runs first. The twin check of a
split is in ``twins.py``, the safe fixes in ``fixes.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.data.load import load_table
from trainwright.data.schema import Role, Schema, infer_schema
from trainwright.data.task import Task, infer_task
from trainwright.data.validate import check_columns, check_target
from trainwright.exceptions import DataError, Problem
from trainwright.hygiene import checks, leakage
from trainwright.hygiene.checks import Finding
from trainwright.hygiene.label_noise import LabelProbabilities, find_label_issues

__all__ = ["SEVERITIES", "AuditReport", "audit_file", "audit_frame", "preflight", "with_split_findings"]

SEVERITIES = ("blocking", "warning", "info")
SAMPLE_ROWS = 20_000  # leakage, correlation and outlier checks read at most this many rows


@dataclass(frozen=True)
class AuditReport:
    """Everything the audit found, most serious first, and which checks ran or were skipped (and why)."""

    source: str
    target: str
    n_rows: int
    n_columns: int
    task: str
    findings: tuple[Finding, ...]
    checks: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "blocking")

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def top(self, n: int = 5) -> tuple[Finding, ...]:
        return self.findings[:n]

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "n_rows": self.n_rows, "n_columns": self.n_columns,
                "task": self.task, "counts": self.counts(), "findings": [f.to_dict() for f in self.findings],
                "checks": list(self.checks), "skipped": list(self.skipped), "seconds": self.seconds, "extra": self.extra}


def _ordered(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: SEVERITIES.index(f.severity)))


def _sample(frame: pd.DataFrame, n: int, random_state: int) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n, random_state=random_state).sort_index()


def _task_or_findings(frame: pd.DataFrame, target: str, task: Task | None, source: str) -> tuple[Task | None, list[Finding]]:
    checked = check_target(frame, target, classification=None)
    absent = [p for p in checked.problems if p.code == "target.absent"]
    if absent:
        raise DataError(f"cannot audit {source}", absent)
    findings = [Finding(p.code, "blocking", p.message, columns=(target,), fix=p.fix or "") for p in checked.problems
                if p.code in {"target.all_missing", "target.one_class", "target.not_finite",
                              "target.too_large"}]
    if findings or task is not None:
        return task, findings
    try:
        return infer_task(frame[target]), findings
    except DataError as exc:
        return None, [Finding(p.code, "blocking", p.message, columns=(target,), fix=p.fix or "") for p in exc.problems]


def audit_frame(frame: pd.DataFrame, target: str, *, task: Task | None = None, schema: Schema | None = None,
                time_column: str | None = None, label_noise: bool = True,
                label_probabilities: LabelProbabilities | None = None, source: str = "<DataFrame>",
                random_state: int = 0) -> AuditReport:
    """Run every check that applies. ``label_noise=False`` skips the (slower) cleanlab check.

    ``label_probabilities`` gives the label-noise check its out-of-fold class probabilities (see
    ``label_noise.py``); without it the check is skipped and the report says so.
    """
    start = time.perf_counter()
    problems = check_columns(frame, {"time": time_column})
    if problems:
        raise DataError(f"cannot audit {source}", problems)
    task, findings = _task_or_findings(frame, target, task, source)
    ran: list[str] = []
    skipped: list[str] = []
    extra: dict[str, Any] = {}
    if task is not None:
        labelled = frame.loc[frame[target].notna()]
        schema = schema or infer_schema(labelled, target)
        findings += _content_checks(labelled, task, schema, ran, random_state)
        findings += _image_checks(labelled, target, schema, ran, extra, random_state)
        if time_column:
            findings += checks.target_drift(labelled[time_column], labelled[target], task.is_classification)
            ran.append("target drift over time")
        if not task.is_classification:
            skipped.append("label noise: only for classification targets")
        elif not label_noise:
            skipped.append("label noise: skipped in the pre-flight audit (run 'trainwright audit' for it)")
        elif label_probabilities is None:
            skipped.append("label noise: no out-of-fold model was given")
        else:
            name = getattr(label_probabilities, 'description', getattr(label_probabilities, '__name__', 'the caller'))
            how = f"out-of-fold probabilities from {name}"
            findings += _label_issues(labelled, task, schema, label_probabilities, how, random_state, ran, extra,
                                      findings)
    return AuditReport(source=source, target=target, n_rows=len(frame), n_columns=frame.shape[1],
                       task=task.kind.value if task else "unknown", findings=_ordered(findings), checks=tuple(ran),
                       skipped=tuple(skipped), seconds=round(time.perf_counter() - start, 3), extra=extra)


def _content_checks(frame: pd.DataFrame, task: Task, schema: Schema, ran: list[str], random_state: int) -> list[Finding]:
    target = task.target
    columns = [c.name for c in schema.columns]
    findings = checks.duplicates(frame, target, columns, random_state=random_state)
    findings += checks.column_findings(frame, schema)
    findings += checks.infinite_values(frame, columns)
    ran += ["identical rows (against chance) and conflicting duplicates",
            "constant, identifier-like, missing, infinite, high-cardinality columns"]
    sample = _sample(frame, SAMPLE_ROWS, random_state)
    y = task.encode(sample[target]) if task.is_classification else pd.to_numeric(sample[target], errors="coerce").to_numpy(dtype=float)
    ids = checks.identifier_like(frame, schema)
    usable = [c.name for c in schema.columns if c.n_unique > 1 and c.name not in ids and c.role is not Role.IGNORED]
    findings += leakage.leakage(sample, target, y, task.is_classification, usable)
    findings += leakage.identifier_runs_with_target(sample, ids, y, task.is_classification)
    numeric = sample[schema.names(Role.NUMERIC)].apply(pd.to_numeric, errors="coerce").astype(float)
    findings += checks.collinear_pairs(numeric, y if not task.is_classification or len(task.classes) == 2 else None)
    findings += checks.outliers(numeric)
    ran += ["leakage (single column, identifier order)", "collinear numeric pairs", "numeric outliers"]
    if task.is_classification:
        findings += checks.class_imbalance(frame[target], task.metric)
        ran.append("class imbalance")
    return findings


def _image_checks(frame: pd.DataFrame, target: str, schema: Schema, ran: list[str], extra: dict[str, Any],
                  random_state: int) -> list[Finding]:
    """Image-path columns: sizes, modes, unreadable files and example files per class (``extra["images"]``, one
    profile per column, for the report's tables and thumbnails)."""
    from trainwright.hygiene.images import image_findings, profile_images

    columns = schema.names(Role.IMAGE)
    if not columns:
        return []
    profiles = [profile_images(frame, column, target, random_state=random_state) for column in columns]
    extra["images"] = [p.to_dict() for p in profiles]
    ran.append("images: sizes, colour modes, formats, unreadable files")
    return [f for p in profiles for f in image_findings(p)]


def _label_issues(frame: pd.DataFrame, task: Task, schema: Schema, probabilities: LabelProbabilities, source: str,
                  random_state: int, ran: list[str], extra: dict[str, Any], findings: list[Finding]) -> list[Finding]:
    y = task.encode(frame[task.target])
    # suspects of leakage and identifiers would let the model learn the given labels, errors included: ignored
    leave_out = {c for f in findings if f.code.startswith("leakage.") or f.code == "column.identifier" for c in f.columns}
    inputs = Schema(schema.target, tuple(replace(c, role=Role.IGNORED) if c.name in leave_out else c
                                         for c in schema.columns))
    rows, n_checked = find_label_issues(frame, y, inputs, label_probabilities=probabilities, random_state=random_state)
    ran.append(f"label noise (cleanlab, {source}, {n_checked} rows)")
    extra["label_issue_rows"] = [int(r) for r in rows]
    if not len(rows):
        return []
    examples = tuple(f"row {r}: {frame.at[r, task.target]}" for r in rows[:checks.MAX_EXAMPLES])
    severity = "warning" if len(rows) / max(n_checked, 1) >= 0.01 else "info"
    return [Finding("labels.suspect", severity, f"{len(rows)} rows look mislabelled ({len(rows) / max(n_checked, 1):.1%})",
                    "their given label is unlikely under a model that never saw them (most suspicious first)",
                    columns=(task.target,), rows=tuple(int(r) for r in rows[:200]), n_rows=len(rows), examples=examples,
                    fix="review these rows' labels; correct or drop the wrong ones",
                    rule="cleanlab.filter.find_label_issues on out-of-fold predicted probabilities")]


def preflight(frame: pd.DataFrame, task: Task, schema: Schema, *, force: bool, time_column: str | None = None,
              label_probabilities: LabelProbabilities | None = None, source: str = "<DataFrame>",
              random_state: int = 0) -> AuditReport:
    """The audit ``train`` runs first. Blocking findings stop it unless ``force``. The label-noise check runs only
    when ``label_probabilities`` is given (the caller then pays for its out-of-fold fits)."""
    report = audit_frame(frame, task.target, task=task, schema=schema, time_column=time_column,
                         label_noise=label_probabilities is not None, label_probabilities=label_probabilities,
                         source=source, random_state=random_state)
    if report.blocking and not force:
        raise DataError(f"the audit of {source} found blocking problems (pass --force to train anyway)", [
            Problem(f.code, f.title, column=f.columns[0] if f.columns else None, fix=f.fix, examples=f.examples)
            for f in report.blocking])
    return report


def audit_file(path: str | Path, target: str, *, label_probabilities: LabelProbabilities | None = None,
               **kwargs: Any) -> tuple[AuditReport, pd.DataFrame]:
    """Load the file and ``audit_frame`` it (keywords as there); returns the report and the loaded frame."""
    frame = load_table(path)
    return audit_frame(frame, target, label_probabilities=label_probabilities, source=str(path), **kwargs), frame


def with_split_findings(report: AuditReport, split_findings: list[Finding]) -> AuditReport:
    return replace(report, findings=_ordered([*report.findings, *split_findings]),
                   checks=(*report.checks, "test rows with a twin in training"))


