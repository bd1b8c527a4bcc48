"""The text rungs as registry specs: fitted the way the ladder fits them (tiny texts, one epoch), carried through a
bundle with identical predictions, with MiniLM's frozen weights left in its package; the networks read the
table's other columns beside the text."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.unit.text.corpus import reviews
from trainwright.bundle import write_bundle
from trainwright.bundle._format import read_pipeline
from trainwright.config import TEXT_MODELS, load_config
from trainwright.features.text import MINILM_PACKAGE, MiniLMEmbeddings
from trainwright.models import get_spec
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import prepare

TINY = {"lstm": {"n_estimators": 1, "epochs": 1, "embed_dim": 16, "units": 8, "vocab_size": 200, "max_len": 24},
        "minilm_finetune": {"n_estimators": 1, "epochs": 1, "max_len": 24, "batch_size": 16}}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    reviews(96, with_number=True).to_csv(path, index=False)
    return prepare(path, load_config(None, target="score", preset="quick", tracking=False))


def _fit(prepared, name: str, **params: object):
    spec = get_spec(name)
    ctx = FitContext(prepared.schema, prepared.task, random_state=0, n_jobs=1)
    train, val = np.arange(64), np.arange(64, 96)
    pipeline, best, _ = fit_pipeline(spec, ctx, prepared.X.iloc[train], prepared.y[train],
                                     {**spec.params(), **TINY.get(name, {}), **params},
                                     X_val=prepared.X.iloc[val], y_val=prepared.y[val])
    return pipeline, best, prepared.X.iloc[val], prepared.y[val]


def _round_trip(pipeline, X, task, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    before = predict_matrix(pipeline, X, task)
    write_bundle(directory, pipeline, {})
    return before, predict_matrix(read_pipeline(directory), X, task)


@pytest.mark.parametrize("name", ["lstm", "minilm_finetune"])
def test_a_text_network_survives_the_bundle(prepared, name: str, tmp_path: Path) -> None:
    pipeline, best, X_val, _ = _fit(prepared, name)
    network = pipeline[-1]
    assert best == 1 and network.n_extra_ == 1  # the price column rides beside the text
    before, after = _round_trip(pipeline, X_val, prepared.task, tmp_path / "b")
    np.testing.assert_array_equal(before, after)
    files = {p.name for p in (tmp_path / "b").iterdir()}
    assert {"text_model.safetensors", "tokenizer.json", "native.json"} <= files
    description = json.loads((tmp_path / "b" / "native.json").read_text())
    assert json.dumps(description)  # plain JSON: architecture, classes, tokenizer length
    assert not any(p.suffix in {".pkl", ".pt", ".bin"} for p in (tmp_path / "b").iterdir())


def test_the_lstm_refits_identically_with_the_same_seed(prepared) -> None:
    """The tokenizer it learns included: the same texts and seed give the same vocabulary and the same model."""
    first, _, X_val, _ = _fit(prepared, "lstm")
    second, _, _, _ = _fit(prepared, "lstm")
    assert first[-1].tokenizer_.to_str() == second[-1].tokenizer_.to_str()
    np.testing.assert_array_equal(first.predict_proba(X_val), second.predict_proba(X_val))


def test_the_lstm_learns_the_sentiment_words(prepared) -> None:
    """Not only a round trip: a few epochs on 64 tiny reviews separate the held-out ones."""
    pipeline, _, X_val, y_val = _fit(prepared, "lstm", n_estimators=15, epochs=15, patience=None, lr=1e-2,
                                    batch_size=8)
    assert roc_auc_score(y_val, predict_matrix(pipeline, X_val, prepared.task)[:, 1]) > 0.9


@pytest.mark.parametrize("name", ["word2vec_linear", "minilm_linear"])
def test_embedding_rungs_survive_the_bundle(prepared, name: str, tmp_path: Path) -> None:
    pipeline, _, X_val, y_val = _fit(prepared, name)
    before, after = _round_trip(pipeline, X_val, prepared.task, tmp_path / "b")
    np.testing.assert_array_equal(before, after)
    assert roc_auc_score(y_val, before[:, 1]) > (0.9 if name == "minilm_linear" else 0.6)
    size = sum(p.stat().st_size for p in (tmp_path / "b").iterdir())
    assert size < 5_000_000  # MiniLM's 90 MB of frozen weights stay in their package
    if name == "minilm_linear":
        (encoder,) = [s for s in read_pipeline(tmp_path / "b")[0].transformers_[1][1] if isinstance(s, MiniLMEmbeddings)]
        assert (encoder.package_, encoder.package_version_) == (MINILM_PACKAGE, version(MINILM_PACKAGE))


def test_text_rungs_are_registered_in_ladder_order() -> None:
    specs = [get_spec(n) for n in TEXT_MODELS]
    assert [s.rung for s in specs] == sorted(s.rung for s in specs)
    assert {"lstm", "minilm_linear", "minilm_finetune"} <= set(TEXT_MODELS)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_a_presets_size_scale_does_not_stretch_a_networks_epochs(scale: float) -> None:
    from trainwright.data import TaskKind
    from trainwright.models import BuildContext

    for name in ("lstm", "minilm_finetune"):
        spec = get_spec(name)
        network = spec.build(BuildContext(TaskKind.BINARY, 100, 2, 0), spec.params(size_scale=scale))
        assert network.max_epochs == spec.defaults["epochs"]
        refit = spec.build(BuildContext(TaskKind.BINARY, 100, 2, 0), spec.early_stopping.fixed(spec.params(), 2))
        assert refit.max_epochs == 2  # a refit trains for the epochs early stopping found


def test_heavy_text_libraries_stay_out_of_start_up_and_of_other_models() -> None:
    """The registry imports every models/*.py at start-up; none of the text libraries may come with it."""
    code = ("import sys; import trainwright.cli, trainwright.models, trainwright.features; "
            "print(sorted(m for m in ('sentence_transformers', 'transformers', 'gensim', 'tokenizers', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_a_text_network_regresses_and_survives_the_bundle(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    frame = reviews(64)
    frame["price"] = [len(t) / 10 for t in frame["review"]]  # a target the text's length explains
    frame.drop(columns="score").to_csv(path, index=False)
    prepared = prepare(path, load_config(None, target="price", preset="quick", tracking=False))
    spec = get_spec("lstm")
    ctx = FitContext(prepared.schema, prepared.task, random_state=0, n_jobs=1)
    pipeline, _, _ = fit_pipeline(spec, ctx, prepared.X, prepared.y, {**spec.params(), **TINY["lstm"]})
    before, after = _round_trip(pipeline, prepared.X, prepared.task, tmp_path / "b")
    np.testing.assert_array_equal(before, after)
    assert before.shape == (64,) and abs(before.mean() - prepared.y.mean()) < 3 * prepared.y.std()


def test_predicting_with_word_vectors_imports_neither_gensim_nor_sentence_transformers(prepared, tmp_path: Path) -> None:
    """A bundle whose model does not embed with MiniLM never pays sentence-transformers' import (3.9 s)."""
    pipeline, _, X_val, _ = _fit(prepared, "word2vec_linear")
    write_bundle(tmp_path / "b", pipeline, {})
    X_val.to_csv(tmp_path / "X.csv", index=False)
    code = ("import sys, pandas as pd; from trainwright.bundle._format import read_pipeline; "
            f"p = read_pipeline({str(tmp_path / 'b')!r}); p.predict_proba(pd.read_csv({str(tmp_path / 'X.csv')!r})); "
            "print(sorted(m for m in ('sentence_transformers', 'gensim', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
