"""ONNX export of ensembles: a weighted average, a bag (fold models averaged) and a linear stack, each joined from
its members' own graphs and checked by the export against the Python model (1e-5 of the output's scale), written as
the workflow writes a bundle (each member a bundle of its own)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.pipeline import Pipeline

from tests.conftest import dataset_path
from trainwright.bundle import load, write_bundle
from trainwright.bundle.export import export_onnx, onnx_inputs
from trainwright.config import load_config
from trainwright.drift import build_profile
from trainwright.models import get_spec
from trainwright.models.ensemble import StackedEnsemble, WeightedEnsemble, meta_model, stack_features
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import prepare


def _problem(data: str, target: str):
    prep = prepare(dataset_path(data), load_config(None, target=target, preset="quick", tracking=False))
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    return prep, ctx


def _fit(prep, ctx, name: str, rows: np.ndarray):
    spec = get_spec(name)
    params = {**spec.defaults, "n_estimators": 30} if "n_estimators" in spec.defaults else dict(spec.defaults)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_pipeline(spec, ctx, prep.X.iloc[rows], prep.y[rows], params)[0]


def _bundle(tmp_path: Path, prep, pipeline) -> Path:
    X = prep.X.iloc[:200]
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metrics": {"metric": prep.task.metric},
                 "metadata": {"run_id": "ensemble-onnx", "features": prep.schema.features},
                 "profile": build_profile(X, prep.schema, prep.task, predict_matrix(pipeline, X, prep.task)).to_dict()}
    return write_bundle(tmp_path / "model", pipeline, documents)


def _stack(prep, ctx, members: list, rows: np.ndarray) -> StackedEnsemble:
    n_classes = len(prep.task.classes) if prep.task.is_classification else 0
    preds = [predict_matrix(m, prep.X.iloc[rows], prep.task) for m in members]
    meta = meta_model(n_classes).fit(stack_features(preds, n_classes), prep.y[rows])
    return StackedEnsemble(members, meta, n_classes)


@pytest.mark.parametrize(("data", "target", "kind"), [
    ("titanic", "survived", "weighted"), ("vega_cars", "Miles_per_Gallon", "bag"), ("penguins", "species", "stack"),
    pytest.param("titanic", "survived", "stack", marks=pytest.mark.slow),
    pytest.param("vega_cars", "Miles_per_Gallon", "stack", marks=pytest.mark.slow),
])
def test_ensembles_export_to_onnx_within_tolerance(tmp_path: Path, data: str, target: str, kind: str) -> None:
    prep, ctx = _problem(data, target)
    n = len(prep.X)
    order = np.random.default_rng(0).permutation(n)  # some files are sorted by their target
    first, second, rest = order[:int(0.6 * n)], order[int(0.6 * n):int(0.8 * n)], order[int(0.8 * n):]
    n_classes = len(prep.task.classes) if prep.task.is_classification else 0
    if kind == "bag":  # three fold models of one configuration, equal weights, nested as the workflow nests a bag
        folds = [np.setdiff1d(first, first[k::3]) for k in range(3)]
        bag = WeightedEnsemble([_fit(prep, ctx, "lightgbm", f) for f in folds], [1 / 3] * 3, n_classes)
        model = WeightedEnsemble([Pipeline([("model", bag)]), _fit(prep, ctx, "linear", first)], [0.7, 0.3], n_classes)
    else:
        members = [_fit(prep, ctx, name, first) for name in ("linear", "lightgbm", "catboost")]
        model = (WeightedEnsemble(members, [0.5, 0.3, 0.2], n_classes) if kind == "weighted"
                 else _stack(prep, ctx, members, second))
    bundle = load(_bundle(tmp_path, prep, Pipeline([("model", model)])))
    result = export_onnx(bundle, tmp_path / "onnx")
    assert result.max_abs_difference <= result.allowed_difference
    # and on real rows: the graph gives the bundle's own predictions
    rows = bundle.prepare(prep.X.iloc[rest].reset_index(drop=True))
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_inputs(bundle, rows))
    if n_classes:
        expected = bundle.predict_proba_array(rows)
        np.testing.assert_allclose(outputs[1], expected, atol=1e-5)
        assert (outputs[0] == expected.argmax(axis=1)).all() or np.isclose(np.sort(expected)[:, -2:], 0.5).any()
    else:
        expected = np.asarray(bundle.pipeline.predict(rows))
        np.testing.assert_allclose(np.ravel(outputs[0]), expected, atol=1e-5 * np.abs(expected).max())
