"""A dataset larger than one process: a directory (or a glob) of Parquet files, read in pieces, never gathered.

What this module gives, without Ray (Ray Data does the reading at scale in ``training/data_parallel.py``):
- which inputs are such a dataset (``parquet_files``): a directory holding ``*.parquet`` files (Hive-style
  sub-folders included) and no class folders of images, or a glob pattern matching Parquet files;
- a bounded sample of rows for the schema, the task and the preprocessor (``read_sample``);
- a split that needs no row numbers (``hash_parts``): each row's part comes from a stable hash of its key columns,
  or of its feature values when no key is named, so twins (identical feature rows) land in one part wherever they
  sit among the shards, and the same row gets the same part in every process and every run.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pandas as pd

from trainwright.exceptions import DataError, Problem

__all__ = ["PARTS", "PART_COLUMN", "hash_parts", "parquet_files", "read_sample"]

PART_COLUMN = "__trainwright_part__"
PARTS = ("train", "validation", "test")


def parquet_files(source: str | Path) -> list[Path] | None:
    """The Parquet files of a sharded dataset, sorted; None when ``source`` is not one (a single file, a CSV, a
    folder of images)."""
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if p.endswith(".parquet"))
        if not files:
            raise DataError(f"no Parquet files match {text}", [Problem(
                "data.no_shards", "the pattern matched no *.parquet file", fix="check the pattern, e.g. 'shards/*.parquet'")])
        return files
    path = Path(source)
    if not path.is_dir():
        return None
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file() and not any(
        part.startswith((".", "_")) for part in p.relative_to(path).parts))
    return files or None


def read_sample(files: list[Path], rows: int = 50_000) -> pd.DataFrame:
    """Up to ``rows`` rows, taken evenly from every file (first rows of each), as one frame. Reads only the row
    groups it needs (pyarrow), so a sample of a terabyte costs what the sample costs."""
    import pyarrow.parquet as pq

    per_file = max(1, rows // len(files))
    pieces = []
    for file in files:
        try:
            reader = pq.ParquetFile(file)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise DataError(f"cannot read the Parquet file {file}", [Problem(
                "data.unreadable_shard", f"{type(exc).__name__}: {str(exc)[:160]}", column=str(file),
                fix="remove or replace the file")]) from None
        taken = 0
        for batch in reader.iter_batches(batch_size=min(per_file, 65_536)):
            pieces.append(batch.to_pandas())
            taken += batch.num_rows
            if taken >= per_file:
                break
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    return frame.iloc[:rows].reset_index(drop=True)


def hash_parts(frame: pd.DataFrame, columns: list[str], fractions: tuple[float, float, float], seed: int = 0) -> np.ndarray:
    """Each row's part (0 train, 1 validation, 2 test) from a stable 64-bit hash of ``columns`` (values and
    their order; the index plays no part), salted with ``seed``. Fractions are the parts' expected shares."""
    if len(columns) == 0:
        raise ValueError("hash_parts needs at least one column")
    hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(dtype=np.uint64)
    # pandas' hash key salts text only: the seed is mixed into every hash instead (splitmix64's finaliser)
    salted = _mix(hashed ^ _mix(np.array([abs(int(seed))], dtype=np.uint64))[0])
    unit = (salted >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # uniform in [0, 1)
    train, validation, _ = fractions
    return np.where(unit < train, 0, np.where(unit < train + validation, 1, 2)).astype(np.int8)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64 arithmetic wraps)."""
    h = h.astype(np.uint64, copy=True)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h
