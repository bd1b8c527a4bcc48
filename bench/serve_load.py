"""Server under load (not a test): throughput and latency with 1 and with 16 concurrent clients.

A real ``trainwright serve`` on a free 127.0.0.1 port (one uvicorn worker, no request log), single-row POST
/predict over keep-alive connections for a bounded time per phase. Clients are threads in a few processes of their
own (so the client side's GIL does not cap the server's figure). Target: throughput with 16 clients at least one
client's, 0 errors; the p99 under 16 clients is printed.

    .venv/bin/python bench/serve_load.py [--bundle runs/<id>/model] [--seconds 5] [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import DATA, free_port, train_bundle, wait_for


def _client_process(port: int, payloads: list[bytes], threads: int, seconds: float, out: mp.Queue) -> None:
    """``threads`` keep-alive clients in this process, each sending requests until ``seconds`` have passed."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad, i = [], 0, k
        while time.monotonic() < end:
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=payloads[i % len(payloads)],
                             headers={"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
                bad += response.status != 200
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - start)
            i += threads
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors[0]))


def load(port: int, payloads: list[bytes], clients: int, seconds: float) -> dict[str, float]:
    processes = min(clients, 4)
    per = [clients // processes + (k < clients % processes) for k in range(processes)]
    queue: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_client_process, args=(port, payloads, n, seconds, queue)) for n in per]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - start
    latencies = np.asarray([x for r in results for x in r[0]]) * 1e3
    return {"clients": clients, "requests": len(latencies), "errors": sum(r[1] for r in results),
            "rps": round(len(latencies) / wall, 1), "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--log-requests", action="store_true", help="serve with the (opt-in) request log on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundle = args.bundle or train_bundle(work)
        rows = json.loads(pd.read_csv(DATA).drop(columns=["survived"]).head(200).to_json(orient="records"))
        payloads = [json.dumps(r).encode() for r in rows]
        port = free_port()
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        log = ["--log-requests", str(work / "log" / "requests.jsonl")] if args.log_requests else []
        server = subprocess.Popen([sys.executable, "-m", "trainwright", "serve", str(bundle), "--port", str(port), *log],
                                  cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_for(f"http://127.0.0.1:{port}/health", server)
            load(port, payloads, 1, 1.0)  # warm-up
            one = load(port, payloads, 1, args.seconds)
            many = load(port, payloads, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert not any(work.glob("*.jsonl")), "the server wrote a request log nobody asked for"
    print(json.dumps({"request_log": bool(args.log_requests), "one_client": one, f"{args.clients}_clients": many,
                      "ratio_rps": round(many["rps"] / one["rps"], 2), "cpus": os.cpu_count()}, indent=2))
    if many["rps"] < one["rps"] or many["errors"] or one["errors"]:
        print(f"below target: {args.clients} clients must reach one client's throughput with 0 errors")


if __name__ == "__main__":
    main()
