"""The Ray backend for real: the ladder and its cross-validation as Ray tasks, on a local Ray the run starts on
loopback and on a Ray head started with ``ray start --head`` that the CLI joins; the same leaderboard as the local
backend; every Ray listener on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path

COMMON = {"preset": "quick", "models": ("dummy", "linear", "lightgbm"), "workers": 2, "time_budget": 900}
RAY_CLI = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory):
    from trainwright.workflow import train

    return train(dataset_path("penguins"), "species", output_dir=str(tmp_path_factory.mktemp("local")), **COMMON)


def test_a_local_ray_on_loopback_gives_the_local_leaderboard(local_run, tmp_path: Path) -> None:
    from trainwright.workflow import train

    seen: list[str] = []

    def listeners_while_running(event) -> None:  # look at Ray's sockets while it is up
        if event.step == "choice":
            seen.extend(_ray_listeners())

    on_ray = train(dataset_path("penguins"), "species", backend="ray", output_dir=str(tmp_path),
                   on_event=listeners_while_running, **COMMON)
    assert [t.trial_id for t in on_ray.leaderboard.trials] == [t.trial_id for t in local_run.leaderboard.trials]
    for a, b in zip(local_run.leaderboard.trials, on_ray.leaderboard.trials, strict=True):
        assert a.cv_scores == pytest.approx(b.cv_scores, rel=1e-9)  # one thread per fit in both: bit for bit
    assert on_ray.choice.chosen == local_run.choice.chosen
    assert on_ray.test_scores == pytest.approx(local_run.test_scores)
    assert seen and all("127.0.0.1" in line for line in seen), seen
    import ray

    assert not ray.is_initialized()  # the run shut down the Ray it started


@pytest.fixture(scope="module")
def ray_head():
    """``ray start --head`` on loopback with 2 CPUs and Ray's token authentication; stopped in teardown. Ray's
    internal switch RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps every listener of that head on 127.0.0.1 (and lets a
    driver join it at 127.0.0.1): test fixture only, in the environment of the processes it starts."""
    port = _free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token"}
    start = [RAY_CLI, "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--include-dashboard", "false", "--disable-usage-stats"]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([RAY_CLI, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _ray_listeners() -> list[str]:
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if re.search(r"raylet|gcs_server|ray::", line)]


def test_the_cli_joins_a_ray_head_and_gets_the_same_leaderboard(ray_head, local_run, tmp_path: Path) -> None:
    address, env = ray_head
    command = [sys.executable, "-m", "trainwright", "train", str(dataset_path("penguins")), "--target", "species",
               "--preset", "quick", "--models", "dummy,linear,lightgbm", "--workers", "2", "--time-budget", "900",
               "--backend", "ray",
               "--ray-address", address, "--output-dir", str(tmp_path), "--no-tracking"]
    proc = subprocess.run(command, env={**env, "TRAINWRIGHT_TRACKING": "0"}, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listeners = _ray_listeners()
    assert listeners and all("127.0.0.1" in line for line in listeners), listeners
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("trial_id")
    local = local_run.leaderboard.to_frame().set_index("trial_id")
    np.testing.assert_allclose(board.loc[local.index, "cv_mean"], local["cv_mean"], rtol=1e-9)


def test_shared_data_goes_to_the_object_store_once() -> None:
    from trainwright.training.ray_executor import RayExecutor

    executor = RayExecutor(n_workers=2)
    try:
        data = np.arange(1000.0)
        first, again = executor.share(data), executor.share(data)
        assert first == again and len(executor._shared) == 1
        from trainwright.fileio import jsonable  # a function the workers can import

        assert executor.map(jsonable, [1.0, float("nan"), 3.0]) == [1.0, None, 3.0]
    finally:
        executor.close()


def test_the_cli_trains_parquet_shards_data_parallel_on_a_ray_head(ray_head, tmp_path: Path) -> None:
    """4 Parquet shards, 2 Ray Train workers on a ``ray start --head`` cluster, each reading its own rows; the bundle
    then scores the shards into a folder of Parquet files on the same cluster."""
    address, env = ray_head
    frame = pd.read_csv(dataset_path("credit_data"))
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[rows].to_parquet(shards / f"part-{i}.parquet", index=False)
    run_env = {**env, "TRAINWRIGHT_TRACKING": "0", "COLUMNS": "200"}
    train = [sys.executable, "-m", "trainwright", "train", str(shards), "--target", "Status", "--backend", "ray",
             "--ray-address", address, "--workers", "2", "--output-dir", str(tmp_path / "runs"), "--no-tracking"]
    proc = subprocess.run(train, env=run_env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    per_worker = re.search(r"2 workers trained \d+ rounds .*rows read per worker: ([\d,]+), ([\d,]+)", proc.stdout)
    assert per_worker, proc.stdout
    split = re.search(r"into ([\d,]+) train", proc.stdout)
    assert split and sum(int(n.replace(",", "")) for n in per_worker.groups()) == int(split.group(1).replace(",", ""))
    (bundle,) = (tmp_path / "runs").glob("*/model")
    predict = [sys.executable, "-m", "trainwright", "predict", str(bundle), str(shards), "-o", str(tmp_path / "scored"),
               "--ray-address", address]
    proc = subprocess.run(predict, env=run_env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(pd.read_parquet(tmp_path / "scored")) == len(frame)
    listeners = _ray_listeners()
    assert listeners and all("127.0.0.1" in line for line in listeners), listeners
