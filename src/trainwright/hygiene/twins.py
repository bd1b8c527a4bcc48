"""Test rows with a twin in training: identical, or near-identical with numbers rounded to 0.01 standard deviations.

``audit_split`` checks a split that exists; ``split_twins`` splits a frame the way ``train`` would and adds the
check to an audit report.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from trainwright.data.schema import coerce_frame, infer_schema
from trainwright.data.split import Split, make_split, row_hashes, rows_of
from trainwright.data.task import infer_task
from trainwright.hygiene.audit import AuditReport, with_split_findings
from trainwright.hygiene.checks import Finding

__all__ = ["audit_split", "balance_findings", "split_twins"]

NEAR_TWIN_DECIMALS = 2  # numbers rounded to 0.01 standard deviations decide "near-identical"
HASH_CHUNK_ROWS = 100_000


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
    chance = split.identical.get("verdict") == "expected by chance"
    for mask, code, what in ((exact, "split.test_twins", "identical"), (near, "split.test_near_twins", "near-identical")):
        n = int(mask.sum())
        if not n:
            continue
        rule = f"feature hash equal{' after rounding numbers to 0.01 sd' if what != 'identical' else ''}"
        if chance:  # few, low-information columns: new records will share rows with training ones just as often
            ident = split.identical
            out.append(Finding(code, "info", f"{n} test rows have an {what} twin in training, as expected by chance",
                               f"{n / len(test):.1%} of the test part; {ident.get('identical_rows')} rows of the file "
                               f"are identical to another and independent records would give about "
                               f"{ident.get('expected_by_chance')}: new records will match training rows as often, so "
                               "the test score is not inflated by them", rows=tuple(int(r) for r in test.index[mask][:200]),
                               n_rows=n, fix="nothing to do", rule=f"{rule}; identical rows within chance",
                               extra={"identical_rows": ident}))
            continue
        severity = "warning" if code == "split.test_twins" or n / len(test) >= 0.01 else "info"
        out.append(Finding(code, severity, f"{n} test rows have an {what} twin in training",
                           f"{n / len(test):.1%} of the test part; its score overstates performance on new rows",
                           rows=tuple(int(r) for r in test.index[mask][:200]), n_rows=n,
                           fix="remove the twins, or split by a group column (--group-column)", rule=rule))
    return out + balance_findings(split)


def balance_findings(split: Split) -> list[Finding]:
    """A warning per part and column that differs from the file beyond noise (see ``data.balance``)."""
    out = []
    for t in split.balance.get("differs", []):
        what = "class shares" if t["what"] == "target" else t["what"]
        out.append(Finding("split.unrepresentative", "warning",
                           f"the {t['part']} part's '{t['column']}' {what} differs from the file",
                           f"{t['gap']:.3f} ({t['measure']}), beyond noise (Holm-corrected p = {t['p_holm']:.2g}); "
                           f"scores on this part describe a different population", columns=(t["column"],),
                           fix="check the split (groups, time order), or use another seed",
                           rule=split.balance.get("rule", ""), extra=t))
    return out


def split_twins(frame: pd.DataFrame, report: AuditReport, *, time_column: str | None = None,
                random_state: int = 0) -> AuditReport:
    """Split ``frame`` the way ``train`` would (default fractions) and add the twin check to ``report``."""
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
                                                       "contamination": split.contamination,
                                                       "split_achieved": split.achieved}), audit_split(X, split))
