"""What the dense models share: the arrays they train on, their settings, their spec, and their bundle.

A dense bundle is a folder with ``dense.json`` (format, task, model name, classes, input size, parameters,
scores, the SHA-256 of every other file) and ``weights.safetensors`` (every learned array, a LightGBM model as its
text bytes included). No pickle: loading reads tensors and JSON, then rebuilds the model from its spec's name.
The models live in ``segmentation.py`` and ``detection.py`` (their ``DENSE_SPECS``, kept apart from the tabular
ladder's ``SPECS``). Images are read with Pillow, imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from trainwright.exceptions import BundleError, DataError, Problem

__all__ = ["DENSE_FILE", "DENSE_FORMAT", "DenseArrays", "DenseModel", "DenseSettings", "DenseSpec", "Detections",
           "is_dense_bundle", "load_dense_bundle", "mean_object_iou", "read_image", "save_dense_bundle"]

DENSE_FILE = "dense.json"
DENSE_FORMAT = "trainwright-dense/1"
WEIGHTS_FILE = "weights.safetensors"
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (n, 4: x, y, w, h), labels (n,), scores (n,)


@dataclass(frozen=True)
class DenseArrays:
    """Images (N, 3, S, S) float32 in 0..1, masks (N, S, S) int64 of class indices (0 = background) or None, and
    per image the boxes (n, 5: x, y, w, h, label) in pixels of the S x S input."""

    images: np.ndarray
    masks: np.ndarray | None
    boxes: tuple[np.ndarray, ...]

    def subset(self, idx: Sequence[int] | np.ndarray) -> DenseArrays:
        idx = np.asarray(idx, dtype=np.int64)
        return DenseArrays(self.images[idx], None if self.masks is None else self.masks[idx],
                           tuple(self.boxes[i] for i in idx))

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class DenseSettings:
    """How long and how hard a dense model trains; ``deadline`` is ``time.monotonic`` seconds."""

    max_epochs: int = 40
    batch_size: int = 16
    lr: float = 3e-3
    patience: int | None = 8
    deadline: float = math.inf
    device: str = "auto"
    seed: int = 0
    n_threads: int | None = None
    augment: bool = True


class DenseModel(Protocol):
    name: str
    classes: tuple[str, ...]

    def fit(self, train: DenseArrays, valid: DenseArrays, settings: DenseSettings) -> DenseModel: ...

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...


@dataclass(frozen=True)
class DenseSpec:
    """A rung of the dense ladder. ``needs_masks``: trains on masks (a detection baseline from segmentation)."""

    name: str
    task: str  # segmentation | detection
    rung: int
    description: str
    build: Callable[[tuple[str, ...], dict[str, Any]], Any]
    needs_masks: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


def read_image(path: str | Path | BinaryIO, size: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """An RGB image as float32 (3, size, size) in 0..1 (resized when ``size``), and its original (width, height)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except Exception as exc:  # Pillow raises many types for a broken or foreign file
        raise DataError(f"cannot read image {path}", [Problem("image.unreadable", f"{path}: {type(exc).__name__}: "
                                                              f"{str(exc)[:120]}", fix="replace or remove it")]) from None
    original = rgb.size
    if size is not None and rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0, original


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_dense_bundle(path: str | Path) -> bool:
    return (Path(path) / DENSE_FILE).is_file()


def save_dense_bundle(folder: str | Path, model: DenseModel, spec: DenseSpec, meta: dict[str, Any]) -> Path:
    """Write ``weights.safetensors`` and ``dense.json`` (last, with the weights' SHA-256) into ``folder``."""
    from safetensors.numpy import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tensors, params = model.state()
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(out / WEIGHTS_FILE))
    manifest = {"format": DENSE_FORMAT, "task": spec.task, "model": spec.name, "classes": list(model.classes),
                "params": params, **meta, "files": {WEIGHTS_FILE: _sha256(out / WEIGHTS_FILE)}}
    (out / DENSE_FILE).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return out


def load_dense_bundle(folder: str | Path, specs: Sequence[DenseSpec]) -> tuple[Any, dict[str, Any]]:
    """The model and its manifest; a missing, altered or foreign bundle is a BundleError naming the file."""
    from safetensors.numpy import load_file

    root = Path(folder)
    try:
        manifest = json.loads((root / DENSE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{root / DENSE_FILE} cannot be read: {exc}") from None
    if manifest.get("format") != DENSE_FORMAT:
        raise BundleError(f"{root}: unknown dense bundle format {manifest.get('format')!r}",
                          [Problem("bundle.format", f"expected {DENSE_FORMAT}", fix="retrain with this version")])
    for name, digest in manifest.get("files", {}).items():
        file = root / name
        if not file.is_file() or _sha256(file) != digest:
            raise BundleError(f"{file} is missing or altered since the bundle was written",
                              [Problem("bundle.altered", str(file), fix="restore the bundle from the run folder")])
    by_name = {spec.name: spec for spec in specs}
    spec = by_name.get(manifest.get("model"))
    if spec is None:
        raise BundleError(f"{root}: unknown dense model {manifest.get('model')!r}; known: {', '.join(by_name)}")
    model = spec.build(tuple(manifest["classes"]), manifest.get("params", {}))
    model.load_state(load_file(str(root / WEIGHTS_FILE)))
    return model, manifest


def mean_object_iou(true: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean IoU over the object classes (1..n-1) present in truth or prediction: the early-stopping score of the
    segmenters (the reported scores come from ``evaluation.dense_metrics``, which a test checks this against)."""
    t, p = np.asarray(true).ravel().astype(np.int64), np.asarray(pred).ravel().astype(np.int64)
    m = np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(m)[1:].astype(np.float64)
    union = (m.sum(0) + m.sum(1))[1:] - tp
    return float(np.mean(tp[union > 0] / union[union > 0])) if (union > 0).any() else 0.0
