"""The server of a detection or segmentation bundle: ``POST /predict/image`` (also ``/predict``) takes one image
file's bytes and answers its boxes (label, score, x, y, width, height in the image's pixels) or its mask (a PNG of
class indices, base64, with the names of its values). ``GET /health``, ``/metadata``, ``/metrics``. The same guard
as the tabular server: the size limit (413) and the API key (401) are checked before the body is read.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from trainwright.models._dense_predict import DEFAULT_THRESHOLD, DensePredictor, prediction_json
from trainwright.serving._metrics import CONTENT_TYPE, Guard, Metrics

__all__ = ["build_dense_app"]


def _refuse(problem: str, kind: str) -> Any:
    return JSONResponse({"message": "the body is not a readable image", "detail": [
        {"field": "body", "problem": problem, "type": kind}]}, status_code=422)


def build_dense_app(bundle: str | Path, settings: Any) -> Any:
    """A FastAPI app for the dense bundle at ``bundle``; ``settings`` is the server's ``ServeSettings``."""
    predictor = DensePredictor(bundle)
    metrics = Metrics()
    app = FastAPI(title=f"trainwright: {predictor.manifest['model']} ({predictor.task})",
                  version=str(predictor.manifest.get("run_id", "0")),
                  description="Boxes or masks from a trainwright dense bundle. POST an image file's bytes.")

    async def predict(request: Request) -> Any:
        from PIL import Image

        body = await request.body()
        if not body:
            return _refuse("the request body is empty; send the image file's bytes", "empty")
        try:
            with Image.open(io.BytesIO(body)) as image:
                image.load()
        except Exception as exc:  # Pillow raises many types for a broken or foreign file
            return _refuse(f"{type(exc).__name__}: {str(exc)[:160]}", "unreadable_image")
        raw = request.query_params.get("score_threshold")
        try:
            threshold = DEFAULT_THRESHOLD if raw is None else float(raw)
        except ValueError:
            return JSONResponse({"message": "invalid query", "detail": [{"field": "score_threshold",
                                 "problem": f"{raw!r} is not a number", "type": "float_parsing"}]}, status_code=422)
        pred = await run_in_threadpool(predictor.predict_bytes, body, threshold)
        return prediction_json(predictor, pred)

    summary = "Predict one uploaded image: the request body is the image file's bytes (?score_threshold=0.3)"
    app.post("/predict/image", summary=summary)(predict)
    app.post("/predict", summary=summary)(predict)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "task": predictor.task}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        keys = ("task", "model", "classes", "input_size", "run_id", "created", "metric", "test_scores")
        return {k: predictor.manifest.get(k) for k in keys}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.add_middleware(Guard, metrics=metrics, max_body_bytes=settings.max_body_bytes, api_key=settings.api_key)
    return app
