"""Where-metrics: IoU and Dice per class from one confusion matrix (segmentation), COCO mAP at IoU 0.5 and
0.5:0.95 (detection) computed by pycocotools' COCOeval, the reference implementation, never re-derived here.

Boxes are ``(x, y, width, height)`` in pixels with a top-left origin, as COCO writes them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DetectionScores", "ImageBoxes", "SegmentationScores", "box_iou", "confusion_matrix", "detection_scores",
           "segmentation_scores"]


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixel counts: row = true class, column = predicted class (values outside 0..n_classes-1 are ignored)."""
    t, p = np.asarray(true).ravel().astype(np.int64), np.asarray(pred).ravel().astype(np.int64)
    keep = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    return np.bincount(t[keep] * n_classes + p[keep], minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass(frozen=True)
class SegmentationScores:
    """Per class (index 0 = background) IoU and Dice; the means are over the object classes present in the truth
    or the prediction (a class absent from both has no IoU: NaN, left out of the mean)."""

    classes: tuple[str, ...]
    iou: tuple[float, ...]
    dice: tuple[float, ...]
    mean_iou: float
    mean_dice: float
    pixel_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {"mean_iou": self.mean_iou, "mean_dice": self.mean_dice, "pixel_accuracy": self.pixel_accuracy,
                "per_class": {c: {"iou": i, "dice": d} for c, i, d in zip(self.classes, self.iou, self.dice,
                                                                         strict=True)}}


def segmentation_scores(matrix: np.ndarray, classes: Sequence[str]) -> SegmentationScores:
    """IoU = TP / (TP + FP + FN), Dice = 2 TP / (2 TP + FP + FN), per class of ``matrix`` (row true, column
    predicted); ``classes`` names every index, background first."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    fp, fn = m.sum(axis=0) - tp, m.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(tp + fp + fn > 0, tp / (tp + fp + fn), np.nan)
        dice = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    objects_iou, objects_dice = iou[1:], dice[1:]
    mean_iou = float(np.nanmean(objects_iou)) if np.isfinite(objects_iou).any() else float("nan")
    mean_dice = float(np.nanmean(objects_dice)) if np.isfinite(objects_dice).any() else float("nan")
    total = m.sum()
    return SegmentationScores(tuple(classes), tuple(float(v) for v in iou), tuple(float(v) for v in dice),
                              mean_iou, mean_dice, float(tp.sum() / total) if total else float("nan"))


@dataclass(frozen=True)
class ImageBoxes:
    """Boxes of one image: ``boxes`` (n, 4) as x, y, width, height; ``labels`` (n,) class indices from 0;
    ``scores`` (n,) for predictions (None for the truth)."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None = None

    @staticmethod
    def empty() -> ImageBoxes:
        return ImageBoxes(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))


@dataclass(frozen=True)
class DetectionScores:
    map50: float
    map50_95: float
    ap50_per_class: tuple[float, ...]
    classes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"map50": self.map50, "map50_95": self.map50_95,
                "per_class": {c: {"ap50": a} for c, a in zip(self.classes, self.ap50_per_class, strict=True)}}


def _coco_ground_truth(truth: Sequence[ImageBoxes], sizes: Sequence[tuple[int, int]], n_classes: int) -> Any:
    from pycocotools.coco import COCO

    images = [{"id": i + 1, "width": int(w), "height": int(h)} for i, (w, h) in enumerate(sizes)]
    annotations: list[dict[str, Any]] = []
    for i, image in enumerate(truth):
        for box, label in zip(image.boxes, image.labels, strict=True):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label) + 1,
                                "bbox": [float(v) for v in box], "area": float(box[2] * box[3]), "iscrowd": 0})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": k + 1, "name": str(k)} for k in range(n_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def detection_scores(truth: Sequence[ImageBoxes], predicted: Sequence[ImageBoxes], sizes: Sequence[tuple[int, int]],
                     classes: Sequence[str]) -> DetectionScores:
    """COCO mAP@0.5 and mAP@0.5:0.95 (101-point interpolation, up to 100 detections an image) by COCOeval over
    the images given (``sizes`` as (width, height)); AP@0.5 per class (NaN for a class with no true box)."""
    from pycocotools.cocoeval import COCOeval

    n_classes = len(classes)
    gt = _coco_ground_truth(truth, sizes, n_classes)
    results = [{"image_id": i + 1, "category_id": int(label) + 1, "bbox": [float(v) for v in box],
                "score": float(score)}
               for i, image in enumerate(predicted)
               for box, label, score in zip(image.boxes, image.labels,
                                            image.scores if image.scores is not None else np.ones(len(image.labels)),
                                            strict=True)]
    if not results or not gt.dataset["annotations"]:
        return DetectionScores(0.0, 0.0, tuple(float("nan") if not gt.dataset["annotations"] else 0.0
                                               for _ in classes), tuple(classes))
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # [iou thresholds, recall points, classes, area ranges, max dets]
    per_class = []
    for k in range(n_classes):
        values = precision[0, :, k, 0, -1]
        per_class.append(float(values.mean()) if (values > -1).any() else float("nan"))
    return DetectionScores(max(0.0, float(evaluator.stats[1])), max(0.0, float(evaluator.stats[0])),
                           tuple(per_class), tuple(classes))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (n, 4) and ``b`` (m, 4), both x, y, width, height."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ax1, ay1, bx1, by1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
