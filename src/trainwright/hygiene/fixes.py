"""``apply_fixes``: the audit's safe fixes, written into a new file beside the original (never modified).

Drops exact duplicate rows, constant and identifier columns, and records every change in a JSON file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.exceptions import DataError, Problem
from trainwright.fileio import atomic_output
from trainwright.hygiene.audit import AuditReport

__all__ = ["FixResult", "apply_fixes"]


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
    with atomic_output(changes_file) as tmp:
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return FixResult(out, changes_file, tuple(changes), len(frame), len(cleaned))


def _write_like(frame: pd.DataFrame, out: Path) -> None:
    suffix = out.suffix.lower()
    with atomic_output(out) as tmp:
        if suffix in {".parquet", ".pq"}:
            frame.to_parquet(tmp, index=False)
        elif suffix in {".jsonl", ".ndjson", ".json"}:
            frame.to_json(tmp, orient="records", lines=True)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if suffix in {".tsv", ".tab"} else ",")
