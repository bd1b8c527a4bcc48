"""ONNX export for every rung of the ladder on real data, or a refusal that says why.

Each bundle is one fixed-size fit written the way the workflow writes one (``tests.bundles.quick_bundle``, on any
dataset), then exported: the export itself checks the ONNX graph against the pipeline on sample rows drawn from the
bundle's profile (missing values included), within 1e-5 of the output's scale."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import dataset_path
from trainwright.bundle import load
from trainwright.bundle.export import allowed_difference, export_onnx
from trainwright.exceptions import BundleError


def ladder_bundle(output_dir: Path, data: str, target: str, model: str) -> Path:
    from trainwright.bundle import write_bundle
    from trainwright.config import load_config
    from trainwright.drift import build_profile
    from trainwright.evaluation import score_all
    from trainwright.lineage import lineage
    from trainwright.models import get_spec
    from trainwright.training import FitContext, fit_pipeline, predict_matrix
    from trainwright.workflow import prepare

    prep = prepare(dataset_path(data), load_config(None, target=target, preset="quick", tracking=False))
    order = np.random.default_rng(0).permutation(len(prep.X))
    train, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)):]
    spec = get_spec(model)
    params = {**spec.defaults, "n_estimators": 40} if "n_estimators" in spec.defaults else dict(spec.defaults)
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline, _, _ = fit_pipeline(spec, ctx, prep.X.iloc[train], prep.y[train], params)
    X_train = prep.X.iloc[train]
    documents = {
        "schema": prep.schema.to_dict(), "task": prep.task.to_dict(),
        "metrics": {"metric": prep.task.metric,
                    "test": score_all(prep.y[test], predict_matrix(pipeline, prep.X.iloc[test], prep.task), prep.task)},
        "metadata": {"run_id": f"ladder-{model}", "model": model, "family": spec.family, "params": params,
                     "features": prep.schema.features, "lineage": lineage(0)},
        "profile": build_profile(X_train, prep.schema, prep.task, predict_matrix(pipeline, X_train, prep.task)).to_dict(),
        "split": {"rows": {"train": prep.X.index[train].tolist(), "test": prep.X.index[test].tolist()}},
    }
    return write_bundle(Path(output_dir) / "model", pipeline, documents)


def _export(tmp_path: Path, data: str, target: str, model: str):
    bundle = load(ladder_bundle(tmp_path / model, data, target, model))
    return bundle, export_onnx(bundle, tmp_path / model / "onnx")


@pytest.mark.parametrize("model", ["linear", "svm", "knn", "random_forest", "extra_trees", "lightgbm", "xgboost",
                                   "catboost"])
def test_every_rung_exports_on_vega_cars(tmp_path, model):
    """Horsepower has missing values: imputer indicators (linear, SVM, k-NN) and trees' learned missing directions
    (random forest, extra trees) must survive the conversion."""
    _, result = _export(tmp_path, "vega_cars", "Miles_per_Gallon", model)
    assert result.path.stat().st_size > 500 and result.max_abs_difference <= result.allowed_difference
    assert result.allowed_difference > 1e-5  # relative to predictions around 10-45 mpg


@pytest.mark.parametrize(("data", "target", "model"), [
    ("titanic", "survived", "linear"), ("titanic", "survived", "random_forest"), ("titanic", "survived", "xgboost"),
    ("titanic", "survived", "catboost"), ("penguins", "species", "xgboost"), ("penguins", "species", "catboost"),
])
def test_classifiers_export_their_probabilities(tmp_path, data, target, model):
    _, result = _export(tmp_path, data, target, model)
    assert result.max_abs_difference <= 1e-5 == result.allowed_difference and result.output == "probabilities"


def test_dummy_is_refused_up_front_and_knn_on_titanic_with_the_reason(tmp_path):
    with pytest.raises(BundleError, match="not exported to ONNX") as refused:
        _export(tmp_path, "vega_cars", "Miles_per_Gallon", "dummy")
    assert "predicts a constant" in refused.value.problems[0].message
    assert not (tmp_path / "dummy" / "onnx").exists()
    with pytest.raises(BundleError, match="does not reproduce") as refused:  # titanic: many rows equal a training row
        _export(tmp_path, "titanic", "survived", "knn")
    assert "k-NN: ONNX computes distances in float32" in refused.value.problems[0].message


def test_tolerance_is_relative_to_the_output_scale():
    assert allowed_difference(np.array([0.2, 0.9])) == 1e-5
    assert allowed_difference(np.array([-600.0, 12.0])) == pytest.approx(6e-3)  # LightGBM's 2.65e-4 at ~600 passes


@pytest.mark.slow
def test_hist_gradient_boosting_exports_on_vega_cars(tmp_path):
    _, result = _export(tmp_path, "vega_cars", "Miles_per_Gallon", "hist_gradient_boosting")
    assert result.max_abs_difference <= result.allowed_difference
