"""The real server: `trainwright serve` in a subprocess on a free loopback port, talked to over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.bundles import titanic_path
from trainwright.bundle import load

KEY = "s3cret-key"
AUTH = {"X-API-Key": KEY}
MAX_BODY = 1_000_000  # the default; a list at the schema's 10,000-row limit fits, so schemathesis sees 422


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.drop(columns=["survived"]).to_json(orient="records"))


@pytest.fixture(scope="module")
def server(lightgbm_bundle, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {**os.environ, "TRAINWRIGHT_API_KEY": KEY}
    cmd = [sys.executable, "-m", "trainwright", "serve", str(lightgbm_bundle), "--port", str(port),
           "--log", str(workdir / "requests.jsonl"), "--max-body-bytes", str(MAX_BODY)]
    output = (workdir / "server.out").open("w")
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited early: {(workdir / 'server.out').read_text()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not answer /health within 90 s")
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
            yield client, workdir, lightgbm_bundle
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        output.close()


def test_predict_one_and_many(server):
    client, _, bundle = server
    model = load(bundle)
    frame = pd.read_csv(titanic_path()).sample(60, random_state=4)
    records = _records(frame)
    one = client.post("/predict", json=records[0])
    assert one.status_code == 200
    body = one.json()
    assert body["n"] == 1 and set(body["predictions"][0]["probabilities"]) == {"died", "survived"}
    many = client.post("/predict", json=records).json()
    expected = model.predict(frame)
    assert [p["prediction"] for p in many["predictions"]] == expected["prediction"].tolist()
    got = np.array([p["probabilities"]["survived"] for p in many["predictions"]])
    np.testing.assert_allclose(got, expected["proba_survived"].to_numpy(), atol=1e-5)  # small requests: ONNX path
    hundred = pd.read_csv(titanic_path()).sample(100, random_state=5)
    big = client.post("/predict", json=_records(hundred)).json()  # more than 64 rows: the pipeline itself
    exact = model.predict(hundred)["proba_survived"].to_numpy()
    np.testing.assert_allclose([p["probabilities"]["survived"] for p in big["predictions"]], exact, rtol=1e-12)


def test_malformed_requests_get_422_naming_the_field(server):
    client, _, _ = server
    record = {"pclass": "1st", "sex": "female", "age": 29, "sibsp": 0, "parch": 0}
    bad = client.post("/predict", json={**record, "age": "twenty"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "age" and "number" in bad.json()["detail"][0]["problem"]
    missing = client.post("/predict", json=[record, {k: v for k, v in record.items() if k != "sibsp"}])
    assert missing.status_code == 422 and missing.json()["detail"] == [
        {"field": "[1].sibsp", "problem": "Field required", "type": "missing"}]
    for body in (b"{not json", b"42", b"[]"):
        response = client.post("/predict", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "body"


def test_body_over_the_limit_gets_413(server):
    client, _, _ = server
    record = {"pclass": "1st", "sex": "female", "age": 29, "sibsp": 0, "parch": 0}
    response = client.post("/predict", json=[record] * 20_000)
    assert response.status_code == 413 and "limit" in response.json()["detail"][0]["problem"]

    def chunks():  # no content-length: the limit holds while streaming too
        for _ in range(250):
            yield b" " * 5000

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_api_key_is_required(server):
    client, _, _ = server
    base = str(client.base_url)
    assert httpx.get(f"{base}/health").status_code == 200  # liveness stays open
    assert httpx.get(f"{base}/metadata").status_code == 401
    assert httpx.post(f"{base}/predict", json={}, headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.get(f"{base}/metadata", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_metadata_and_metrics(server):
    client, _, _ = server
    meta = client.get("/metadata").json()
    assert meta["model"] == "lightgbm" and meta["task"]["kind"] == "binary"
    assert [c["name"] for c in meta["schema"]["columns"]] == ["pclass", "sex", "age", "sibsp", "parch"]
    assert meta["metrics"]["metric"] == "roc_auc" and "numpy" in meta["lineage"]["libraries"]
    before = _samples(client.get("/metrics").text, "trainwright_requests_total", path="/predict", status="200")
    for _ in range(3):
        client.post("/predict", json={"pclass": "2nd", "sex": "male", "age": 40, "sibsp": 1, "parch": 0})
    httpx.get(f"{client.base_url}/drift")  # a 401
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert _samples(text, "trainwright_requests_total", path="/predict", status="200") == before + 3
    assert _samples(text, "trainwright_requests_total", path="/drift", status="401") >= 1
    assert _samples(text, "trainwright_request_errors_total", path="/drift", status="401") >= 1
    assert _samples(text, "trainwright_request_duration_seconds_bucket", path="/predict", le="+Inf") >= 3


def _samples(text: str, name: str, **labels: str) -> float:
    """The sum of the exposition's samples called ``name`` whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and labels.items() <= s.labels.items())


def test_drift_of_recent_requests_and_the_log(server):
    client, workdir, bundle = server
    frame = pd.read_csv(titanic_path())
    train_rows = json.loads((Path(bundle) / "split.json").read_text())["rows"]["train"]
    fresh = frame.loc[train_rows].sample(400, random_state=11, replace=True)  # the training distribution
    clean = client.post("/predict", json=_records(fresh))
    assert clean.status_code == 200
    drift = client.get("/drift").json()
    assert drift["available"] and drift["n_rows"] >= 400 and not drift["drifted"], drift["drifted_columns"]
    shifted = frame.sample(900, random_state=12, replace=True).assign(age=lambda d: d["age"] + 30)
    assert client.post("/predict", json=_records(shifted)).status_code == 200
    drift = client.get("/drift").json()
    assert drift["drifted"] and "age" in drift["drifted_columns"]
    assert client.post("/predict", json={"age": "x"}).status_code == 422
    lines = (workdir / "requests.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    scored = [e for e in entries if e.get("status") == 200]
    assert scored and all({"records", "predictions", "latency_ms"} <= set(e) for e in scored)
    assert any(e.get("status") == 422 for e in entries)


def test_schemathesis_finds_no_server_error(server, tmp_path):
    client, _, _ = server
    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    cmd = [exe, "run", f"{client.base_url}/openapi.json", "--max-examples", "50",
           "-H", f"X-API-Key: {KEY}", "--seed", "7", "--no-shrink", "--phases", "examples,coverage,fuzzing"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout and "5/5" in result.stdout
