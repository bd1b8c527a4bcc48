"""The text ladder (after TF-IDF + logistic regression, which is the ``linear`` rung on a text column):

- rung 2, ``word2vec_linear``: word vectors learned on the training texts (gensim Word2Vec), averaged per text,
  + logistic or ridge regression;
- rung 7, ``lstm``: a bidirectional LSTM on a BPE tokenizer learned from the training texts;
- rung 7, ``minilm_linear``: frozen all-MiniLM-L6-v2 sentence embeddings + logistic or ridge regression;
- rung 8, ``minilm_finetune``: that MiniLM fine-tuned end to end, within the time budget (mixed precision on CUDA).

The embedding rungs are preprocessing (``FeatureNeeds.text``, features/text.py): the embeddings join the table's
other columns, so text beside tabular columns works and the bundle's skops pipeline holds only arrays (MiniLM is
recorded by package and version and loaded from the package, never copied into the bundle). The networks read the
raw text and keep the other columns as extra inputs (``_text_estimator``); in a bundle they are a safetensors
weights file, the tokenizer's JSON and a JSON description, nothing that runs code when read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.features import text as text_features
from trainwright.models import linear
from trainwright.models._text_estimator import TextNetClassifier, TextNetEstimator, TextNetRegressor
from trainwright.models.neural import EARLY_STOPPING  # one early-stopping rule for every network
from trainwright.models.serialize import (
    Serializer,
    bundle_file,
    describe_estimator,
    rebuild_estimator,
    save_weights,
)
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["LSTM", "MINILM_FINETUNE", "MINILM_LINEAR", "SERIALIZERS", "SPECS", "TEXT_FEATURES", "TEXT_NET",
           "WORD2VEC_LINEAR"]

_WEIGHTS_FILE = "text_model.safetensors"
_TOKENIZER_FILE = "tokenizer.json"
# estimator parameters a bundle records (device, deadline and threads belong to one training run)
_KEPT = ("network", "cell", "vocab_size", "embed_dim", "units", "max_len", "dropout", "max_epochs", "batch_size", "lr",
         "weight_decay", "schedule", "warmup", "patience", "precision", "random_state")

# the text transformers the bundle's skops pipeline may hold (arrays, a vocabulary, a package name and version)
TEXT_FEATURES = Serializer("text_features", trusted_types=frozenset(
    f"{text_features.__name__}.{name}" for name in ("MiniLMEmbeddings", "RawText", "WordVectorMean")))


def _threads(ctx: BuildContext) -> int:
    """One torch thread on a machine of two cores or fewer (spinning threads lose badly there, see neural.py)."""
    cores = ctx.n_jobs if ctx.n_jobs > 0 else (os.cpu_count() or 1)
    return 1 if cores <= 2 else cores


def _network(ctx: BuildContext, params: Mapping[str, Any], **fixed: Any) -> TextNetEstimator:
    kind = TextNetRegressor if ctx.task is TaskKind.REGRESSION else TextNetClassifier
    # ``n_estimators`` is what early stopping found on a refit, ``epochs`` the ceiling: a preset's ensemble-size
    # scale (which raises n_estimators to at least 10) must not stretch a network's training or its LR schedule
    epochs = min(int(params["n_estimators"]), int(params.get("epochs", params["n_estimators"])))
    return kind(max_epochs=max(1, epochs), batch_size=int(params["batch_size"]),
                lr=float(params["lr"]), weight_decay=float(params["weight_decay"]), dropout=float(params["dropout"]),
                max_len=int(params["max_len"]), patience=params.get("patience"), device=ctx.device,
                random_state=ctx.random_state, n_jobs=_threads(ctx), deadline=ctx.deadline, **fixed)


def _lstm(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    return _network(ctx, params, network="rnn", cell="lstm", vocab_size=int(params["vocab_size"]),
                    embed_dim=int(params["embed_dim"]), units=int(params["units"]))


def _minilm(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    return _network(ctx, params, network="minilm", warmup=0.1)


def _lstm_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    return {"units": CategoricalDistribution((32, 64, 128)), "embed_dim": CategoricalDistribution((64, 100, 200)),
            "dropout": FloatDistribution(0.0, 0.5), "lr": FloatDistribution(5e-4, 1e-2, log=True)}


# --- the networks in a bundle: safetensors weights + the tokenizer's JSON + a JSON description ------------------
def _save(estimator: Any, directory: Path) -> dict[str, Any]:

    save_weights(estimator.module_, Path(directory) / _WEIGHTS_FILE)
    (Path(directory) / _TOKENIZER_FILE).write_text(estimator.tokenizer_.to_str(), encoding="utf-8")
    return describe_estimator(
        estimator, isinstance(estimator, TextNetClassifier), _KEPT,
        architecture=json.loads(json.dumps(estimator.architecture(), default=str)),
        text_columns=[int(j) for j in estimator.text_columns_], n_features_in=int(estimator.n_features_in_),
        n_tokens=int(estimator.n_tokens_), n_extra=int(estimator.n_extra_), best_epoch=int(estimator.best_epoch_))


def _load(description: Mapping[str, Any], directory: Path) -> Any:
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from trainwright.models._text_nets import build_text_network

    estimator = rebuild_estimator(description, {"classifier": TextNetClassifier, "regressor": TextNetRegressor}, _KEPT)
    estimator.text_columns_ = [int(j) for j in description["text_columns"]]
    estimator.n_features_in_ = int(description["n_features_in"])
    estimator.n_tokens_, estimator.n_extra_ = int(description["n_tokens"]), int(description["n_extra"])
    estimator.best_epoch_ = int(description["best_epoch"])
    estimator.tokenizer_ = Tokenizer.from_str(bundle_file(directory, _TOKENIZER_FILE).read_text(encoding="utf-8"))
    architecture = dict(description["architecture"])
    estimator.encoder_config_ = architecture.get("encoder")
    module = build_text_network(architecture)
    module.load_state_dict(load_file(str(bundle_file(directory, _WEIGHTS_FILE)), device="cpu"), strict=True)
    estimator.module_ = module.eval()
    estimator.history_, estimator.stopped_ = [], "loaded"
    return estimator


TEXT_NET = Serializer("text_net", handles=lambda est: isinstance(est, TextNetEstimator), save=_save, load=_load)
SERIALIZERS = (TEXT_FEATURES,)

_TORCH_TAGS = frozenset({"needs_torch", "uses_gpu", "text"})

WORD2VEC_LINEAR = ModelSpec(
    name="word2vec_linear", family="text", rung=2, build=linear._build,
    needs=FeatureNeeds(scale=True, float32=True, text="word2vec"),
    defaults={"C": 1.0, "alpha": 1.0, "max_iter": 2000}, search_space=linear._space, relative_cost=5.0,
    tags=frozenset({"text"}), serializer=linear.SERIALIZER,
    description="Word2Vec learned on the training texts, averaged per text, + logistic or ridge regression",
)

LSTM = ModelSpec(
    name="lstm", family="text", rung=7, build=_lstm,
    needs=FeatureNeeds(scale=True, float32=True, text="raw"),
    defaults={"n_estimators": 8, "epochs": 8, "vocab_size": 8000, "embed_dim": 100, "units": 64, "max_len": 256, "dropout": 0.3,
              "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 64, "patience": 2},
    search_space=_lstm_space, early_stopping=EARLY_STOPPING, relative_cost=60.0, tags=_TORCH_TAGS,
    serializer=TEXT_NET,
    description="bidirectional LSTM (PyTorch) on a BPE tokenizer learned from the training texts",
)

MINILM_LINEAR = ModelSpec(
    name="minilm_linear", family="text", rung=7, build=linear._build,
    needs=FeatureNeeds(scale=True, float32=True, text="minilm"),
    # C=0.1: 384 standardised embedding dimensions overfit a few thousand texts at C=1 (fine_foods validation
    # ROC-AUC 0.8115 at C=0.1, 0.8053 at C=1; frozen MiniLM tops out near 0.82 there, fine-tuning reaches 0.90)
    defaults={"C": 0.1, "alpha": 10.0, "max_iter": 2000}, search_space=linear._space,
    portfolio=({"C": 0.03, "alpha": 30.0}, {"C": 1.0, "alpha": 1.0}), relative_cost=50.0,
    tags=frozenset({"text", "needs_torch"}), serializer=linear.SERIALIZER,
    description="frozen all-MiniLM-L6-v2 sentence embeddings (sentence-transformers) + logistic or ridge regression",
)

MINILM_FINETUNE = ModelSpec(
    name="minilm_finetune", family="text", rung=8, build=_minilm,
    needs=FeatureNeeds(scale=True, float32=True, text="raw"),
    defaults={"n_estimators": 3, "epochs": 3, "max_len": 128, "dropout": 0.1, "lr": 5e-5, "weight_decay": 0.01,
              "batch_size": 16, "patience": 1},
    early_stopping=EARLY_STOPPING, relative_cost=80.0, tags=_TORCH_TAGS, serializer=TEXT_NET,
    description="all-MiniLM-L6-v2 fine-tuned end to end (transformers; mixed precision on CUDA)",
)

# Relative costs measured on fine_foods (3000 training reviews, 2 busy cores) against TF-IDF + logistic regression:
# word2vec ~5x, MiniLM embeddings ~50x, the LSTM ~70x; fine-tuning is cut by the deadline, so it asks for about one
# epoch (~80x) before it starts.
SPECS = (WORD2VEC_LINEAR, LSTM, MINILM_LINEAR, MINILM_FINETUNE)
