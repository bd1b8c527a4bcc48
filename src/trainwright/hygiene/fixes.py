"""``apply_fixes``: the audit's safe fixes, written into a new file beside the original (never modified).

Drops real duplicate rows (not identical rows chance explains: ``data.collisions``), constant and identifier
columns, turns infinite feature values into missing ones, and records every change in a JSON file: each removed row
with its row number, the row it copies and why. Removing more than ``MAX_DROP_SHARE`` of the rows is refused unless
``allow_drop_rows``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.data.collisions import identical_rows
from trainwright.exceptions import DataError, Problem
from trainwright.fileio import atomic_output
from trainwright.hygiene.audit import AuditReport
from trainwright.hygiene.checks import infinite_mask

__all__ = ["MAX_DROP_SHARE", "FixResult", "apply_fixes"]

MAX_DROP_SHARE = 0.03  # removing more than 3% of the rows needs allow_drop_rows (--allow-drop-rows)


@dataclass(frozen=True)
class FixResult:
    cleaned: Path
    changes_file: Path
    changes: tuple[dict[str, Any], ...]
    n_rows_before: int
    n_rows_after: int

    @property
    def n_rows_removed(self) -> int:
        return self.n_rows_before - self.n_rows_after


def _duplicate_drops(frame: pd.DataFrame, report: AuditReport, random_state: int) -> list[dict[str, Any]]:
    """One change per real duplicate copy: its row number, the row it copies, and why."""
    if not report.by_code("duplicates.exact"):
        return []
    ident = identical_rows(frame, random_state=random_state)
    drop = ident.drop_mask()
    first = pd.Series(frame.index, index=ident.group).groupby(level=0).first()
    why = (f"identical in every column to an earlier row, beyond chance ({ident.n_identical} identical rows, about "
           f"{ident.n_expected:.0f} expected among independent records)")
    return [{"row": int(r), "copy_of": int(first[g]), "reason": why}
            for r, g in zip(frame.index[drop], ident.group[drop], strict=True)]


def apply_fixes(path: str | Path, frame: pd.DataFrame, report: AuditReport, *, allow_drop_rows: bool = False,
                random_state: int = 0) -> FixResult:
    """Drop real duplicates, constant and identifier columns, turn infinite feature values into missing ones; write
    ``<stem>.clean<suffix>`` and ``<stem>.clean.changes.json`` beside the original (which is not touched).

    Raises ``DataError`` (exit code 2) before writing anything when more than ``MAX_DROP_SHARE`` of the rows would go
    and ``allow_drop_rows`` is false."""
    path = Path(path)
    changes: list[dict[str, Any]] = []
    cleaned = frame
    drops = _duplicate_drops(frame, report, random_state)
    if len(drops) > MAX_DROP_SHARE * len(frame) and not allow_drop_rows:
        raise DataError(f"--fix would remove {len(drops)} of {len(frame)} rows ({len(drops) / len(frame):.1%}), more "
                        f"than {MAX_DROP_SHARE:.0%}; nothing was written", [Problem(
                            "audit.fix_drops_many_rows", f"{len(drops)} duplicate rows, e.g. rows "
                            f"{', '.join(str(d['row']) for d in drops[:5])}",
                            fix="look at the duplicates in the audit report; pass --allow-drop-rows to remove them")])
    if drops:
        gone = [d["row"] for d in drops]
        changes.append({"action": "drop_rows", "code": "duplicates.exact", "n_rows": len(drops), "rows": gone,
                        "why": drops[0]["reason"], "removed": drops})
        cleaned = cleaned.drop(index=gone)
    for code in ("column.constant", "column.identifier"):
        for f in report.by_code(code):
            cols = [c for c in f.columns if c in cleaned.columns and c != report.target]
            if cols:
                cleaned = cleaned.drop(columns=cols)
                changes.append({"action": "drop_column", "code": code, "column": cols[0], "why": f.title})
    if report.by_code("column.infinite"):
        inf = infinite_mask(cleaned, [c for c in cleaned.columns if c != report.target])
        if not inf.empty:
            cleaned = cleaned.copy()
            for col in inf.columns:
                at = inf[col].to_numpy()
                cleaned[col] = cleaned[col].where(~at)
                changes.append({"action": "infinite_to_missing", "code": "column.infinite", "column": str(col),
                                "rows": [int(r) for r in cleaned.index[at]], "why": "+inf/-inf is no usable value"})
    out = path.with_name(f"{path.name.split('.')[0]}.clean{''.join(path.suffixes) or '.csv'}")
    if out.resolve() == path.resolve():
        raise DataError("refusing to overwrite the original", [Problem("audit.fix_target", str(path))])
    _write_like(cleaned, out)
    record = {"source": str(path), "cleaned": str(out), "rows_before": len(frame), "rows_after": len(cleaned),
              "rows_removed": len(frame) - len(cleaned), "columns_before": list(frame.columns),
              "columns_after": list(cleaned.columns), "changes": changes}
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
