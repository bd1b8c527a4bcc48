"""What killed runs leave behind: owner records, the sweep of run folders and store runs, the half-made store."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainwright.tracking.stale import (
    OWNER_FILE,
    is_gone,
    mark_stale_runs,
    owner,
    run_owner_tags,
    sweep_run_folders,
    write_owner,
)
from trainwright.tracking.store import Store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _aged(path: Path, seconds: float = 60) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_live_process_is_not_gone_a_dead_one_is_and_another_host_is_never_judged():
    assert not is_gone(owner())
    assert is_gone(owner(_dead_pid()) | {"started": ""})
    assert not is_gone({**owner(_dead_pid()), "host": "another-machine"})
    assert is_gone({**owner(), "started": "1"})  # this pid, but started at another time: a reused pid
    assert not is_gone({"pid": "x"}) and not is_gone({})


def test_sweep_removes_folders_of_gone_processes_only(tmp_path):
    live = tmp_path / ".live.partial"
    live.mkdir()
    write_owner(live)
    dead = tmp_path / ".dead.partial"
    dead.mkdir()
    (dead / OWNER_FILE).write_text(json.dumps(owner(_dead_pid()) | {"started": ""}))
    ownerless = tmp_path / ".old.partial"
    ownerless.mkdir()
    unfinished = tmp_path / "20260101-000000-aaaaaa"  # renamed into place, killed before run.json
    unfinished.mkdir()
    (unfinished / OWNER_FILE).write_text(json.dumps(owner(_dead_pid()) | {"started": ""}))
    finished = tmp_path / "20260101-000000-bbbbbb"
    finished.mkdir()
    (finished / "run.json").write_text("{}")
    young = tmp_path / ".young.partial"
    young.mkdir()
    for folder in (live, dead, ownerless, unfinished, finished):
        _aged(folder)
    removed = sweep_run_folders(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead.name, ownerless.name, unfinished.name])
    assert live.is_dir() and finished.is_dir() and young.is_dir()
    assert sweep_run_folders(tmp_path / "absent") == []


def test_running_runs_whose_processes_are_gone_are_marked_killed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'mlflow.db'}").open()
    client = store.client
    dead = _dead_pid()
    tags = {k: v for k, v in run_owner_tags(dead).items()}
    tags.update({"trainwright.writer_pid": str(dead), "trainwright.writer_started": ""})
    stale = client.create_run(store.experiment_id, tags={**tags, "trainwright.kind": "parent"}).info.run_id
    alive = client.create_run(store.experiment_id, tags={**run_owner_tags(os.getpid()),
                                                         "trainwright.kind": "parent"}).info.run_id
    untagged = client.create_run(store.experiment_id).info.run_id
    assert mark_stale_runs(client, store.experiment_id) == [stale]
    assert client.get_run(stale).info.status == "KILLED"
    assert "gone" in client.get_run(stale).data.tags["trainwright.error"]
    assert client.get_run(alive).info.status == "RUNNING" and client.get_run(untagged).info.status == "RUNNING"


def test_a_store_left_half_made_by_a_kill_is_moved_aside_and_made_again(tmp_path):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:  # what a kill during MLflow's migrations left (before stores were renamed in)
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('451aebb31d03')")
        conn.execute("CREATE TABLE _alembic_tmp_experiments (x INTEGER)")
    with pytest.warns(RuntimeWarning, match="half-made"):
        store = Store(f"sqlite:///{db}").open()
    assert store.experiment_id
    assert len(list(tmp_path.glob("mlflow.db.broken-*"))) == 1
    assert not list(tmp_path.glob(".mlflow.db.creating-*"))
    assert Store(f"sqlite:///{db}").open(create=False).experiment_id == store.experiment_id
