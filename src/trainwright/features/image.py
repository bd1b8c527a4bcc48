"""Image pixels as features: a column of image paths -> one row of size*size*channels float32 values per image.

Pillow reads each file, converts it to grey (``L``) when every training image is grey and to ``RGB`` otherwise,
and resizes it to ``size`` x ``size`` (bilinear; the aspect ratio is not kept: the networks here see whole, small
images). Pixels are scaled to [0, 1] and standardised with each channel's mean and spread on the training images.
The row is channels-first (C, H, W) flattened, which is what ``ResidualCNN`` reshapes and what a linear model or
boosted trees read as plain columns (the "downsampled pixels" rung). A path that cannot be read at prediction
time becomes an all-zero image, never a crash in the middle of a batch (the door checks training files).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ImagePixels", "read_pixels"]

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P"}


def _is_grey(image: Any) -> bool:
    if image.mode == "P":  # a palette image is grey when its palette is
        image = image.convert("RGB")
    if image.mode in _GREY_MODES:
        return True
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))


def read_pixels(path: str, size: int, channels: int) -> np.ndarray:
    """One image as (channels, size, size) float32 in [0, 1]; zeros when the file cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except Exception:  # unreadable at prediction time: an empty image (training files were checked at the door)
        return np.zeros((channels, size, size), dtype=np.float32)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _paths(X: Any) -> list[str]:
    if isinstance(X, pd.DataFrame):
        X = X.iloc[:, 0]
    values = np.asarray(X, dtype=object).reshape(-1)
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


class ImagePixels(TransformerMixin, BaseEstimator):
    """Paths -> standardised pixels (see the module docstring). ``channels`` 0 decides from the training images."""

    def __init__(self, size: int = 16, channels: int = 0) -> None:
        self.size = size
        self.channels = channels

    def fit(self, X: Any, y: Any = None) -> ImagePixels:
        from PIL import Image

        paths = _paths(X)
        channels = self.channels
        if channels == 0:
            channels = 1
            for path in paths[:500]:  # a sample decides: colour when any image in it is colour
                try:
                    with Image.open(path) as image:
                        if not _is_grey(image):
                            channels = 3
                            break
                except Exception:
                    continue
        self.channels_ = channels
        pixels = self._read(paths).reshape(len(paths), channels, -1)
        self.mean_ = pixels.mean(axis=(0, 2)).astype(np.float32)
        self.scale_ = np.maximum(pixels.std(axis=(0, 2)), 1e-3).astype(np.float32)
        self.n_features_in_ = 1
        return self

    def _read(self, paths: list[str]) -> np.ndarray:
        out = np.empty((len(paths), self.channels_ * self.size * self.size), dtype=np.float32)
        for i, path in enumerate(paths):
            out[i] = read_pixels(path, self.size, self.channels_).reshape(-1)
        return out

    def transform(self, X: Any) -> np.ndarray:
        pixels = self._read(_paths(X)).reshape(-1, self.channels_, self.size * self.size)
        pixels -= self.mean_[None, :, None]
        pixels /= self.scale_[None, :, None]
        return pixels.reshape(len(pixels), -1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"px{c}_{i}" for c in range(self.channels_) for i in range(self.size * self.size)],
                          dtype=object)
