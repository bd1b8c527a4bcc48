"""Serving benchmark (not a test): one LightGBM model, trainwright serve vs `mlflow models serve`.

Figures: single-row latency p50/p99 in process (Model.predict) and over HTTP (sequential, keep-alive), and the
throughput of 16 concurrent clients sending a bounded number of single-row requests, for both servers on loopback
ports, both one uvicorn worker. Targets: zero errors; HTTP p50 under 5 ms; throughput at least 2x MLflow's.
"in_process" is Model.predict on a one-row DataFrame (the pipeline path); the server scores small requests with
its verified ONNX copy of the pipeline (serving/_fast.py) and larger ones with the pipeline.

    .venv/bin/python bench/serve.py [--bundle runs/<id>/model] [--requests 2000] [--clients 16]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = next(p for p in (ROOT.parent / "shared" / "datasets" / "titanic.csv", ROOT / "datasets" / "titanic.csv") if p.exists())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_bundle(workdir: Path) -> Path:
    from trainwright.workflow import train

    result = train(DATA, target="survived", preset="quick", models=("lightgbm",), output_dir=str(workdir / "runs"),
                   tracking=False, time_budget=60)
    return result.bundle


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3)}


def sequential(url: str, payloads: list[bytes], n: int) -> tuple[dict[str, float], int]:
    import httpx

    times, errors = [], 0
    with httpx.Client(timeout=30, headers={"content-type": "application/json"}) as client:
        for i in range(20):  # warm-up
            client.post(url, content=payloads[i % len(payloads)])
        for i in range(n):
            start = time.perf_counter()
            response = client.post(url, content=payloads[i % len(payloads)])
            times.append(time.perf_counter() - start)
            errors += response.status_code != 200
    return percentiles(times), errors


def concurrent(url: str, payloads: list[bytes], total: int, clients: int) -> dict[str, float]:
    import httpx

    counter = iter(range(total))
    lock = threading.Lock()
    errors = [0]
    latencies: list[float] = []

    def worker() -> None:
        with httpx.Client(timeout=60, headers={"content-type": "application/json"}) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                start = time.perf_counter()
                try:
                    ok = client.post(url, content=payloads[i % len(payloads)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append(time.perf_counter() - start)
                    errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"requests": total, "errors": errors[0], "seconds": round(wall, 3), "rps": round(total / wall, 1),
            **percentiles(latencies)}


def in_process(bundle: Path, rows: list[dict], n: int) -> dict[str, float]:
    from trainwright.bundle import load

    model = load(bundle)
    final = model.pipeline.steps[-1][1]
    final.set_params(n_jobs=1)  # as the server does
    frames = [pd.DataFrame([r]) for r in rows]
    for f in frames[:20]:
        model.predict(f)
    times = []
    for i in range(n):
        start = time.perf_counter()
        model.predict(frames[i % len(frames)])
        times.append(time.perf_counter() - start)
    return percentiles(times)


def start(cmd: list[str], workdir: Path) -> subprocess.Popen:
    bindir = str(Path(sys.executable).parent)  # mlflow starts `uvicorn` by name: the venv's must be on PATH
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (workdir / f"{Path(cmd[0]).name}-{len(list(workdir.iterdir()))}.log").open("w")
    return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_server(name: str, cmd: list[str], health: str, url: str, payloads: list[bytes], args: argparse.Namespace,
                 workdir: Path) -> dict[str, object]:
    proc = start(cmd, workdir)
    try:
        wait_for(health, proc)
        latency, errors = sequential(url, payloads, args.single)
        throughput = concurrent(url, payloads, args.requests, args.clients)
    finally:
        stop(proc)
    return {"server": name, "single_row": latency, "single_row_errors": errors, "concurrent": throughput}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--single", type=int, default=500, help="sequential single-row requests")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    bundle = args.bundle or train_bundle(workdir)
    frame = pd.read_csv(DATA).drop(columns=["survived"]).sample(200, random_state=0)
    rows = json.loads(frame.to_json(orient="records"))
    results: dict[str, object] = {"bundle": str(bundle), "in_process": in_process(bundle, rows, args.single)}

    port = free_port()
    ours = [sys.executable, "-m", "trainwright", "serve", str(bundle), "--port", str(port), "--log",
            str(workdir / "requests.jsonl")]
    results["trainwright"] = bench_server("trainwright serve", ours, f"http://127.0.0.1:{port}/health",
                                          f"http://127.0.0.1:{port}/predict", [json.dumps(r).encode() for r in rows],
                                          args, workdir)
    print(json.dumps(results, indent=2), flush=True)
    from trainwright.bundle.pyfunc import save_pyfunc

    pyfunc = save_pyfunc(bundle, workdir / "pyfunc")
    port = free_port()
    mlflow_exe = str(Path(sys.executable).parent / "mlflow")
    theirs = [mlflow_exe, "models", "serve", "-m", str(pyfunc), "--env-manager", "local", "-h", "127.0.0.1",
              "-p", str(port), "-w", "1"]
    mlflow_payloads = [json.dumps({"dataframe_records": [r]}).encode() for r in rows]
    results["mlflow"] = bench_server("mlflow models serve", theirs, f"http://127.0.0.1:{port}/ping",
                                     f"http://127.0.0.1:{port}/invocations", mlflow_payloads, args, workdir)
    ours_r, theirs_r = results["trainwright"], results["mlflow"]
    ratio = ours_r["concurrent"]["rps"] / theirs_r["concurrent"]["rps"]  # type: ignore[index]
    results["targets"] = {
        "zero_errors": ours_r["single_row_errors"] == 0 and ours_r["concurrent"]["errors"] == 0,  # type: ignore[index]
        "http_p50_under_5ms": ours_r["single_row"]["p50_ms"] < 5.0,  # type: ignore[index]
        "throughput_ratio_vs_mlflow": round(ratio, 2), "throughput_at_least_2x": ratio >= 2.0,
    }
    results["cpu_count"] = os.cpu_count()
    results["load_average_1m"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
