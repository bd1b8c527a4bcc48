"""Boosted models travel in their libraries' own formats, beside the skops pipeline.

LightGBM (model text) and XGBoost (UBJSON): the scikit-learn wrapper stays in the skops file with its booster
detached; the booster is written natively and reattached on load. CatBoost (.cbm): the estimator *is* its model,
so the pipeline keeps a ``passthrough`` placeholder and the model is loaded by CatBoost's own ``load_model``.
None of these formats can run code when read, so the skops allowlist no longer needs any booster type.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwright.exceptions import BundleError

__all__ = ["NATIVE_FILE", "attach_native", "detached"]

NATIVE_FILE = "native.json"
_FILES = {"lightgbm": "model.lgb.txt", "xgboost": "model.ubj", "catboost": "model.cbm"}


def _family(model: Any) -> str | None:
    module = type(model).__module__.split(".")[0]
    return module if module in _FILES else None


@contextlib.contextmanager
def detached(pipeline: Any, directory: Path) -> Iterator[dict[str, Any] | None]:
    """While the block runs, the pipeline's booster lives in ``directory`` in its native format and not in the
    pipeline; afterwards the pipeline is exactly as before. Yields the native.json description (None: nothing)."""
    model = pipeline.steps[-1][1]
    family = _family(model)
    if family is None:
        yield None
        return
    path = Path(directory) / _FILES[family]
    info = {"family": family, "file": path.name, "estimator": f"{type(model).__module__}.{type(model).__qualname__}"}
    if family == "catboost":
        model.save_model(str(path), format="cbm")
        pipeline.steps[-1] = (pipeline.steps[-1][0], "passthrough")
        try:
            yield info
        finally:
            pipeline.steps[-1] = (pipeline.steps[-1][0], model)
        return
    booster = model._Booster
    booster.save_model(str(path))
    model._Booster = None
    try:
        yield info
    finally:
        model._Booster = booster


def write_native_info(directory: Path, info: dict[str, Any]) -> None:
    (Path(directory) / NATIVE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")


def attach_native(pipeline: Any, directory: Path) -> Any:
    """Put the natively stored model back into a pipeline read from the skops file (no-op without native.json)."""
    info_path = Path(directory) / NATIVE_FILE
    if not info_path.is_file():
        return pipeline
    info = json.loads(info_path.read_text(encoding="utf-8"))
    family, path = info.get("family"), Path(directory) / str(info.get("file"))
    try:
        if family == "lightgbm":
            import lightgbm as lgb

            pipeline.steps[-1][1]._Booster = lgb.Booster(model_file=str(path))
        elif family == "xgboost":
            import xgboost as xgb

            booster = xgb.Booster()
            booster.load_model(str(path))
            pipeline.steps[-1][1]._Booster = booster
        elif family == "catboost":
            import catboost as cb

            model = cb.CatBoostRegressor() if info["estimator"].endswith("Regressor") else cb.CatBoostClassifier()
            model.load_model(str(path), format="cbm")
            pipeline.steps[-1] = (pipeline.steps[-1][0], model)
        else:
            raise BundleError(f"unknown native model family {family!r} in {info_path}")
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(f"cannot load the native {family} model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return pipeline
