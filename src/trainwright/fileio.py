"""Files written safely and described plainly: atomic writes, SHA-256 of a file, JSON without NaN.

The bottom layer (no project imports), so every layer writes its outputs the same way.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import math
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "jsonable", "sha256_file", "sweep_temporaries"]


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


def _owner_alive(owner_and_random: str) -> bool:
    """Whether the process named in a temporary file's name (``.<target>.<host>-<pid>.<random>.tmp``, given here
    without the target and the suffix) may still be writing it: True for another host's or an unreadable name
    (never judged), False for a process of this host that is gone."""
    owner = owner_and_random.rpartition(".")[0]
    host, _, pid = owner.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's live process
        return True
    return True


def sweep_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left beside it (their process is gone).
    Returns what was removed."""
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if not _owner_alive(leftover.name[len(path.name) + 2:-len(".tmp")]):
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    removed.append(leftover)
    return removed


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Write to a temporary file beside ``path`` (same directory, so the rename is atomic); replace ``path`` only
    when the block succeeds; on any failure the temporary file is removed and ``path`` is untouched. The temporary
    name carries this host and process id, so the next writer of ``path`` removes what a killed one left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(path)
    owner = f"{socket.gethostname()}-{os.getpid()}"
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{owner}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
