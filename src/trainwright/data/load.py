"""Read a table from CSV/TSV (delimiter and encoding sniffed), Parquet or JSON Lines."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from trainwright.data.reading import tidy_columns
from trainwright.exceptions import DataError, Problem, check_data_file
from trainwright.fileio import sha256_file

__all__ = ["file_fingerprint", "frame_fingerprint", "iter_table", "load_table", "sniff_csv"]

_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".gz", ".zip", ".bz2", ".xz"}
_PARQUET = {".parquet", ".pq"}
_JSONL = {".jsonl", ".ndjson", ".json"}
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def _fail(path: Path, message: str, fix: str) -> DataError:
    return DataError(f"cannot read {path}", [Problem("data.unreadable", message, fix=fix)])


def sniff_csv(path: Path) -> tuple[str, str]:
    """Return (delimiter, encoding) guessed from the first 64 KiB of a text file."""
    raw = path.read_bytes()[:65536] if path.suffix not in {".gz", ".zip", ".bz2", ".xz"} else b""
    if not raw:
        return ",", "utf-8-sig"
    if b"\x00" in raw:  # text files never hold NUL bytes: an Excel/zip/UTF-16 file named .csv
        raise _fail(path, "the file is binary, not delimited text (it holds NUL bytes)",
                    "export it as UTF-8 CSV, Parquet or JSON Lines")
    encoding = "latin-1"
    for candidate in _ENCODINGS:
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            # the cut may fall inside a multi-byte character: retry without the last bytes
            try:
                text = raw[:-3].decode(candidate)
            except UnicodeDecodeError:
                continue
        encoding = candidate
        break
    else:
        text = raw.decode("latin-1")
    lines = text.splitlines()[:50]
    sample = "\n".join(lines)
    if path.suffix in {".tsv", ".tab"}:
        return "\t", encoding
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"} if lines else {",": 0}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return delimiter, encoding


def _read_shards(files: list[Path]) -> pd.DataFrame:
    try:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise DataError(f"cannot read the Parquet files in {files[0].parent}", [Problem(
            "data.unreadable", f"{type(exc).__name__}: {str(exc)[:160]}",
            fix="check that every shard is a Parquet file of the same table")]) from None


def load_table(path: str | Path) -> pd.DataFrame:
    """Load a whole table; every failure is a DataError naming the file and the fix."""
    path = Path(path)
    check_data_file(path)
    if path.is_dir():
        from trainwright.data.shards import parquet_files

        shards = parquet_files(path)
        if shards:  # Parquet shards of one table, read whole (--backend ray reads them in pieces instead)
            return _read_shards(shards)
        return read_media_folder(path)  # a folder of class folders of images or audio clips: (path, label)
    suffix = path.suffix.lower()
    delimiter = encoding = None
    try:
        if suffix in _PARQUET:
            frame = pd.read_parquet(path)
        elif suffix in _JSONL:
            frame = pd.read_json(path, lines=True)
        else:
            delimiter, encoding = sniff_csv(path)
            frame = pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, f"parse error: {first}", "check that the file is a well-formed CSV, Parquet or JSON Lines file") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise _fail(path, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", "check the file format") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"data file has no rows: {path}", [Problem("data.empty", f"{frame.shape[1]} columns, 0 rows", fix="check the export that wrote it")])
    frame = tidy_columns(frame, path=path, delimiter=delimiter, encoding=encoding)  # renames said out loud
    return resolve_media_columns(frame, path.parent)  # relative image/clip paths are relative to the file's folder


def read_media_folder(path: Path) -> pd.DataFrame:
    """A folder of class folders (or a flat folder) of audio clips or of images -> a table of paths (and labels)."""
    from trainwright.data.audio import is_audio_folder, read_audio_folder
    from trainwright.data.images import read_image_folder

    return read_audio_folder(path) if is_audio_folder(path) else read_image_folder(path)


def resolve_media_columns(frame: pd.DataFrame, base: Path) -> pd.DataFrame:
    """Image and audio path columns made absolute against ``base`` and their files checked."""
    from trainwright.data.audio import resolve_audio_columns
    from trainwright.data.images import resolve_image_columns

    return resolve_audio_columns(resolve_image_columns(frame, base), base)


def iter_table(path: str | Path, chunksize: int = 100_000) -> Iterator[pd.DataFrame]:
    """Stream a table in chunks (CSV/TSV and JSON Lines stream; Parquet by row group)."""
    path = Path(path)
    check_data_file(path)
    if path.is_dir():  # a flat folder of images or clips (or class folders): one row per file
        frame = read_media_folder(path)
        for start in range(0, len(frame), chunksize):
            yield frame.iloc[start:start + chunksize]
        return
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_size=chunksize):
                yield batch.to_pandas()
        return
    if suffix in _JSONL:
        with pd.read_json(path, lines=True, chunksize=chunksize) as json_reader:
            yield from json_reader
        return
    delimiter, encoding = sniff_csv(path)
    try:  # readers as context managers: the file is closed even when the consumer stops early or fails
        with pd.read_csv(path, sep=delimiter, encoding=encoding, chunksize=chunksize, low_memory=False) as reader:
            for i, chunk in enumerate(reader):
                chunk = tidy_columns(chunk, path=path, delimiter=delimiter, encoding=encoding, warn=i == 0)
                yield resolve_media_columns(chunk, path.parent)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _fail(path, f"parse error: {str(exc).splitlines()[0]}", "check that the file is well-formed") from None


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of the file's bytes; for a folder of images or clips, of each file's relative path and SHA-256 in order."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}:{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the loaded frame: column names, dtypes and a hash of every row."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
