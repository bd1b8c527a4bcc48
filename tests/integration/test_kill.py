"""Real ``kill -9`` of a real ``trainwright train`` at five moments, on one store and one output folder.

Each kill waits for something a user could see (a file appearing, a file the process holds open, a line on
stdout), then kills the whole process group (the writer process too: nothing gets to tidy up) or, once, only the
training process (the writer then marks the run KILLED itself). Afterwards the store opens, ``trainwright runs``
works, the next ``train`` finishes, marks the runs whose processes are gone as KILLED and removes the folders
they left, and nothing partial is left in the output folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ARGS = ("--target", "y", "--preset", "quick", "--models", "dummy,linear", "--seed", "0")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TRAINWRIGHT_TRACKING", "MLFLOW_TRACKING_URI"}}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


def _data(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5))
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["city"] = rng.choice(["x", "y", "z"], n)
    frame["y"] = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


class Train:
    """``trainwright train`` in its own process group, its stdout collected line by line."""

    def __init__(self, home: Path, data: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "trainwright", "train", str(data), *ARGS], cwd=home,
                                     env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line)

    def wait_for(self, seen: Callable[[], bool], timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while not seen():
            assert self.proc.poll() is None, ("finished before the kill point", "".join(self.lines)[-3000:])
            assert time.monotonic() < end, ("kill point never reached", "".join(self.lines)[-3000:])
            time.sleep(0.002)

    def kill(self, *, group: bool = True) -> None:
        if group:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        end = time.monotonic() + 60  # what is left of the group (the writer) finishes on its own, or is killed
        while time.monotonic() < end:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(self.proc.pid, signal.SIGKILL)


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def _parents(home: Path) -> dict[str, str]:
    from trainwright.tracking import Store

    if not (home / "mlflow.db").exists():
        return {}
    store = Store(f"sqlite:///{home / 'mlflow.db'}").open(create=False)
    runs = store.client.search_runs([store.experiment_id], filter_string="tags.`trainwright.kind` = 'parent'")
    return {r.info.run_name: r.info.status for r in runs}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc for the data file being read")
def test_kill_9_at_five_moments_leaves_a_usable_store_and_no_partial_output(tmp_path):
    small, big = _data(tmp_path / "d.csv", 400), _data(tmp_path / "big.csv", 150_000)
    home = tmp_path / "work"
    home.mkdir()
    runs = home / "runs"
    ended: dict[str, str] = {}
    seen: dict[str, str] = {}

    def record(point: str) -> None:
        now = _parents(home)
        new = {k: v for k, v in now.items() if k not in seen}
        seen.update(now)
        partial = sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []
        ended[point] = f"store={'yes' if (home / 'mlflow.db').exists() else 'no'} new runs={new} runs/={partial}"

    # 1. store creation: the fresh store is being made under its temporary name
    t = Train(home, small)
    t.wait_for(lambda: any(home.glob(".mlflow.db.creating-*")))
    t.kill()
    record("store creation")

    # 2. data loading: the process holds the data file open
    t = Train(home, big)
    t.wait_for(lambda: _holds_open(t.proc.pid, big))
    t.kill()
    record("data loading")

    # 3. mid-ladder: the first candidate's line is out; only the training process is killed, and the writer
    # process, finding the pipe closed, marks the run KILLED itself
    t = Train(home, small)
    t.wait_for(lambda: any(line.strip().startswith("dummy") for line in t.lines))
    t.kill(group=False)
    record("mid-ladder")
    assert list(seen.values()) == ["KILLED"], ended

    # 4. bundle writing: the model folder is being written inside the hidden partial run folder
    t = Train(home, small)
    t.wait_for(lambda: runs.is_dir() and any(runs.glob(".*.partial/.model.*")))  # the bundle's own temporary
    t.kill()
    record("bundle writing")
    assert any(runs.glob(".*.partial")), "the kill came too late to leave a partial folder"

    # 5. MLflow logging: the model is being copied into the store's artifacts
    t = Train(home, small)
    t.wait_for(lambda: any(p.name == "MLmodel" or "model" in p.parts for p in (home / "mlartifacts").rglob("*")))
    t.kill()
    record("MLflow logging")
    assert "RUNNING" in ended["MLflow logging"], ended  # nobody left to mark it: the next run must

    # after all five: the store opens and lists, then a clean run finishes and clears up after the killed ones
    from tests.integration.cli import run_cli

    listed = run_cli("runs", cwd=home)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    done = subprocess.run([sys.executable, "-m", "trainwright", "train", str(small), *ARGS], cwd=home, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    statuses = _parents(home)
    assert list(statuses.values()).count("FINISHED") == 1, statuses
    assert "RUNNING" not in statuses.values(), statuses
    assert list(statuses.values()).count("KILLED") == len(statuses) - 1, statuses
    leftovers = [p for p in runs.iterdir() if p.name.startswith(".") or not (p / "run.json").is_file()]
    assert leftovers == [], leftovers
    assert not list(runs.rglob("*.tmp")) and not list(runs.rglob(".owner"))
    assert not list(home.glob(".mlflow.db.creating-*"))
    listed = run_cli("runs", cwd=home)
    assert listed.returncode == 0 and "KILLED" in listed.stdout, listed.stdout
    record("after a clean run")
    print("\n".join(f"{k}: {v}" for k, v in ended.items()))
