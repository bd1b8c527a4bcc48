"""``POST /predict/image``: one uploaded image (the request body is the file's bytes, any Pillow format) scored by
a model trained on one image column. Added only to such models' apps. The bytes are checked with Pillow first, so
a broken upload is a 422 naming the problem, never an all-black image scored in silence."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from trainwright.bundle import Model
from trainwright.data import Role

__all__ = ["add_image_route"]


def _refuse(problem: str, kind: str) -> Any:
    return JSONResponse({"message": "the body is not a readable image", "detail": [
        {"field": "body", "problem": problem, "type": kind}]}, status_code=422)


def _score(model: Model, column: str, body: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trainwright-upload-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(body)
        out = model.predict(pd.DataFrame({column: [str(path)]}))
    row = out.iloc[0]
    value = row["prediction"]
    result: dict[str, Any] = {"prediction": value.item() if isinstance(value, np.generic) else value}
    if model.task.is_classification:
        result["probabilities"] = {str(c): float(row[f"proba_{c}"]) for c in model.task.classes}
    return result


def add_image_route(app: Any, model: Model) -> None:
    """Add the upload route when ``model`` reads exactly one image column."""
    names = model.schema.names(Role.IMAGE)
    if len(names) != 1:
        return
    column = names[0]

    @app.post("/predict/image", summary="Predict one uploaded image: the request body is the image file's bytes")
    async def predict_image(request: Request) -> Any:
        from PIL import Image

        body = await request.body()
        if not body:
            return _refuse("the request body is empty; send the image file's bytes", "empty")
        try:
            with Image.open(io.BytesIO(body)) as image:
                image.load()
        except Exception as exc:
            return _refuse(f"{type(exc).__name__}: {str(exc)[:160]}", "unreadable_image")
        return await run_in_threadpool(_score, model, column, body)
