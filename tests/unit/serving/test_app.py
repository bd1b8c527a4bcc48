"""The serving app in process (ASGI transport, no network): request model, errors, metrics, window, log."""

from __future__ import annotations

import asyncio
import json
from logging.handlers import RotatingFileHandler

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from trainwright.bundle import load
from trainwright.data import ColumnInfo, Role, Schema
from trainwright.serving import ServeSettings, build_app
from trainwright.serving._metrics import Metrics
from trainwright.serving._schema import BodyError, field_errors, request_models

RECORD = {"pclass": "1st", "sex": "female", "age": 29.0, "sibsp": 0, "parch": 0}


def _call(app, method: str, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def model(lightgbm_bundle):
    return load(lightgbm_bundle)


def test_request_model_follows_the_schema():
    schema = Schema("y", (ColumnInfo("Unit price ($)", Role.NUMERIC, "float64", "", 5, 0.0),
                          ColumnInfo("colour", Role.CATEGORICAL, "str", "", 3, 0.0),
                          ColumnInfo("row_id", Role.IDENTIFIER, "int64", "", 9, 0.0),
                          ColumnInfo("note", Role.TEXT, "str", "", 9, 0.0)))
    models = request_models(schema)
    assert models.columns == ("Unit price ($)", "colour", "note")
    assert models.parse(b'{"Unit price ($)": 2, "colour": 3, "note": null, "extra": 1}') == [
        {"Unit price ($)": 2.0, "colour": 3, "note": None}]
    with pytest.raises(BodyError) as excinfo:
        models.parse(b'[{"Unit price ($)": "2", "colour": [], "note": "x"}, {"colour": "a", "note": "b"}]')
    fields = {e["field"]: e["problem"] for e in excinfo.value.errors}
    assert set(fields) == {"[0].Unit price ($)", "[0].colour", "[1].Unit price ($)"}
    assert "valid string or" in fields["[0].colour"] and fields["[1].Unit price ($)"] == "Field required"
    body, defs = models.json_schema()
    assert "Record" in defs and body["anyOf"][1]["maxItems"] == 10_000
    assert set(defs["Record"]["required"]) == {"Unit price ($)", "colour", "note"}


def test_field_errors_drop_union_tags():
    models = request_models(Schema("y", (ColumnInfo("n", Role.NUMERIC, "float64", "", 5, 0.0),)))
    with pytest.raises(ValidationError) as excinfo:
        models.one.validate_json(b'{"n": true}')
    assert field_errors(excinfo.value) == [{"field": "n", "problem": "Input should be a valid number",
                                            "type": "float_type"}]


def test_onnx_fast_path_matches_the_pipeline(model):
    fast, plain = build_app(model), build_app(model, ServeSettings(onnx=False))
    assert fast.state.service.fast is not None and plain.state.service.fast is None
    rows = [RECORD, {**RECORD, "sex": None, "age": None}, {**RECORD, "pclass": "9th", "sibsp": 3}, {**RECORD, "pclass": 1}]
    expected = model.predict(pd.DataFrame(rows))
    for app, tolerance in ((fast, 1e-5), (plain, 1e-12)):
        body = _call(app, "POST", "/predict", json=rows).json()
        assert [p["prediction"] for p in body["predictions"]] == expected["prediction"].tolist()
        got = [p["probabilities"]["survived"] for p in body["predictions"]]
        np.testing.assert_allclose(got, expected["proba_survived"], atol=tolerance, rtol=0)


def test_predict_matches_the_model_and_logs(model, tmp_path):
    app = build_app(model, ServeSettings(log_path=tmp_path / "log" / "requests.jsonl", log_max_bytes=2000, log_backups=2))
    rows = [RECORD, {**RECORD, "sex": "male", "age": None}]
    response = _call(app, "POST", "/predict", json=rows)
    assert response.status_code == 200
    expected = model.predict(pd.DataFrame(rows))
    got = [p["probabilities"]["survived"] for p in response.json()["predictions"]]
    np.testing.assert_allclose(got, expected["proba_survived"], atol=1e-5)
    for _ in range(30):  # the log rotates: bounded files
        _call(app, "POST", "/predict", json=RECORD)
    files = sorted(p.name for p in (tmp_path / "log").iterdir())
    assert files == ["requests.jsonl", "requests.jsonl.1", "requests.jsonl.2"]
    assert all(len(p.read_bytes()) <= 2600 for p in (tmp_path / "log").iterdir())
    entry = json.loads((tmp_path / "log" / "requests.jsonl").read_text().splitlines()[-1])
    assert entry["status"] == 200 and entry["records"] == [RECORD] and entry["predictions"] in (["died"], ["survived"])
    logger_handlers = [h for h in app.state.service.logger.handlers if isinstance(h, RotatingFileHandler)]
    assert len(logger_handlers) == 1


def test_errors_map_to_4xx_and_are_counted(model):
    app = build_app(model, ServeSettings(api_key="k", max_body_bytes=5000))
    assert _call(app, "POST", "/predict", json=RECORD).status_code == 401
    key = {"X-API-Key": "k"}
    assert _call(app, "POST", "/predict", json=[RECORD] * 100, headers=key).status_code == 413
    bad = _call(app, "POST", "/predict", json={**RECORD, "age": float("nan")} | {"age": "NaN"}, headers=key)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "age"
    assert _call(app, "GET", "/nowhere", headers=key).status_code == 404
    assert _call(app, "GET", "/openapi.json").status_code == 200  # docs stay open
    metrics: Metrics = app.state.service.metrics
    assert metrics.count("/predict", 401) == 1 and metrics.count("/predict", 413) == 1
    assert metrics.count("/predict", 422) == 1 and metrics.count("other", 404) == 1
    text = _call(app, "GET", "/metrics", headers=key).text
    assert 'trainwright_request_errors_total{path="/predict",status="413"} 1.0' in text
    schema = _call(app, "GET", "/openapi.json").json()
    assert schema["paths"]["/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert "401" in schema["paths"]["/drift"]["get"]["responses"]


def test_drift_window_is_bounded(model):
    app = build_app(model, ServeSettings(recent_rows=100))
    assert _call(app, "GET", "/drift").json()["n_rows"] == 0
    for _ in range(3):
        _call(app, "POST", "/predict", json=[RECORD] * 60)
    drift = _call(app, "GET", "/drift").json()
    assert drift["n_rows"] == 100 and drift["drifted"]  # 100 copies of one record: nothing like the training data
    assert app.state.service.recent.n <= 160


def test_drift_with_too_few_rows_says_so_instead_of_listing_every_column(model):
    app = build_app(model)
    assert _call(app, "POST", "/predict", json=[RECORD, {**RECORD, "sex": "male"}]).status_code == 200
    drift = _call(app, "GET", "/drift").json()
    assert drift["available"] and drift["n_rows"] == 2
    assert drift["enough_rows"] is False and drift["drifted"] is False and drift["drifted_columns"] == []
    assert drift["min_rows"] == 30 and "too few rows" in drift["message"]
    assert "columns" not in drift  # no per-column statistics of two rows


def _families(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_endpoint_is_prometheus_exposition(model):
    from prometheus_client import CONTENT_TYPE_LATEST

    app = build_app(model)
    for _ in range(3):
        assert _call(app, "POST", "/predict", json=[RECORD, RECORD]).status_code == 200
    assert _call(app, "GET", "/nowhere").status_code == 404
    response = _call(app, "GET", "/metrics")
    assert response.status_code == 200 and response.headers["content-type"] == CONTENT_TYPE_LATEST
    families = _families(response.text)
    assert {"trainwright_requests", "trainwright_request_errors", "trainwright_request_duration_seconds",
            "trainwright_predictions"} <= set(families)
    assert families["trainwright_requests"].type == "counter"
    assert families["trainwright_request_duration_seconds"].type == "histogram"
    requests = {(s.labels["method"], s.labels["path"], s.labels["status"]): s.value
                for s in families["trainwright_requests"].samples if s.name == "trainwright_requests_total"}
    assert requests[("POST", "/predict", "200")] == 3 and requests[("GET", "other", "404")] == 1
    errors = [s for s in families["trainwright_request_errors"].samples if s.name.endswith("_total")]
    assert [(s.labels, s.value) for s in errors] == [({"path": "other", "status": "404"}, 1.0)]
    rows = [s.value for s in families["trainwright_predictions"].samples if s.name == "trainwright_predictions_total"]
    assert rows == [6.0]


def test_two_apps_in_one_process_keep_their_own_counts(model):
    first, second = build_app(model), build_app(model)
    _call(first, "POST", "/predict", json=RECORD)
    assert first.state.service.metrics.count("/predict", 200) == 1
    assert second.state.service.metrics.count("/predict") == 0


def test_metrics_histogram_is_cumulative():
    metrics = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 7.0):
        metrics.observe("POST", "/predict", 200, seconds)
    histogram = _families(metrics.render().decode())["trainwright_request_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 1 and buckets["0.0025"] == 1 and buckets["0.005"] == 3 and buckets["2.5"] == 3
    assert buckets["+Inf"] == 4
    count = [s.value for s in histogram.samples if s.name.endswith("_count")]
    total = [s.value for s in histogram.samples if s.name.endswith("_sum")]
    assert count == [4] and total == [pytest.approx(7.0065)]
