"""The data doctor: checks a labelled table before any model sees it, and applies the safe fixes.

``audit_frame`` returns an ``AuditReport`` of Findings (code, severity info/warning/blocking, columns, rows,
examples, the rule that fired and the fix). ``audit_split`` adds the twin check once a split exists.
``apply_fixes`` drops exact duplicates, constant and identifier columns into a new file beside the original and
records every change; the original is never modified.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data import audit_checks as checks
from trainwright.data.audit_checks import Finding
from trainwright.data.load import load_table
from trainwright.data.schema import Role, Schema, infer_schema
from trainwright.data.split import Split, row_hashes, rows_of
from trainwright.data.task import Task, infer_task
from trainwright.data.validate import check_columns, check_target
from trainwright.exceptions import DataError, Problem

__all__ = ["SEVERITIES", "AuditReport", "Finding", "FixResult", "apply_fixes", "audit_file", "audit_frame",
           "audit_split", "preflight", "split_twins", "with_split_findings"]

SEVERITIES = ("blocking", "warning", "info")
SAMPLE_ROWS = 20_000  # leakage, correlation and outlier checks read at most this many rows
NEAR_TWIN_DECIMALS = 2  # numbers rounded to 0.01 standard deviations decide "near-identical"
HASH_CHUNK_ROWS = 100_000


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
                if p.code in {"target.all_missing", "target.one_class"}]
    if findings or task is not None:
        return task, findings
    try:
        return infer_task(frame[target]), findings
    except DataError as exc:
        return None, [Finding(p.code, "blocking", p.message, columns=(target,), fix=p.fix or "") for p in exc.problems]


def audit_frame(frame: pd.DataFrame, target: str, *, task: Task | None = None, schema: Schema | None = None,
                time_column: str | None = None, label_noise: bool = True, label_model: str = "logistic",
                source: str = "<DataFrame>", random_state: int = 0) -> AuditReport:
    """Run every check that applies. ``label_noise=False`` skips the (slower) cleanlab check."""
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
        if time_column:
            findings += checks.target_drift(labelled[time_column], labelled[target], task.is_classification)
            ran.append("target drift over time")
        if not task.is_classification:
            skipped.append("label noise: only for classification targets")
        elif not label_noise:
            skipped.append("label noise: skipped in the pre-flight audit (run 'trainwright audit' for it)")
        else:
            findings += _label_issues(labelled, task, schema, label_model, random_state, ran, extra, findings)
    return AuditReport(source=source, target=target, n_rows=len(frame), n_columns=frame.shape[1],
                       task=task.kind.value if task else "unknown", findings=_ordered(findings), checks=tuple(ran),
                       skipped=tuple(skipped), seconds=round(time.perf_counter() - start, 3), extra=extra)


def _content_checks(frame: pd.DataFrame, task: Task, schema: Schema, ran: list[str], random_state: int) -> list[Finding]:
    target = task.target
    columns = [c.name for c in schema.columns]
    findings = checks.duplicates(frame, target, columns)
    findings += checks.column_findings(frame, schema)
    ran += ["exact and conflicting duplicates", "constant, identifier-like, missing, high-cardinality columns"]
    sample = _sample(frame, SAMPLE_ROWS, random_state)
    y = task.encode(sample[target]) if task.is_classification else pd.to_numeric(sample[target], errors="coerce").to_numpy(dtype=float)
    ids = checks.identifier_like(frame, schema)
    usable = [c.name for c in schema.columns if c.n_unique > 1 and c.name not in ids and c.role is not Role.IGNORED]
    findings += checks.leakage(sample, target, y, task.is_classification, usable)
    findings += checks.identifier_runs_with_target(sample, ids, y, task.is_classification)
    numeric = sample[schema.names(Role.NUMERIC)].apply(pd.to_numeric, errors="coerce").astype(float)
    findings += checks.collinear_pairs(numeric, y if not task.is_classification or len(task.classes) == 2 else None)
    findings += checks.outliers(numeric)
    ran += ["leakage (single column, identifier order)", "collinear numeric pairs", "numeric outliers"]
    if task.is_classification:
        findings += checks.class_imbalance(frame[target], task.metric)
        ran.append("class imbalance")
    return findings


def _label_issues(frame: pd.DataFrame, task: Task, schema: Schema, model: str, random_state: int, ran: list[str],
                  extra: dict[str, Any], findings: list[Finding]) -> list[Finding]:
    from trainwright.data.label_noise import find_label_issues

    y = task.encode(frame[task.target])
    # suspects of leakage and identifiers would let the model learn the given labels, errors included
    leave_out = {c for f in findings if f.code.startswith("leakage.") or f.code == "column.identifier" for c in f.columns}
    numeric = [c for c in schema.names(Role.NUMERIC) if c not in leave_out]
    categorical = [c for c in schema.names(Role.CATEGORICAL) if c not in leave_out]
    rows, n_checked = find_label_issues(frame, y, numeric, categorical, model=model, random_state=random_state)
    ran.append(f"label noise (cleanlab, out-of-fold {model}, {n_checked} rows)")
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


def _near_hashes(part: pd.DataFrame, numeric: list[str], scale: pd.Series) -> np.ndarray:
    """Row hashes with numbers rounded to 0.01 sd, a chunk of rows at a time (no rounded copy of the whole part)."""
    out = np.empty(len(part), dtype=np.uint64)
    for start in range(0, len(part), HASH_CHUNK_ROWS):
        chunk = part.iloc[start:start + HASH_CHUNK_ROWS].copy()
        chunk[numeric] = (chunk[numeric] / scale).round(NEAR_TWIN_DECIMALS)
        out[start:start + len(chunk)] = row_hashes(chunk)
    return out


def audit_split(X: pd.DataFrame, split: Split) -> list[Finding]:
    """Test rows with an identical or near-identical twin (numbers rounded to 0.01 sd) among training rows."""
    train, _ = rows_of(X, np.concatenate([split.train, split.validation]))
    test, _ = rows_of(X, split.test)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    scale = pd.Series({c: train[c].std() for c in numeric}, dtype=float).replace(0, 1).fillna(1)
    train_near, test_near = _near_hashes(train, numeric, scale), _near_hashes(test, numeric, scale)
    near = np.isin(test_near, train_near)
    exact = np.zeros(len(test), dtype=bool)  # identical rows also round alike: look only among near twins
    if near.any():
        candidates = train.loc[np.isin(train_near, test_near[near])]
        exact[near] = np.isin(row_hashes(test.loc[near]), row_hashes(candidates))
    near &= ~exact
    out = []
    for mask, code, what in ((exact, "split.test_twins", "identical"), (near, "split.test_near_twins", "near-identical")):
        n = int(mask.sum())
        if n:
            severity = "warning" if code == "split.test_twins" or n / len(test) >= 0.01 else "info"
            out.append(Finding(code, severity, f"{n} test rows have an {what} twin in training",
                               f"{n / len(test):.1%} of the test part; its score overstates performance on new rows",
                               rows=tuple(int(r) for r in test.index[mask][:200]), n_rows=n,
                               fix="remove the twins, or split by a group column (--group-column)",
                               rule=f"feature hash equal{' after rounding numbers to 0.01 sd' if what != 'identical' else ''}"))
    return out


def preflight(frame: pd.DataFrame, task: Task, schema: Schema, *, force: bool, time_column: str | None = None,
              source: str = "<DataFrame>", random_state: int = 0) -> AuditReport:
    """The audit ``train`` runs first (no label-noise check). Blocking findings stop it unless ``force``."""
    report = audit_frame(frame, task.target, task=task, schema=schema, time_column=time_column, label_noise=False,
                         source=source, random_state=random_state)
    if report.blocking and not force:
        raise DataError(f"the audit of {source} found blocking problems (pass --force to train anyway)", [
            Problem(f.code, f.title, column=f.columns[0] if f.columns else None, fix=f.fix, examples=f.examples)
            for f in report.blocking])
    return report


def audit_file(path: str | Path, target: str, **kwargs: Any) -> tuple[AuditReport, pd.DataFrame]:
    frame = load_table(path)
    return audit_frame(frame, target, source=str(path), **kwargs), frame


@dataclass(frozen=True)
class FixResult:
    cleaned: Path
    changes_file: Path
    changes: tuple[dict[str, Any], ...]
    n_rows_before: int
    n_rows_after: int


def apply_fixes(path: str | Path, frame: pd.DataFrame, report: AuditReport) -> FixResult:
    """Drop exact duplicates, constant and identifier columns; write ``<stem>.clean<suffix>`` and
    ``<stem>.clean.changes.json`` beside the original. The original file is not touched."""
    path = Path(path)
    changes: list[dict[str, Any]] = []
    cleaned = frame
    for f in report.by_code("duplicates.exact"):
        dup = pd.util.hash_pandas_object(cleaned, index=False).duplicated(keep="first").to_numpy()
        changes.append({"action": "drop_rows", "code": f.code, "rows": [int(i) for i in cleaned.index[dup]],
                        "why": f.title})
        cleaned = cleaned.loc[~dup]
    for code in ("column.constant", "column.identifier"):
        for f in report.by_code(code):
            cols = [c for c in f.columns if c in cleaned.columns and c != report.target]
            if cols:
                cleaned = cleaned.drop(columns=cols)
                changes.append({"action": "drop_column", "code": code, "column": cols[0], "why": f.title})
    out = path.with_name(f"{path.name.split('.')[0]}.clean{''.join(path.suffixes) or '.csv'}")
    if out.resolve() == path.resolve():
        raise DataError("refusing to overwrite the original", [Problem("audit.fix_target", str(path))])
    _write_like(cleaned, out)
    record = {"source": str(path), "cleaned": str(out), "rows_before": len(frame), "rows_after": len(cleaned),
              "columns_before": list(frame.columns), "columns_after": list(cleaned.columns), "changes": changes}
    changes_file = out.with_name(f"{path.name.split('.')[0]}.clean.changes.json")
    changes_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return FixResult(out, changes_file, tuple(changes), len(frame), len(cleaned))


def _write_like(frame: pd.DataFrame, out: Path) -> None:
    tmp = out.with_name(out.name + ".partial")
    suffix = out.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        frame.to_parquet(tmp, index=False)
    elif suffix in {".jsonl", ".ndjson", ".json"}:
        frame.to_json(tmp, orient="records", lines=True)
    else:
        frame.to_csv(tmp, index=False, sep="\t" if suffix in {".tsv", ".tab"} else ",")
    tmp.replace(out)


def with_split_findings(report: AuditReport, split_findings: list[Finding]) -> AuditReport:
    return replace(report, findings=_ordered([*report.findings, *split_findings]),
                   checks=(*report.checks, "test rows with a twin in training"))


def split_twins(frame: pd.DataFrame, report: AuditReport, *, time_column: str | None = None,
                random_state: int = 0) -> AuditReport:
    """Split ``frame`` the way ``train`` would (default fractions) and add the twin check to ``report``."""
    from trainwright.data.schema import coerce_frame
    from trainwright.data.split import make_split

    if report.task == "unknown":
        return report
    labelled = frame.loc[frame[report.target].notna()]
    task = infer_task(labelled[report.target])
    counts = labelled[report.target].value_counts()
    if task.is_classification and counts.min() < 3:
        return replace(report, skipped=(*report.skipped, "split twins: a class has fewer than 3 rows"))
    schema = infer_schema(labelled, report.target)
    X = coerce_frame(labelled, schema, strict=False)
    y = pd.Series(task.encode(labelled[report.target]), index=X.index)
    split = make_split(X, y, classification=task.is_classification, random_state=random_state,
                       time=labelled[time_column] if time_column else None)
    return with_split_findings(replace(report, extra={**report.extra, "split": split.sizes,
                                                       "contamination": split.contamination}), audit_split(X, split))
