"""Two ``train`` runs and a ``serve`` at once, on one MLflow store and one output folder: all three finish, and
nothing is mixed up (each run folder, run record and model is its own run's). Real processes, loopback only."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ARGS = ("--preset", "quick", "--models", "dummy,linear", "--seed", "0")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TRAINWRIGHT_TRACKING", "MLFLOW_TRACKING_URI"}}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _data(path: Path, kind: str) -> Path:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["y"] = (X[:, 0] > 0).astype(int) if kind == "binary" else X[:, 0] * 10 + rng.normal(size=300)
    frame.to_csv(path, index=False)
    return path


def test_two_trains_and_a_server_on_one_store_and_output_folder(tmp_path, lightgbm_bundle):
    home = tmp_path
    runs = home / "runs"
    served = runs / "served" / "model"
    shutil.copytree(lightgbm_bundle, served)
    binary, regression = _data(home / "binary.csv", "binary"), _data(home / "amount.csv", "regression")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "trainwright", "serve", str(served), "--port", str(port)],
                              cwd=home, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    trains = [subprocess.Popen([sys.executable, "-m", "trainwright", "train", str(data), "--target", "y", *ARGS,
                                "--output-dir", str(runs)], cwd=home, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for data in (binary, regression)]
    answers: list[int] = []
    done = threading.Event()
    row = json.loads(pd.read_csv(next(p for p in (Path(__file__).resolve().parents[2] / "datasets").glob("titanic.csv")))
                     .drop(columns=["survived"]).head(1).to_json(orient="records"))[0]

    def hammer() -> None:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not done.is_set():
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as client:
            while not done.is_set():
                answers.append(client.post("/predict", json=row).status_code)
                time.sleep(0.05)

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        outputs = [p.communicate(timeout=400)[0] for p in trains]
    finally:
        done.set()
        thread.join(timeout=60)
        server.terminate()
        server_out = server.communicate(timeout=60)[0]
    assert [p.returncode for p in trains] == [0, 0], [o[-2000:] for o in outputs]
    assert answers and set(answers) == {200}, (answers[:20], server_out[-2000:])
    assert not list(home.glob("*.jsonl")), "the server wrote a request log nobody asked for"

    finished = sorted(p for p in runs.iterdir() if p.name != "served")
    assert len(finished) == 2 and not [p for p in runs.iterdir() if p.name.startswith(".")], list(runs.iterdir())
    kinds = {}
    for run_dir in finished:
        summary = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        assert summary["run_id"] == run_dir.name
        meta = json.loads((run_dir / "model" / "metadata.json").read_text(encoding="utf-8"))
        assert meta["run_id"] == run_dir.name
        kinds[Path(summary["source"]).name] = summary["task"]
    assert kinds == {"binary.csv": "binary", "amount.csv": "regression"}, kinds

    from trainwright.tracking import Store

    store = Store(f"sqlite:///{home / 'mlflow.db'}").open(create=False)
    parents = store.client.search_runs([store.experiment_id], filter_string="tags.`trainwright.kind` = 'parent'")
    assert sorted(r.info.status for r in parents) == ["FINISHED", "FINISHED"]
    for r in parents:
        bundle = Path(r.data.tags["trainwright.bundle"])
        assert bundle.parent.name == r.info.run_name and bundle.is_dir()
        assert r.data.tags["task"] == kinds[Path(r.data.tags["source"]).name]
