"""Predicting with a dense bundle, for ``trainwright predict`` and the server: images of any size in, masks of the
input's size or boxes in the input's pixels out.

Each image is resized to the bundle's square input size, predicted, and the mask resized back by nearest neighbour
(or the boxes scaled back). Writers: one PNG of class indices per image; a boxes CSV (``file, label, score, x, y,
width, height``, top-left origin); COCO result JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.exceptions import IMAGE_SUFFIXES, ConfigError, DataError, Problem
from trainwright.fileio import atomic_output
from trainwright.models._dense_base import load_dense_bundle, read_image
from trainwright.models.detection import DENSE_SPECS as DETECTION_SPECS
from trainwright.models.segmentation import DENSE_SPECS as SEGMENTATION_SPECS

__all__ = ["DEFAULT_THRESHOLD", "DensePrediction", "DensePredictor", "prediction_json", "write_predictions"]

DEFAULT_THRESHOLD = 0.3  # boxes below this score are left out of a boxes CSV or a server answer
_BATCH = 16


@dataclass(frozen=True)
class DensePrediction:
    """One image's prediction in its own pixels: ``mask`` (H, W) uint8 class indices (segmentation), or boxes
    (n, 4: x, y, w, h), labels (class indices from 0) and scores (detection)."""

    width: int
    height: int
    mask: np.ndarray | None = None
    boxes: np.ndarray | None = None
    labels: np.ndarray | None = None
    scores: np.ndarray | None = None


class DensePredictor:
    """A loaded dense bundle (checked against its manifest)."""

    def __init__(self, bundle: str | Path) -> None:
        self.model, self.manifest = load_dense_bundle(bundle, SEGMENTATION_SPECS + DETECTION_SPECS)
        self.task: str = self.manifest["task"]
        self.classes: tuple[str, ...] = tuple(self.manifest["classes"])
        self.size = int(self.manifest["input_size"])
        self.category_ids: list[int] = list(self.manifest.get("category_ids") or range(1, len(self.classes) + 1))

    def predict_arrays(self, pixels: np.ndarray, sizes: Sequence[tuple[int, int]],
                       threshold: float) -> list[DensePrediction]:
        """``pixels`` (N, 3, S, S) resized images; ``sizes`` their original (width, height)."""
        from PIL import Image

        if self.task == "segmentation":
            masks = self.model.predict_masks(pixels)
            return [DensePrediction(w, h, mask=np.asarray(Image.fromarray(m).resize((w, h), Image.Resampling.NEAREST)))
                    for m, (w, h) in zip(masks, sizes, strict=True)]
        out = []
        for (boxes, labels, scores), (w, h) in zip(self.model.predict_boxes(pixels), sizes, strict=True):
            keep = scores >= threshold
            scale = np.array([w / self.size, h / self.size, w / self.size, h / self.size], np.float32)
            out.append(DensePrediction(w, h, boxes=boxes[keep] * scale, labels=labels[keep], scores=scores[keep]))
        return out

    def predict_files(self, paths: Sequence[Path], threshold: float) -> Iterator[tuple[Path, DensePrediction]]:
        for first in range(0, len(paths), _BATCH):
            chunk = paths[first:first + _BATCH]
            read = [read_image(p, self.size) for p in chunk]
            predictions = self.predict_arrays(np.stack([r[0] for r in read]), [r[1] for r in read], threshold)
            yield from zip(chunk, predictions, strict=True)

    def predict_bytes(self, body: bytes, threshold: float) -> DensePrediction:
        pixels, size = read_image(io.BytesIO(body), self.size)
        return self.predict_arrays(pixels[None], [size], threshold)[0]


def _inputs(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    found = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith(".") and "masks" not in p.relative_to(source).parts)
    if not found:
        raise DataError(f"no images in {source}", [Problem("predict.no_images", str(source),
                                                           fix=f"give a folder of images ({', '.join(IMAGE_SUFFIXES)})")])
    return found


def _or_empty(values: np.ndarray | None) -> np.ndarray:
    return np.zeros(0) if values is None else values


def _check_output(task: str, output: Path, fmt: str, protected: tuple[Path, ...] = ()) -> None:
    """The output fits the task, and is neither an input nor inside one (masks would overwrite the images)."""
    target = output.resolve()
    for path in protected:
        path = path.resolve()
        if target == path or path in target.parents:
            raise ConfigError(f"refusing to write predictions to {output}: it is (or is inside) the input {path}",
                              [Problem("predict.output", str(output), fix="write somewhere else, e.g. -o predictions/")])
    if task == "segmentation" and output.suffix:
        raise ConfigError(f"a segmentation bundle writes one mask PNG per image into a folder, not {output.name}",
                          [Problem("predict.output", str(output), fix="give a folder, e.g. -o masks/")])
    if task == "detection" and fmt == "csv" and output.suffix.lower() != ".csv":
        raise ConfigError(f"a detection bundle writes a boxes CSV, not {output}",
                          [Problem("predict.output", str(output), fix="give a .csv file, or --format coco and .json")])
    if task == "detection" and fmt == "coco" and output.suffix.lower() != ".json":
        raise ConfigError(f"--format coco writes COCO result JSON, not {output}",
                          [Problem("predict.output", str(output), fix="give a .json file")])


def write_predictions(bundle: str | Path, source: str | Path, output: str | Path, *, fmt: str = "csv",
                      threshold: float | None = None) -> int:
    """Predict every image of ``source`` (a file or a folder, searched recursively) and write masks, a boxes CSV
    or COCO results to ``output``; returns the number of images."""
    predictor = DensePredictor(bundle)
    source, output = Path(source), Path(output)
    _check_output(predictor.task, output, fmt, (source, Path(bundle)))
    paths = _inputs(source)
    if predictor.task == "segmentation":
        return _write_masks(predictor, paths, source, output)
    rows: list[dict[str, Any]] = []
    for n, (path, pred) in enumerate(predictor.predict_files(paths, DEFAULT_THRESHOLD if threshold is None
                                                             else threshold), 1):
        name = str(path.relative_to(source)) if source.is_dir() else path.name
        for box, label, score in zip(_or_empty(pred.boxes), _or_empty(pred.labels), _or_empty(pred.scores),
                                     strict=True):
            rows.append({"image_id": n, "file": name, "label": predictor.classes[int(label)],
                         "category_id": predictor.category_ids[int(label)], "score": round(float(score), 5),
                         "box": [round(float(v), 2) for v in box]})
    with atomic_output(output) as tmp:
        if fmt == "coco":
            tmp.write_text(json.dumps([{"image_id": r["image_id"], "file_name": r["file"],
                                        "category_id": r["category_id"], "bbox": r["box"], "score": r["score"]}
                                       for r in rows], indent=1), encoding="utf-8")
        else:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["file", "label", "score", "x", "y", "width", "height"])
                writer.writerows([r["file"], r["label"], r["score"], *r["box"]] for r in rows)
    return len(paths)


def _write_masks(predictor: DensePredictor, paths: list[Path], source: Path, output: Path) -> int:
    from PIL import Image

    output.mkdir(parents=True, exist_ok=True)
    for path, pred in predictor.predict_files(paths, 0.0):
        relative = path.relative_to(source) if source.is_dir() else Path(path.name)
        target = (output / relative).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            Image.fromarray(_or_empty(pred.mask)).save(tmp, format="PNG")
    (output / "classes.txt").write_text("background\n" + "\n".join(predictor.classes) + "\n", encoding="utf-8")
    return len(paths)


def prediction_json(predictor: DensePredictor, pred: DensePrediction) -> dict[str, Any]:
    """A server answer: boxes with their labels, or the mask as a base64 PNG with the names of its values."""
    import base64

    from PIL import Image

    answer: dict[str, Any] = {"task": predictor.task, "width": pred.width, "height": pred.height}
    if pred.mask is not None:
        buffer = io.BytesIO()
        Image.fromarray(pred.mask).save(buffer, format="PNG")
        answer["mask_png_base64"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        answer["classes"] = {"0": "background", **{str(k + 1): c for k, c in enumerate(predictor.classes)}}
        answer["present"] = sorted(int(v) for v in np.unique(pred.mask))
        return answer
    assert pred.boxes is not None and pred.labels is not None and pred.scores is not None
    answer["boxes"] = [{"label": predictor.classes[int(k)], "score": round(float(s), 5),
                        "x": round(float(b[0]), 2), "y": round(float(b[1]), 2), "width": round(float(b[2]), 2),
                        "height": round(float(b[3]), 2)} for b, k, s in zip(pred.boxes, pred.labels, pred.scores,
                                                                             strict=True)]
    return answer
