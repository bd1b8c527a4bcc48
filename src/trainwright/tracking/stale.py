"""What a killed run leaves behind, found and cleared by the next run.

A run records who owns it: the MLflow parent run gets the training and writer processes' ids, the host and their
start times as tags; the hidden ``runs/.<id>.partial/`` folder and the run folder (until ``run.json`` is written)
hold an ``.owner`` file with the same. A later ``train`` marks RUNNING runs whose processes are all gone as KILLED
and removes the folders they left. A process on another host is never judged: it is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

__all__ = ["OWNER_FILE", "is_gone", "mark_stale_runs", "owner", "run_owner_tags", "sweep_run_folders", "write_owner"]

OWNER_FILE = ".owner"
_PID_TAG, _WRITER_TAG, _HOST_TAG = "trainwright.pid", "trainwright.writer_pid", "trainwright.host"
_MIN_AGE_S = 2.0  # a folder younger than this may belong to a run that has not written its owner file yet
_NO_OWNER_AGE_S = 10.0  # a hidden partial folder this old without an owner file was left by a kill


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for the owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def owner(pid: int | None = None) -> dict[str, Any]:
    """Who owns a run: this process (or ``pid``) on this host."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "host": socket.gethostname(), "started": _started(pid)}


def is_gone(info: dict[str, Any]) -> bool:
    """True when the process in ``info`` (from ``owner``) is known to be gone: same host, and no process with that
    id, or one started at another time. False for another host or anything unclear."""
    try:
        pid = int(info.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0 or info.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by someone else
    started = str(info.get("started") or "")
    return bool(started) and started != _started(pid)


def write_owner(folder: Path) -> None:
    (Path(folder) / OWNER_FILE).write_text(json.dumps(owner()), encoding="utf-8")


def _folder_gone(folder: Path, age: float) -> bool:
    marker = folder / OWNER_FILE
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:  # the owner file follows the folder's creation at once: only a kill in between
        return age > _NO_OWNER_AGE_S  # (or a run of a version before owner files) leaves a folder without one
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and is_gone(info)


def sweep_run_folders(output_dir: str | Path) -> list[Path]:
    """Remove the hidden ``.<id>.partial`` folders and the unfinished run folders (an ``.owner`` file, no
    ``run.json``) whose process is gone. Returns what was removed; never raises."""
    removed: list[Path] = []
    root = Path(output_dir)
    try:
        folders = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return removed
    now = time.time()
    for folder in folders:
        partial = folder.name.startswith(".") and folder.name.endswith(".partial")
        unfinished = (folder / OWNER_FILE).is_file() and not (folder / "run.json").exists()  # killed in analysis
        if not (partial or unfinished):
            continue
        try:
            age = now - folder.stat().st_mtime
        except OSError:
            continue
        if age >= _MIN_AGE_S and _folder_gone(folder, age):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def run_owner_tags(trainer_pid: int) -> dict[str, str]:
    """The tags that say which processes own a parent run: the training process and this writer process."""
    trainer, writer = owner(trainer_pid), owner()
    return {_PID_TAG: str(trainer["pid"]), _WRITER_TAG: str(writer["pid"]), _HOST_TAG: trainer["host"],
            "trainwright.pid_started": trainer["started"], "trainwright.writer_started": writer["started"]}


def mark_stale_runs(client: Any, experiment_id: str, *, skip: str | None = None) -> list[str]:
    """Mark RUNNING parent runs whose training and writer processes are both gone as KILLED. Returns their ids."""
    runs = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=500)
    marked = []
    for run in runs:
        tags = run.data.tags
        if run.info.run_id == skip or _PID_TAG not in tags:
            continue
        host = tags.get(_HOST_TAG)
        trainer = {"pid": tags.get(_PID_TAG), "host": host, "started": tags.get("trainwright.pid_started")}
        writer = {"pid": tags.get(_WRITER_TAG), "host": host, "started": tags.get("trainwright.writer_started")}
        if is_gone(trainer) and is_gone(writer):
            client.set_tag(run.info.run_id, "trainwright.error",
                           "its process was gone when a later run started (killed, or the machine stopped)")
            client.set_terminated(run.info.run_id, "KILLED")
            marked.append(run.info.run_id)
    return marked
