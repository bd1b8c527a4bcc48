"""Files written safely and described plainly: atomic writes, SHA-256 of a file, JSON without NaN.

The bottom layer (no project imports), so every layer writes its outputs the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "jsonable", "sha256_file"]


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: every NaN or infinite float becomes None (JSON has neither), through mappings
    (keys as strings), lists, tuples and NumPy arrays; NumPy scalars become Python numbers, paths strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "ndim"):  # a NumPy array or scalar, without importing NumPy
        return jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    return value


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Write to a temporary file beside ``path`` (same directory, so the rename is atomic); replace ``path`` only
    when the block succeeds; on any failure the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
