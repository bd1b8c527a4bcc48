"""The fast path for small requests: the pipeline as ONNX, run by onnxruntime straight from validated records.

Used only when the bundle converts and the converted model reproduces the pipeline within 1e-5 on sample rows
(missing values and a category never seen in training included): checked once, at start-up. It skips the
DataFrame round trip and scikit-learn's per-call overhead, which dominate single-row latency.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainwright.bundle import Model
from trainwright.data import Role

__all__ = ["OnnxScorer", "onnx_scorer"]


def _category(value: Any) -> str:
    """As coerce_frame writes a category (1.0 and 1 alike); a missing one is "" (the ONNX model's marker)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class OnnxScorer:
    def __init__(self, model: Model, session: Any) -> None:
        self.session = session
        self.task = model.task
        self.inputs = [(c.name, c.role is Role.CATEGORICAL) for c in model.schema.columns
                       if c.role in (Role.NUMERIC, Role.CATEGORICAL)]
        self.classes = np.asarray(model.task.classes, dtype=object)

    def raw(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Probabilities (n, K), rows summing to 1, or regression values (n,)."""
        feeds = {}
        for name, categorical in self.inputs:
            if categorical:
                feeds[name] = np.array([[_category(r[name])] for r in rows], dtype=object)
            else:
                feeds[name] = np.array([[math.nan if r[name] is None else r[name]] for r in rows], dtype=np.float32)
        outputs = self.session.run(None, feeds)
        if not self.task.is_classification:
            return np.asarray(outputs[0], dtype=np.float64).ravel()
        proba = np.asarray(outputs[1], dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def labels(self, raw: np.ndarray) -> list[Any]:
        """Class labels by Model.predict's rule (the task's decision threshold), or values."""
        if not self.task.is_classification:
            return raw.tolist()
        return self.classes[self.task.decide(raw)].tolist()


def onnx_scorer(model: Model) -> OnnxScorer | None:
    """An OnnxScorer when the pipeline converts and matches, else None (the server then uses the pipeline)."""
    if model.profile is None:
        return None
    from trainwright.bundle.export import checked_session

    session = checked_session(model)
    return OnnxScorer(model, session) if session is not None else None
