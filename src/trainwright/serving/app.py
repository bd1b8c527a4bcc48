"""The REST server of one bundle: FastAPI app factory and the uvicorn runner.

POST /predict (one record or a list), GET /health, /metadata, /metrics (Prometheus text), /drift (recent requests
against the bundle's reference profile), OpenAPI at /docs and /openapi.json. Every expected failure maps to a 4xx
with the field and the problem (a TrainwrightError keeps its own ``http_status``); the size limit (413) and the API
key (401) are checked before the body is read. Requests and predictions go to a rotating JSON-lines log.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from trainwright.bundle import Model, load
from trainwright.data import coerce_frame
from trainwright.drift import Thresholds, compare
from trainwright.exceptions import TrainwrightError
from trainwright.serving._docs import offline_docs
from trainwright.serving._image import add_image_route
from trainwright.serving._metrics import CONTENT_TYPE, OPEN_PATHS, Guard, Metrics
from trainwright.serving._schema import BodyError, request_models

__all__ = ["API_KEY_ENV", "ServeSettings", "build_app", "serve"]

API_KEY_ENV = "TRAINWRIGHT_API_KEY"
LOGGED_ROWS = 100  # rows per log line, so one huge request cannot blow a log file


@dataclass(frozen=True)
class ServeSettings:
    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    log_path: Path | None = None
    log_max_bytes: int = 10_000_000
    log_backups: int = 3
    recent_rows: int = 5_000
    onnx: bool = True  # score small requests with a verified ONNX copy of the pipeline when there is one
    onnx_max_rows: int = 64
    thresholds: Thresholds = field(default_factory=Thresholds)


class ErrorItem(BaseModel):
    field: str
    problem: str
    type: str


class ErrorResponse(BaseModel):
    message: str | None = None
    detail: list[ErrorItem]


class Prediction(BaseModel):
    prediction: str | int | float | bool | None
    probabilities: dict[str, float] | None = None


class PredictResponse(BaseModel):
    model: str
    n: int
    predictions: list[Prediction]


class _Recent:
    """The last ``max_rows`` scored records and raw model outputs, for /drift (coerced when /drift asks)."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.parts: deque[tuple[list[dict[str, Any]], np.ndarray]] = deque()
        self.n = 0

    def add(self, rows: list[dict[str, Any]], raw: np.ndarray) -> None:
        self.parts.append((rows, raw))
        self.n += len(rows)
        while self.parts and self.n - len(self.parts[0][0]) >= self.max_rows:
            self.n -= len(self.parts.popleft()[0])

    def frame(self, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray | None]:
        if not self.parts:
            return pd.DataFrame(columns=columns), None
        parts = list(self.parts)
        rows = [r for p in parts for r in p[0]][-self.max_rows:]
        return pd.DataFrame.from_records(rows, columns=columns), np.concatenate([p[1] for p in parts])[-self.max_rows:]


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf to null, numpy scalars to Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _error(status: int, message: str, detail: list[dict[str, Any]]) -> Any:
    return JSONResponse({"message": message, "detail": detail}, status_code=status)


def _trainwright_error(exc: TrainwrightError) -> Any:
    detail = [{"field": p.column or "body", "problem": str(p), "type": p.code} for p in exc.problems]
    return _error(exc.http_status, exc.message, detail or [{"field": "body", "problem": exc.message, "type": "error"}])


def _request_logger(settings: ServeSettings) -> logging.Logger | None:
    if settings.log_path is None:
        return None
    path = Path(settings.log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"trainwright.serving.requests.{os.getpid()}.{id(settings)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = RotatingFileHandler(path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups,
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    return logger


class _Service:
    """The state behind the routes: the model, request models, metrics, recent rows, the log."""

    def __init__(self, model: Model, settings: ServeSettings) -> None:
        final = model.pipeline.steps[-1][1] if hasattr(model.pipeline, "steps") else model.pipeline
        if "n_jobs" in getattr(final, "get_params", dict)():
            final.set_params(n_jobs=1)  # small requests: thread start-up costs more than it saves (in memory only)
        self.model = model
        self.settings = settings
        self.requests = request_models(model.schema)
        self.metrics = Metrics()
        self.recent = _Recent(settings.recent_rows)
        self.logger = _request_logger(settings)
        self.name = str(model.metadata.get("model", "model"))
        self.classes = [str(c) for c in model.task.classes]
        self.fast = None
        if settings.onnx:
            from trainwright.serving._fast import onnx_scorer

            self.fast = onnx_scorer(model)

    def log(self, **entry: Any) -> None:
        if self.logger is not None:
            entry = {"time": datetime.now(UTC).isoformat(), **entry}
            self.logger.info(json.dumps(_clean(entry), default=str))

    def respond(self, labels: list[Any], raw: np.ndarray) -> dict[str, Any]:
        if self.model.task.is_classification:
            rows = [{"prediction": label, "probabilities": dict(zip(self.classes, p, strict=True))}
                    for label, p in zip(labels, raw.tolist(), strict=True)]
        else:
            rows = [{"prediction": v} for v in labels]
        return {"model": self.name, "n": len(rows), "predictions": rows}

    async def predict(self, request: Any) -> Any:
        start = time.perf_counter()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.settings.max_body_bytes:
                return _error(413, "request body too large", [{"field": "body", "type": "too_large", "problem": (
                    f"over the limit of {self.settings.max_body_bytes} bytes; send fewer rows per request")}])
        try:  # scoring runs in the thread pool: numpy, scikit-learn and LightGBM release the GIL
            rows, labels, raw = await run_in_threadpool(self.score, bytes(body))
        except BodyError as exc:
            self.log(path="/predict", status=422, errors=exc.errors)
            return _error(422, "the request does not match the model's input", exc.errors)
        except TrainwrightError as exc:
            self.log(path="/predict", status=exc.http_status, errors=[str(p) for p in exc.problems] or [exc.message])
            return _trainwright_error(exc)
        except (ValueError, TypeError, OverflowError) as exc:
            detail = [{"field": "body", "type": "unscorable", "problem": f"{type(exc).__name__}: {str(exc)[:200]}"}]
            self.log(path="/predict", status=422, errors=detail)
            return _error(422, "the model could not score these values", detail)
        self.recent.add(rows, raw)
        self.metrics.add_rows(len(rows))
        payload = self.respond(labels, raw)
        self.log(path="/predict", status=200, n=len(rows), latency_ms=round((time.perf_counter() - start) * 1e3, 3),
                 records=rows[:LOGGED_ROWS], predictions=labels[:LOGGED_ROWS])
        return JSONResponse(payload)

    def score(self, body: bytes) -> tuple[list[dict[str, Any]], list[Any], np.ndarray]:
        rows = self.requests.parse(body)
        if self.fast is not None and len(rows) <= self.settings.onnx_max_rows:
            raw = self.fast.raw(rows)
            return rows, self.fast.labels(raw), raw
        frame = pd.DataFrame.from_records(rows, columns=list(self.requests.columns))
        with np.errstate(all="ignore"):
            out, _, raw = self.model.predict_detail(frame)
        return rows, out["prediction"].tolist(), raw

    def metadata(self) -> dict[str, Any]:
        meta = self.model.metadata
        return _clean({"model": self.name, "run_id": meta.get("run_id"), "created": meta.get("created"),
                       "family": meta.get("family"), "features": meta.get("features"),
                       "task": self.model.task.to_dict(), "schema": self.model.schema.to_dict(),
                       "metrics": self.model.metrics, "lineage": meta.get("lineage"), "choice": meta.get("choice")})

    def drift(self) -> dict[str, Any]:
        profile = self.model.profile
        if profile is None:
            return {"available": False, "n_rows": self.recent.n, "notes": ["the bundle has no reference profile"]}
        frame, raw = self.recent.frame(list(self.requests.columns))
        X = coerce_frame(frame, self.model.schema, strict=False)
        report = compare(profile, X, pred=raw, task=self.model.task, thresholds=self.settings.thresholds)
        if not report.enough_rows:  # per-column statistics of a handful of rows would all read as drift
            return _clean({"available": True, "window": self.settings.recent_rows, "n_rows": report.n_rows,
                           "enough_rows": False, "drifted": False, "drifted_columns": [],
                           "min_rows": report.thresholds.min_rows,
                           "message": f"too few rows to judge drift: {report.n_rows} recent rows, at least "
                                      f"{report.thresholds.min_rows} are needed"})
        return _clean({"available": True, "window": self.settings.recent_rows, **report.to_dict()})


def _openapi(app: Any, service: _Service) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        body, defs = service.requests.json_schema()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs)
        schema["paths"]["/predict"]["post"]["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": body}}}
        if service.settings.api_key:
            schema["components"]["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
            unauthorized = {"description": "missing or wrong API key",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
            for path, operations in schema["paths"].items():
                if path not in OPEN_PATHS:
                    for op in operations.values():
                        op["security"] = [{"ApiKey": []}]
                        op["responses"]["401"] = unauthorized
        app.openapi_schema = schema
        return schema

    return build


def _routes(app: Any, service: _Service) -> None:
    errors: dict[int | str, dict[str, Any]] = {
        413: {"model": ErrorResponse, "description": "request body over the size limit"},
        422: {"model": ErrorResponse, "description": "the request names a field and its problem"}}

    @app.post("/predict", response_model=PredictResponse, responses=errors,
              summary="Predict one record or a list of records (class probabilities for classifiers)")
    async def predict(request: Request) -> Any:
        return await service.predict(request)

    @app.get("/health", summary="Liveness: the model is loaded")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": service.name, "task": service.model.task.kind.value}

    @app.get("/metadata", summary="Schema, task, metrics and lineage of the model")
    async def metadata() -> dict[str, Any]:
        return service.metadata()

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/drift", summary="Drift of recent requests against the training data's reference profile")
    async def drift() -> dict[str, Any]:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return service.drift()


def build_app(bundle: Model | str | Path, settings: ServeSettings | None = None) -> Any:
    """A FastAPI app serving ``bundle`` (a loaded Model or a bundle directory)."""
    settings = settings or ServeSettings()
    if not isinstance(bundle, Model) and (Path(bundle) / "dense.json").is_file():  # boxes or masks: _dense.py
        from trainwright.serving._dense import build_dense_app

        return build_dense_app(bundle, settings)
    model = bundle if isinstance(bundle, Model) else load(bundle)
    service = _Service(model, settings)
    app = FastAPI(title=f"trainwright: {service.name} ({model.task.kind.value}, target {model.task.target!r})",
                  version=str(model.metadata.get("run_id", "0")),
                  description="Predictions from a trainwright model bundle. Send one record or a list of records.")
    app.state.service = service
    _routes(app, service)
    add_image_route(app, model)  # POST /predict/image, for a model trained on one image column

    @app.exception_handler(TrainwrightError)
    async def on_trainwright_error(request: Any, exc: TrainwrightError) -> Any:
        return _trainwright_error(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Any, exc: RequestValidationError) -> Any:
        detail = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"], "type": e["type"]} for e in exc.errors()]
        return _error(422, "invalid request", detail)

    app.openapi = _openapi(app, service)  # type: ignore[method-assign]
    offline_docs(app)  # Swagger UI's assets from the fastapi-offline package, not a CDN
    app.add_middleware(Guard, metrics=service.metrics, max_body_bytes=settings.max_body_bytes,
                       api_key=settings.api_key, on_error=lambda exc: service.log(status=500, error=repr(exc)))
    return app


def serve(bundle: str | Path, *, host: str = "127.0.0.1", port: int = 8000, settings: ServeSettings | None = None,
          on_ready: Any = None) -> None:
    """Load the bundle and serve it with uvicorn until interrupted."""
    import uvicorn

    app = build_app(bundle, settings)
    if on_ready is not None:
        on_ready(app)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
