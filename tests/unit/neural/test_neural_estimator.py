"""Torch networks as scikit-learn estimators, and their bundle form: safetensors weights + a JSON description."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from trainwright.data import TaskKind
from trainwright.models import BuildContext, get_serializer, get_spec
from trainwright.models.neural import MLP, NeuralClassifier, NeuralRegressor


def _table(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    return X, X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=n)


def _small(cls: type, **kwargs: object) -> object:
    settings: dict[str, object] = {"hidden": (16,), "max_epochs": 30, "batch_size": 32, "lr": 1e-2, "n_jobs": 1}
    return cls(**{**settings, **kwargs})


def test_it_is_a_scikit_learn_estimator() -> None:
    est = NeuralClassifier(hidden=(8,), max_epochs=3)
    assert clone(est).get_params() == est.get_params()
    X, y = _table()
    labels = np.where(y > 0, "yes", "no")
    fitted = est.fit(X, labels)
    assert fitted is est and list(est.classes_) == ["no", "yes"] and est.n_features_in_ == 6
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(est.predict(X)) <= {"no", "yes"}
    assert pickle.loads(pickle.dumps(est)).predict_proba(X[:5]).shape == (5, 2)


def test_classifier_learns_with_class_weights_and_label_smoothing() -> None:
    X, y = _table()
    labels = (y > 1.0).astype(int)  # imbalanced
    est = _small(NeuralClassifier, class_weight="balanced", label_smoothing=0.05).fit(X, labels)
    assert (est.predict(X) == labels).mean() > 0.85
    assert est.predict(X).sum() > 0  # the minority class is predicted


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_regressor_predicts_in_the_targets_units(loss: str) -> None:
    X, y = _table()
    est = _small(NeuralRegressor, loss=loss).fit(X, 100 + 50 * y)
    pred = est.predict(X)
    assert pred.shape == (len(X),) and np.corrcoef(pred, 100 + 50 * y)[0, 1] > 0.9
    assert abs(pred.mean() - (100 + 50 * y).mean()) < 20


def test_early_stopping_on_an_eval_set_keeps_the_best_epoch() -> None:
    X, y = _table()
    est = _small(NeuralRegressor, patience=3, max_epochs=300).fit(X[:180], y[:180], eval_set=(X[180:], y[180:]))
    assert 1 <= est.best_epoch_ <= len(est.history_) < 300 and est.stopped_ == "early_stopping"
    assert "val_score" in est.history_[0]


def test_the_spec_builds_from_the_context() -> None:
    ctx = BuildContext(TaskKind.BINARY, n_rows=500, n_classes=2, random_state=7, n_jobs=1, device="cpu")
    est = MLP.build(ctx, MLP.params())
    assert isinstance(est, NeuralClassifier) and est.random_state == 7 and est.hidden == (256, 128)
    assert est.batch_size == 50  # ten steps an epoch on a small table
    assert isinstance(MLP.build(BuildContext(TaskKind.REGRESSION, 500, 0, 0), MLP.params()), NeuralRegressor)
    assert get_spec("mlp") is MLP and MLP.rung > get_spec("catboost").rung


def test_importing_the_family_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, trainwright.models.registry, trainwright.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cls", [NeuralClassifier, NeuralRegressor])
def test_bundle_form_is_safetensors_and_json_and_predicts_identically(cls: type, tmp_path: Path) -> None:
    X, y = _table()
    target = (y > 0).astype(int) if cls is NeuralClassifier else y
    est = _small(cls).fit(X, target)
    serializer = get_serializer("neural")
    assert serializer is not None and serializer.handles(est)
    description = serializer.save(est, tmp_path)
    json.dumps(description)  # plain JSON
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    assert description["architecture"]["kind"] == "mlp" and description["architecture"]["hidden"] == [16]
    back = serializer.load(json.loads(json.dumps(description)), tmp_path)
    assert type(back) is cls and back.device == "cpu"
    if cls is NeuralClassifier:
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_a_bundle_naming_an_unknown_network_is_refused(tmp_path: Path) -> None:
    X, y = _table()
    est = _small(NeuralRegressor, max_epochs=1).fit(X, y)
    serializer = get_serializer("neural")
    assert serializer is not None
    description = serializer.save(est, tmp_path)
    description["architecture"]["kind"] = "os.system"
    with pytest.raises(ValueError, match="unknown network kind"):
        serializer.load(description, tmp_path)


def test_the_ladder_sends_the_per_epoch_curve_as_an_event() -> None:
    import pandas as pd

    from trainwright.config import load_config
    from trainwright.data import holdout_plan
    from trainwright.training import FitContext
    from trainwright.training.ladder import climb
    from trainwright.workflow import prepare

    X, y = _table(200)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(target=np.where(y > 0, "a", "b"))
    prep = prepare(frame, load_config(None, target="target"))
    events: list[object] = []
    ctx = FitContext(prep.schema, prep.task, n_jobs=1, listener=events.append)
    climb([MLP], prep.X, prep.y, holdout_plan(150, 50, seed=0),
          ctx.__class__(**{**ctx.__dict__, "size_scale": 0.05}))  # 10 epochs at most
    (curve,) = [e for e in events if getattr(e, "step", None) == "curve"]
    assert curve.spec is MLP and 1 <= len(curve.payload) <= 10  # type: ignore[attr-defined]
    assert {"epoch", "train_loss", "val_score", "lr", "seconds"} <= set(curve.payload[0])  # type: ignore[attr-defined]


def test_the_deadline_cuts_an_early_stopping_fit_but_not_a_fixed_refit() -> None:
    X, y = _table()
    cut = _small(NeuralRegressor, max_epochs=50, patience=None, deadline=0.0).fit(X, y, eval_set=(X, y))
    assert cut.stopped_ == "deadline" and len(cut.history_) == 1 and cut.best_epoch_ == 1
    refit = _small(NeuralRegressor, max_epochs=3, deadline=0.0).fit(X, y)
    assert refit.stopped_ == "max_epochs" and len(refit.history_) == 3
