"""A free-text column as features. ``FeatureNeeds.text`` names the encoding; ``auto`` is TF-IDF over word 1-2 grams
(kept sparse for the models that take a sparse matrix) or, for the others, its truncated SVD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from trainwright.features.transformers import TextSVD

if TYPE_CHECKING:
    from trainwright.features.tabular import FeatureNeeds

__all__ = ["text_block"]


def text_block(needs: FeatureNeeds, dtype: Any, scaled: Sequence[object], random_state: int) -> object:
    """The transformer for one text column; ``scaled`` are the steps that end a scaled block."""
    if needs.text != "auto":
        raise ValueError(f"unknown text encoding {needs.text!r}; valid: auto")
    if needs.sparse:
        return TfidfVectorizer(max_features=20_000, ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=dtype)
    text = TextSVD(random_state=random_state)
    return make_pipeline(text, *scaled) if needs.scale else text
