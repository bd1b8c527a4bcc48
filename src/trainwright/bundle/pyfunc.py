"""The bundle as an MLflow pyfunc model, so ``mlflow models serve`` and ``mlflow.pyfunc.load_model`` work on it.

The bundle directory travels as an artifact (its skops file and manifest untouched); the pyfunc wrapper only
calls ``trainwright.bundle.load`` on it, so loading keeps the manifest and allowlist checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from trainwright.bundle.manifest import verify_manifest
from trainwright.lineage import package_version

__all__ = ["TrainwrightPyfunc", "pip_requirements", "pyfunc_kwargs", "pyfunc_log_kwargs", "save_pyfunc"]


def _python_model_base() -> type:
    import mlflow.pyfunc

    return mlflow.pyfunc.PythonModel


class TrainwrightPyfunc:
    """An MLflow PythonModel (built lazily so importing this module does not import mlflow)."""

    def __new__(cls) -> Any:
        base = _python_model_base()

        class _Model(base):  # type: ignore[misc, valid-type]
            def load_context(self, context: Any) -> None:
                from trainwright.bundle.model import (
                    load,  # here, not at import: the tracking writer imports this
                )

                self.model = load(context.artifacts["bundle"])

            # MLflow reads these hints (pd.DataFrame is one it accepts without a warning); the bundle still checks
            # and coerces the columns against its own schema.
            def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
                frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
                return self.model.predict(frame)

        _Model.__module__ = __name__
        _Model.__qualname__ = "TrainwrightPyfunc._Model"
        return _Model()


def pip_requirements() -> list[str]:
    """Explicit requirements (the inferred list would name a torch build without its local tag)."""
    names = ("trainwright", "scikit-learn", "pandas", "numpy", "skops", "lightgbm", "xgboost-cpu", "catboost", "mlflow")
    return [f"{n}=={v}" if (v := package_version(n)) and n != "trainwright" else n for n in names]


def pyfunc_kwargs(bundle_dir: str | Path, *, load_check: bool = True) -> dict[str, Any]:
    """Arguments shared by ``mlflow.pyfunc.save_model`` and ``log_model`` for a bundle.

    ``load_check`` loads the bundle first, to fail early with our message on a bad one; without it only its
    manifest is checked (the tracking writer logs a bundle the run has just written, and must not pay for importing
    skops and torch while the trainer waits). The signature, where MLflow can describe the schema, is added by the
    tracking writer (``tracking/signature.py``).
    """
    if load_check:
        from trainwright.bundle.model import load

        load(bundle_dir)
    else:
        verify_manifest(Path(bundle_dir))
    return {"python_model": TrainwrightPyfunc(), "artifacts": {"bundle": str(Path(bundle_dir).resolve())},
            "pip_requirements": pip_requirements()}


def pyfunc_log_kwargs(bundle_dir: str | Path) -> dict[str, Any]:
    """``pyfunc_kwargs`` for the tracking writer: the manifest checked, the bundle not loaded."""
    return pyfunc_kwargs(bundle_dir, load_check=False)


def save_pyfunc(bundle_dir: str | Path, path: str | Path) -> Path:
    """Write an MLflow pyfunc model directory at ``path`` wrapping the bundle."""
    import warnings

    import mlflow.pyfunc

    with warnings.catch_warnings():  # MLflow's advice on predict's type hints: the bundle checks its own schema
        warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")
        mlflow.pyfunc.save_model(str(path), **pyfunc_kwargs(bundle_dir))
    return Path(path)
