"""The MLP exports to ONNX with the rest of its pipeline (batch norm folded into the linear layers) and the
export's own check agrees with the bundle's predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.bundle import load, write_bundle
from trainwright.bundle.export import export_onnx
from trainwright.config import load_config
from trainwright.models import get_spec
from trainwright.training import FitContext, fit_pipeline
from trainwright.workflow import prepare


@pytest.mark.parametrize(("name", "target"), [("penguins", "species"), ("diabetes", "progression")])
def test_the_mlp_pipeline_exports_to_onnx(name: str, target: str, tmp_path: Path) -> None:
    prep = prepare(pd.read_csv(dataset_path(name)), load_config(None, target=target))
    spec = get_spec("mlp")
    pipeline, _, _ = fit_pipeline(spec, FitContext(prep.schema, prep.task, n_jobs=1), prep.X, prep.y,
                                  spec.params({"n_estimators": 5, "units": 16}))
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "mlp"},
                 "metrics": {}}
    model = load(write_bundle(tmp_path / "model", pipeline, documents))
    result = export_onnx(model, tmp_path / "onnx", rows=prep.frame.drop(columns=[target]).head(100))
    assert result.n_checked == 100 and np.isfinite(result.max_abs_difference)
    scale = 1.0 if prep.task.is_classification else float(np.std(prep.y))
    assert result.max_abs_difference <= 1e-4 * max(scale, 1.0)
