"""The registry: family modules discovered in a fixed order, specs that build scikit-learn estimators, one
serializer per family, clear unknown-name errors."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from trainwright.data import TaskKind
from trainwright.exceptions import ConfigError
from trainwright.models import (
    REGISTRY,
    BuildContext,
    all_specs,
    get_spec,
    probabilities,
    registry,
    resolve,
    serializers,
)
from trainwright.models.serialize import SKOPS, Serializer

NAMES = ["dummy", "linear", "svm", "word2vec_linear", "knn", "random_forest", "extra_trees", "hist_gradient_boosting",
         "lightgbm", "xgboost", "catboost", "audio_cnn", "mlp", "cnn", "lstm", "minilm_linear", "efficientnet_lite0",
         "minilm_finetune"]


def test_registry_is_the_ladder_simplest_first() -> None:
    assert [s.name for s in REGISTRY] == NAMES
    rungs = [s.rung for s in all_specs()]
    assert rungs == sorted(rungs) and rungs[0] == 0
    assert [s.name for s in all_specs() if s.is_baseline] == ["dummy"]
    assert len({s.name for s in all_specs()}) == len(all_specs())


def test_registry_is_what_discovery_finds_in_the_package() -> None:
    assert registry.discover() == REGISTRY
    assert BuildContext(TaskKind.BINARY, 10, 2, 0).device == "cpu"


def _family(specs: str) -> str:
    return ("from dataclasses import replace\nfrom trainwright.models import get_spec\n"
            f"_D = get_spec('dummy')\nSPECS = {specs}\n")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A throwaway package of family modules: ``make(files)`` writes them and returns the package's name."""
    name = f"families_{tmp_path.name.replace('-', '_')}"

    def make(files: dict[str, str]) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        for module, text in files.items():
            (tmp_path / name / f"{module}.py").write_text(text)
        monkeypatch.syspath_prepend(str(tmp_path))
        return name

    yield make
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def test_discovery_orders_by_rung_then_module_then_position(package) -> None:
    name = package({
        "b_family": _family("(replace(_D, name='z', rung=1), replace(_D, name='w', rung=1))"),
        "a_family": _family("(replace(_D, name='x', rung=3), replace(_D, name='y', rung=1))"),
        "helpers": "VALUE = 1\n",  # no SPECS: not a family
        "_private": _family("(replace(_D, name='hidden'),)"),  # private modules are not scanned
    })
    assert [s.name for s in registry.discover(name)] == ["y", "z", "w", "x"]


@pytest.mark.parametrize(("files", "message"), [
    ({"a": _family("[_D]")}, "must be a tuple of ModelSpec"),
    ({"a": _family("(replace(_D, name='same'),)"), "b": _family("(replace(_D, name='same'),)")},
     "used twice.*same"),
])
def test_discovery_refuses_malformed_families(package, files: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.discover(package(files))


def test_every_family_declares_its_serializer_once() -> None:
    assert all(s.serializer is not SKOPS for s in REGISTRY)
    names = [s.name for s in serializers()]
    assert len(names) == len(set(names))
    # the ensemble has no spec; the text features (word vectors, MiniLM) travel inside pipelines of other models
    assert {s.serializer.name for s in REGISTRY} | {"ensemble", "text_features"} == set(names)
    assert [s.name for s in serializers() if s.is_native] == ["lightgbm", "xgboost", "catboost", "audio_cnn", "neural",
                                                              "text_net", "pretrained_image"]


def test_two_serializers_under_one_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    impostor = replace(get_spec("dummy"), name="impostor", serializer=Serializer("trees"))
    monkeypatch.setattr(registry, "REGISTRY", (*REGISTRY, impostor))
    with pytest.raises(ConfigError, match="'trees'"):
        serializers()


def test_resolve_returns_ladder_order_whatever_was_asked() -> None:
    assert [s.name for s in resolve(["lightgbm", "dummy", "linear"])] == ["dummy", "linear", "lightgbm"]
    assert get_spec("knn").name == "knn"


def test_unknown_names_reported_together_with_suggestion_and_valid_list() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(["lightgmb", "dummy", "nope"])
    problems = info.value.problems
    assert [p.message for p in problems] == ["unknown model 'lightgmb'", "unknown model 'nope'"]
    assert "did you mean 'lightgbm'?" in (problems[0].fix or "")
    assert all(name in (problems[1].fix or "") for name in NAMES)


def test_params_defaults_scaling_and_overrides() -> None:
    spec = get_spec("random_forest")
    assert spec.params() == dict(spec.defaults)
    assert spec.params(size_scale=0.5)["n_estimators"] == 150
    assert spec.params(size_scale=0.01)["n_estimators"] == 10  # never below 10
    assert spec.params({"n_estimators": 7, "min_samples_leaf": 3}, size_scale=2.0)["n_estimators"] == 7
    assert get_spec("linear").params(size_scale=0.5) == dict(get_spec("linear").defaults)  # no ensemble to scale


def test_gradient_boosters_early_stop_and_others_do_not() -> None:
    stoppers = {s.name for s in all_specs() if s.early_stopping is not None}
    assert stoppers == {"hist_gradient_boosting", "lightgbm", "xgboost", "catboost", "mlp", "cnn", "audio_cnn", "lstm",
                        "efficientnet_lite0", "minilm_finetune"}
    for name in stoppers:
        fixed = get_spec(name).early_stopping.fixed(get_spec(name).params(), 17)  # type: ignore[union-attr]
        assert fixed["n_estimators"] == 17


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", list(TaskKind))
def test_build_gives_a_clonable_unfitted_estimator_seeded(name: str, task: TaskKind) -> None:
    spec = get_spec(name)
    ctx = BuildContext(task=task, n_rows=500, n_classes=3 if task is TaskKind.MULTICLASS else 2, random_state=42, n_jobs=1)
    est = spec.build(ctx, spec.params())
    clone(est)  # hyperparameters only in __init__
    assert hasattr(est, "fit")
    assert hasattr(est, "predict_proba") == (task is not TaskKind.REGRESSION)
    params = est.get_params()
    seeds = [v for k, v in params.items() if k.endswith(("random_state", "random_seed")) and v is not None]
    assert all(v == 42 for v in seeds), params  # randomness only via the one seed
    if name not in {"dummy", "knn"} and not (name == "svm" and task is TaskKind.REGRESSION):
        assert seeds, params


def test_svm_kernel_switches_to_linear_on_large_data() -> None:
    spec = get_spec("svm")
    small = spec.build(BuildContext(TaskKind.BINARY, 1000, 2, 0), spec.params())
    large = spec.build(BuildContext(TaskKind.BINARY, 100_000, 2, 0), spec.params())
    assert type(small).__name__ == type(large).__name__ == "CalibratedClassifierCV"  # Platt-scaled probabilities
    assert type(small.estimator).__name__ == "SVC" and small.estimator.kernel == "rbf" and not small.ensemble
    assert type(large.estimator).__name__ == "LinearSVC"


def test_svm_uses_no_deprecated_scikit_learn_parameter() -> None:
    import warnings

    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    spec = get_spec("svm")
    for n_rows in (150, 100_000):  # kernel and linear forms
        model = spec.build(BuildContext(TaskKind.MULTICLASS, n_rows, 3, 0), spec.params())
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a FutureWarning / DeprecationWarning fails here
            proba = model.fit(X, y).predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)


class _Fixed:
    def __init__(self, proba: np.ndarray, classes: list[int]) -> None:
        self.proba, self.classes_ = proba, np.asarray(classes)

    def predict_proba(self, X: object) -> np.ndarray:
        return self.proba


def test_probabilities_widen_unseen_classes_and_renormalise() -> None:
    est = _Fixed(np.array([[0.25, 0.75], [1.0, 0.0]], dtype=np.float32), [0, 2])  # class 1 never seen in training
    out = probabilities(est, None, 3)
    np.testing.assert_allclose(out, [[0.25, 0.0, 0.75], [1.0, 0.0, 0.0]])
    assert out.dtype == np.float64
    drift = _Fixed(np.array([[0.3, 0.3000001], [0.0, 0.0]]), [0, 1])
    out = probabilities(drift, None, 2)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(out[1], [0.5, 0.5])  # all-zero row becomes uniform, not NaN
