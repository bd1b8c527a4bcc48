"""Preprocessing chosen from the schema and from what the model needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from trainwright.data import Role, Schema
from trainwright.features.audio import audio_features
from trainwright.features.image import ImagePixels
from trainwright.features.text import text_block
from trainwright.features.transformers import AsFloat32, DatetimeFeatures, SkewedLog1p

__all__ = ["HIGH_CARDINALITY", "FeatureNeeds", "build_preprocessor"]

HIGH_CARDINALITY = 30
MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class FeatureNeeds:
    """What a model asks of its input."""

    scale: bool = False  # standardise numbers (and log1p heavily skewed ones)
    one_hot: bool = True  # one-hot low-cardinality categoricals; else ordinal codes
    handles_missing: bool = False  # NaN may reach the model
    sparse: bool = False  # a sparse matrix may reach the model (TF-IDF kept sparse)
    float32: bool = False  # the model computes in float32 without copying (scaled blocks only: values near 1)
    image_size: int = 16  # image-path columns become image_size x image_size pixels (features/image.py)
    audio: str = "mfcc"  # audio-path columns (features/audio.py): mfcc (summary statistics) | logmel (spectrogram)
    text: str = "auto"  # free text as features (features/text.py): auto (TF-IDF or its SVD) | word2vec | minilm | raw
    uses_features: bool = True  # False for baselines that ignore X: no preprocessing at all, no matrix


def _scaled(needs: FeatureNeeds) -> list[object]:
    """The end of a block that is scaled. Every step placed before it (SkewedLog1p, TargetEncoder, the imputers,
    TextSVD) returns a fresh array, so the scaler may work in place."""
    return [StandardScaler(copy=False), AsFloat32()] if needs.float32 else [StandardScaler(copy=False)]


def _numeric(needs: FeatureNeeds) -> Pipeline | str:
    steps: list[object] = []
    if not needs.handles_missing or needs.scale:
        steps.append(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    if needs.scale:
        steps += [SkewedLog1p(), *_scaled(needs)]
    return make_pipeline(*steps) if steps else "passthrough"


def _then_scaled(needs: FeatureNeeds, steps: list[object]) -> list[object]:
    """A block whose last step builds a fresh array: scale it (in place) when the model needs it."""
    return steps + _scaled(needs) if needs.scale else steps


def build_preprocessor(schema: Schema, needs: FeatureNeeds, X_train: pd.DataFrame, random_state: int = 0) -> ColumnTransformer:
    """A ColumnTransformer for ``schema``'s feature columns; cardinality is read from ``X_train``."""
    if not needs.uses_features:  # an (n, 0) matrix: a baseline needs the row count, nothing else
        return ColumnTransformer([], remainder="drop")
    dtype = np.float32 if needs.float32 else np.float64
    numeric = schema.names(Role.NUMERIC)
    categorical = schema.names(Role.CATEGORICAL)
    low = [c for c in categorical if X_train[c].nunique() <= HIGH_CARDINALITY]
    high = [c for c in categorical if c not in low]
    transformers: list[tuple[str, object, object]] = []
    if numeric:
        transformers.append(("num", _numeric(needs), numeric))
    if low:
        impute = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
        if needs.one_hot:
            encoder: object = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=needs.sparse,
                                    dtype=dtype)
        else:
            encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        transformers.append(("cat", make_pipeline(impute, encoder), low))
    if high:
        steps = _then_scaled(needs, [SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
                                     TargetEncoder(cv=KFold(5, shuffle=True, random_state=random_state))])
        transformers.append(("cat_high", make_pipeline(*steps), high))
    dates = schema.names(Role.DATETIME)
    if dates:
        steps = _then_scaled(needs, [DatetimeFeatures(), SimpleImputer(strategy="median", keep_empty_features=True)])
        transformers.append(("date", make_pipeline(*steps), dates))
    for col in schema.names(Role.TEXT):
        transformers.append((f"text_{col}", text_block(needs, dtype, _scaled(needs), random_state), col))
    for col in schema.names(Role.IMAGE):
        transformers.append((f"image_{col}", ImagePixels(size=needs.image_size), col))
    for col in schema.names(Role.AUDIO):  # MFCC statistics are plain columns, scaled for the models that need it
        block: object = audio_features(needs.audio)  # the log-mel spectrogram comes standardised already
        if needs.audio == "mfcc" and needs.scale:
            block = make_pipeline(*_then_scaled(needs, [block]))
        transformers.append((f"audio_{col}", block, col))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.3 if needs.sparse else 0.0,
                             verbose_feature_names_out=True)
