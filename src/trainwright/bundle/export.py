"""Export a bundle: ONNX where the pipeline converts (checked against the original), or an MLflow pyfunc model.

ONNX: one input per feature column (numbers as float32 [N,1] with NaN for missing, categories as strings [N,1]
with "" for missing, see ``onnx_inputs``), converted with skl2onnx (plus the converters each model family
registers through its serializer, e.g. onnxmltools' for LightGBM), then run with onnxruntime on sample rows drawn
from the bundle's reference profile (plus any rows given) and compared with the pipeline's own output: the largest
difference must stay within ``tolerance`` (1e-5) or nothing is written. A pipeline that does not convert is
refused with a BundleError naming the step.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle.model import Model, load
from trainwright.bundle.onnx_converters import (
    is_catboost,
    is_composite,
    knn_distance_sign,
    missing_directions,
    onnx_ready,
    stacked,
    weighted_average,
    with_catboost,
)
from trainwright.data import Role
from trainwright.exceptions import BundleError, Problem
from trainwright.fileio import atomic_output
from trainwright.models import serializers

__all__ = [
    "OnnxExport", "allowed_difference", "checked_session", "export_mlflow", "export_onnx",
    "onnx_inputs", "sample_rows",
]

ONNX_FILE = "model.onnx"
TOLERANCE = 1e-5
ONNX_MISSING_CATEGORY = ""  # a missing category in the ONNX model's string inputs


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    max_abs_difference: float
    allowed_difference: float
    n_checked: int
    inputs: tuple[tuple[str, str], ...]
    output: str


def sample_rows(model: Model, n: int = 256, random_state: int = 0) -> pd.DataFrame:
    """Rows drawn column by column from the reference profile (missing values at the training rate)."""
    profile = model.profile
    if profile is None:
        raise BundleError(f"{model.path} has no reference profile to draw sample rows from",
                          [Problem("export.no_sample", "no rows to check the export on", fix="pass --data FILE")])
    rng = np.random.default_rng(random_state)
    data: dict[str, Any] = {}
    for col in profile.columns:
        missing = rng.random(n) < col.missing_rate
        if col.kind == "numeric":
            values = rng.choice(np.asarray(col.sample or (0.0,), dtype=float), n)
            data[col.name] = np.where(missing, np.nan, values)
        else:
            cats = [c for c in (col.categories or {}) if c != "__other__"] or ["?"]
            values = rng.choice(np.asarray(cats, dtype=object), n)
            values = values.astype(object)
            values[missing] = None
            data[col.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _register_converters() -> None:
    """skl2onnx knows scikit-learn's estimators; each model family registers converters for its own."""
    from trainwright.bundle.onnx_converters import register_converters

    register_converters()
    for serializer in serializers():
        serializer.onnx_setup()


def onnx_inputs(model: Model, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ONNX model's inputs for coerced features ``X``: float32 columns, and string columns (missing category
    as the empty string)."""
    feeds = {}
    for col in model.schema.columns:
        if col.name not in X.columns:
            continue
        if col.role is Role.CATEGORICAL:
            values = X[col.name].astype(object).where(X[col.name].notna(), ONNX_MISSING_CATEGORY)
            feeds[col.name] = values.astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[col.name] = X[col.name].to_numpy(dtype=np.float32).reshape(-1, 1)
    return feeds


def _convert(model: Model) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.pipeline import Pipeline

    unsupported = [c.name for c in model.schema.columns if c.role in (Role.TEXT, Role.DATETIME, Role.IMAGE, Role.AUDIO)]
    if unsupported:
        raise BundleError("this pipeline does not convert to ONNX", [Problem(
            "export.onnx_unsupported", "text, date, image and audio columns are not exported to ONNX", column=", ".join(unsupported),
            fix="use --format mlflow, or serve the bundle itself")])
    final_step = model.pipeline.steps[-1][1]
    if is_composite(final_step):
        return _convert_composite(model, final_step)
    if type(final_step).__name__.startswith("Dummy"):
        raise BundleError("this model is not exported to ONNX", [Problem(
            "export.onnx_unsupported", "the dummy baseline ignores every feature and predicts a constant (the "
            "training mean or class shares, in the bundle's metrics): there is no computation to export",
            column=type(final_step).__name__, fix="use the constant itself, --format mlflow, or serve the bundle")])
    _register_converters()
    types = [(c.name, StringTensorType([None, 1]) if c.role is Role.CATEGORICAL else FloatTensorType([None, 1]))
             for c in model.schema.columns if c.role in (Role.NUMERIC, Role.CATEGORICAL)]
    pipeline = onnx_ready(model.pipeline, ONNX_MISSING_CATEGORY)
    final = pipeline.steps[-1][1]
    options = {id(final): {"zipmap": False}} if model.task.is_classification else None
    try:
        if is_catboost(final):  # CatBoost writes its own ONNX graph: the preprocessing's output feeds it
            pre = convert_sklearn(Pipeline(pipeline.steps[:-1]), initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})
            return with_catboost(pre, final, model.task.is_classification)
        with warnings.catch_warnings():  # skl2onnx writes HistGradientBoosting's bools into int fields (protobuf 6 warns)
            warnings.filterwarnings("ignore", "Field onnx.AttributeProto.ints: Expected an int, got a boolean",
                                    DeprecationWarning)
            onx = convert_sklearn(pipeline, initial_types=types, options=options, target_opset={"": 17, "ai.onnx.ml": 3})
        missing_directions(onx, final)
        if getattr(final, "weights", None) == "distance":
            knn_distance_sign(onx)
        return onx
    except Exception as exc:
        step = " -> ".join(type(s).__name__ for _, s in model.pipeline.steps)
        raise BundleError("this pipeline does not convert to ONNX", [Problem(
            "export.onnx_unsupported", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
            column=step, fix="use --format mlflow, or serve the bundle itself")]) from None


def _convert_composite(model: Model, composite: Any) -> Any:
    """An ensemble, a bag or a stack: each member pipeline converted on its own (refused as a whole, naming the
    member, when one does not convert), then joined and combined (bundle/onnx_converters.py)."""
    import copy

    graphs = []
    for k, member in enumerate(composite.members):
        part = copy.copy(model)
        part.pipeline = member
        try:
            graphs.append(_convert(part))
        except BundleError as exc:
            raise BundleError(f"this ensemble does not convert to ONNX: its member {k} does not", [Problem(
                p.code, f"member {k}: {p.message}", column=p.column, fix=p.fix) for p in exc.problems]) from None
    if getattr(composite, "meta", None) is not None:
        return stacked(graphs, composite.meta, int(composite.n_classes))
    return weighted_average(graphs, [float(w) for w in composite.weights], model.task.is_classification)


def _onnx_output(model: Model, session: Any, X: pd.DataFrame) -> np.ndarray:
    outputs = session.run(None, onnx_inputs(model, X))
    if model.task.is_classification:
        proba = np.asarray(outputs[1], dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)
    return np.asarray(outputs[0], dtype=np.float64).ravel()


def _mismatch_reason(model: Model) -> str:
    """What is known to make a model's ONNX graph differ from it, where something is."""
    final = model.pipeline.steps[-1][1]
    if type(final).__name__.startswith("KNeighbors"):
        return ("; k-NN: ONNX computes distances in float32, so rows identical to a training row (distance 0, which "
                "decides distance weights alone) and neighbours at equal distances are decided differently")
    return ""


def allowed_difference(expected: np.ndarray, tolerance: float = TOLERANCE) -> float:
    """``tolerance`` relative to the output's scale: probabilities (scale 1) get ``tolerance`` itself; a regression
    predicting values around 600 gets 600 x ``tolerance`` (float32 carries about 7 significant digits)."""
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    return tolerance * max(1.0, scale if np.isfinite(scale) else 1.0)


def checked_session(model: Model, rows: pd.DataFrame | None = None, tolerance: float = TOLERANCE) -> Any:
    """An onnxruntime session equal to the pipeline within ``tolerance`` on sample rows (with missing values and a
    category never seen in training), or None when the pipeline does not convert or does not match."""
    import onnxruntime as ort

    try:
        onx = _convert(model)
    except BundleError:
        return None
    raw = (rows if rows is not None else sample_rows(model)).copy()
    for col in model.schema.columns:
        if col.role is Role.CATEGORICAL and col.name in raw.columns:
            values = raw[col.name].astype(object)
            values.iloc[::7] = "__never_seen_in_training__"
            values.iloc[3::11] = None
            raw[col.name] = values
    X = model.prepare(raw)
    expected = model.predict_proba_array(X) if model.task.is_classification else np.asarray(model.pipeline.predict(X), float)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
    try:
        got = _onnx_output(model, session, X)
    except Exception:
        return None
    ok = got.shape == expected.shape and float(np.max(np.abs(got - expected))) <= allowed_difference(expected, tolerance)
    return session if ok else None


def export_onnx(bundle: str | Path | Model, output_dir: str | Path, *, rows: pd.DataFrame | None = None,
                tolerance: float = TOLERANCE) -> OnnxExport:
    """Convert, check on sample rows against the pipeline, and write ``model.onnx`` + ``onnx.json``."""
    import onnxruntime as ort

    model = bundle if isinstance(bundle, Model) else load(bundle)
    onx = _convert(model)
    X = model.prepare(rows if rows is not None else sample_rows(model))
    expected = model.predict_proba_array(X) if model.task.is_classification else np.asarray(model.pipeline.predict(X), float)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    got = _onnx_output(model, session, X)
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    allowed = allowed_difference(expected, tolerance)
    if not diff <= allowed:
        raise BundleError("the ONNX export does not reproduce the pipeline", [Problem(
            "export.onnx_mismatch", f"largest difference {diff:.3g} on {len(X)} rows exceeds {allowed:.3g} "
            f"({tolerance:g} x the output's scale){_mismatch_reason(model)}",
            fix="use --format mlflow, or serve the bundle itself")])
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    inputs = tuple((n, "string" if model.schema.column(n).role is Role.CATEGORICAL else "float32") for n in X.columns)
    result = OnnxExport(output_dir / ONNX_FILE, diff, allowed, len(X), inputs, "probabilities" if model.task.is_classification else "variable")
    with atomic_output(result.path) as tmp:
        tmp.write_bytes(onx.SerializeToString())
    info = {**asdict(result), "path": str(result.path), "classes": list(model.task.classes), "task": model.task.kind.value,
            "missing_category": ONNX_MISSING_CATEGORY, "source_bundle": str(model.path), "run_id": model.metadata.get("run_id")}
    with atomic_output(output_dir / "onnx.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return result


def export_mlflow(bundle: str | Path, output_dir: str | Path) -> Path:
    """An MLflow pyfunc model directory (``mlflow models serve -m DIR`` serves it)."""
    from trainwright.bundle.pyfunc import save_pyfunc

    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise BundleError(f"{output_dir} exists and is not empty", [Problem(
            "export.exists", "MLflow refuses to write into a non-empty directory", fix="choose a new -o directory")])
    if output_dir.exists():
        output_dir.rmdir()
    return save_pyfunc(bundle, output_dir)
