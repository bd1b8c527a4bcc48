"""Export: ONNX equal to the pipeline within 1e-5 (LightGBM), a clear refusal otherwise, and MLflow pyfunc."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.bundles import titanic_path
from trainwright.bundle import load
from trainwright.bundle.export import export_mlflow, export_onnx, onnx_inputs
from trainwright.cli import main
from trainwright.exceptions import BundleError


def _rows(n: int = 300) -> pd.DataFrame:
    frame = pd.read_csv(titanic_path()).sample(n, random_state=0).reset_index(drop=True)
    frame.loc[:9, "sex"] = None  # missing categories travel as "" in ONNX
    frame.loc[10:19, "age"] = np.nan
    return frame


def test_lightgbm_onnx_matches_pipeline(lightgbm_bundle, tmp_path):
    import onnxruntime as ort

    model = load(lightgbm_bundle)
    assert model.metadata["model"] == "lightgbm"
    rows = _rows()
    result = export_onnx(model, tmp_path / "onnx", rows=rows)
    assert result.max_abs_difference <= 1e-5 and result.n_checked == len(rows)
    # check independently: run the written file on fresh rows and compare with Model.predict
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    fresh = _rows(500)
    X = model.prepare(fresh)
    feeds = onnx_inputs(model, X)
    assert feeds["sex"][0, 0] == ""
    _, proba = session.run(None, feeds)
    expected = model.predict(fresh)[[f"proba_{c}" for c in model.task.classes]].to_numpy()
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    info = json.loads((tmp_path / "onnx" / "onnx.json").read_text())
    assert info["classes"] == list(model.task.classes) and info["missing_category"] == ""


def test_linear_pipeline_converts_with_its_skewness_transformer(tmp_path):
    """SkewedLog1p and the imputer's missing indicators have converters: the linear rung exports, missing and
    unseen categories included."""
    from tests.unit.bundle.test_export_ladder import ladder_bundle

    model = load(ladder_bundle(tmp_path / "linear", "titanic", "survived", "linear"))
    assert model.metadata["model"] == "linear"
    result = export_onnx(model, tmp_path / "onnx", rows=_rows())
    assert result.max_abs_difference <= 1e-5


def test_export_cli_onnx_and_refusal(lightgbm_bundle, tmp_path, capsys):
    from tests.unit.bundle.test_export_ladder import ladder_bundle

    assert main(["export", str(lightgbm_bundle), "--format", "onnx", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.onnx").stat().st_size > 1000
    dummy = ladder_bundle(tmp_path / "dummy", "titanic", "survived", "dummy")
    assert main(["export", str(dummy), "--format", "onnx", "-o", str(tmp_path / "no")]) == 4
    err = capsys.readouterr().err
    assert "not exported to ONNX" in err and "predicts a constant" in err and "Traceback" not in err


def test_mlflow_pyfunc_export_predicts_the_same(lightgbm_bundle, tmp_path):
    import mlflow.pyfunc

    target = export_mlflow(lightgbm_bundle, tmp_path / "pyfunc")
    assert (target / "MLmodel").exists()
    frame = pd.read_csv(titanic_path()).head(50)
    got = mlflow.pyfunc.load_model(str(target)).predict(frame)
    pd.testing.assert_frame_equal(got, load(lightgbm_bundle).predict(frame))
    with pytest.raises(BundleError, match="not empty"):
        export_mlflow(lightgbm_bundle, target)
