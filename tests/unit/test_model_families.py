"""One file adds a model family: the example family in tests/unit/example_family/centroid.py, found by the same
discovery the registry runs, trains, goes into a bundle through its own serializer and comes back identical."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline

from tests.conftest import dataset_path
from trainwright.bundle import load, trusted_types, write_bundle
from trainwright.config import load_config
from trainwright.data import TaskKind
from trainwright.exceptions import BundleError
from trainwright.models import BuildContext, all_specs, get_serializer, get_spec, registry
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import Prepared, prepare

EXAMPLE = Path(__file__).resolve().parent / "example_family"
MODULE = "trainwright.models.centroid"
SRC = Path(__file__).resolve().parents[2] / "src" / "trainwright"


@contextlib.contextmanager
def dropped_in() -> Iterator[None]:
    """centroid.py as if it had been dropped into src/trainwright/models/: the package's search path gains its
    folder, and the registry runs its discovery again, as a fresh ``import trainwright`` would. Nothing else."""
    import trainwright.models as package

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(package, "__path__", [*package.__path__, str(EXAMPLE)])
        patch.setattr(registry, "REGISTRY", registry.discover())
        try:
            yield
        finally:
            sys.modules.pop(MODULE, None)


@pytest.fixture(scope="module")
def penguins() -> Prepared:
    return prepare(pd.read_csv(dataset_path("penguins")), load_config(None, target="species"))


def _documents(prep: Prepared) -> dict[str, object]:
    return {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "centroid"},
            "metrics": {}}


def test_the_family_is_one_file_that_nothing_else_names() -> None:
    assert [p.name for p in EXAMPLE.iterdir() if p.suffix == ".py"] == ["centroid.py"]
    named = re.compile(r"\bcentroid\b|CentroidClassifier")
    assert not [p for p in SRC.rglob("*.py") if named.search(p.read_text(encoding="utf-8"))]
    assert "centroid" not in {s.name for s in all_specs()}  # not there until the file is


def test_a_dropped_in_family_is_discovered_in_ladder_order() -> None:
    with dropped_in():
        names = [s.name for s in all_specs()]
        spec = get_spec("centroid")
        estimator = spec.build(BuildContext(TaskKind.MULTICLASS, n_rows=100, n_classes=3, random_state=0), spec.params())
        assert get_serializer("centroid") is spec.serializer
    assert names[:4] == ["dummy", "linear", "centroid", "svm"]  # rung 2, and "centroid" sorts before "svm"
    assert len(names) == len(set(names))
    assert type(estimator).__module__ == MODULE
    assert "centroid" not in {s.name for s in all_specs()}  # gone again with the file


def _train_and_bundle(prep: Prepared, directory: Path) -> tuple[Pipeline, Path]:
    spec = get_spec("centroid")
    pipeline, _, _ = fit_pipeline(spec, FitContext(prep.schema, prep.task, n_jobs=1), prep.X, prep.y, spec.params())
    return pipeline, write_bundle(directory, pipeline, _documents(prep))


def test_train_bundle_load_round_trip_through_its_own_serializer(penguins: Prepared, tmp_path: Path) -> None:
    base = trusted_types()
    with dropped_in():
        pipeline, out = _train_and_bundle(penguins, tmp_path / "model")
        model = load(out)
        assert trusted_types() == base  # its estimator never enters the skops file: no types to allow
    info = json.loads((out / "native.json").read_text())
    assert info == {"serializer": "centroid", "step": "model", "model": {"temperature": 1.0}}
    assert "centroids.json" in json.loads((out / "manifest.json").read_text())["files"]
    assert not [t for t in sio.get_untrusted_types(file=out / "pipeline.skops") if "centroid" in t]
    assert type(model.pipeline[-1]).__name__ == "CentroidClassifier"
    np.testing.assert_array_equal(predict_matrix(model.pipeline, penguins.X, penguins.task),
                                  predict_matrix(pipeline, penguins.X, penguins.task))
    frame = pd.read_csv(dataset_path("penguins"))
    assert (model.predict(frame)["prediction"] == frame["species"]).mean() > 0.7


def test_without_the_family_its_bundle_is_refused_by_name(penguins: Prepared, tmp_path: Path) -> None:
    with dropped_in():
        _, out = _train_and_bundle(penguins, tmp_path / "model")
    with pytest.raises(BundleError, match="serializer this installation does not have") as info:
        load(out)
    assert [p.code for p in info.value.problems] == ["bundle.unknown_serializer"]
