"""The report of a detection or segmentation run: per-class metrics, the ladder, and test images with the true and
predicted boxes or masks side by side, the worst first (``report.md`` + ``examples/*.png`` in the run folder).

Data first: the per-image scores that rank the worst images go to ``report.json`` too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.evaluation.dense_metrics import box_iou, confusion_matrix, segmentation_scores
from trainwright.models._dense_base import DenseArrays

__all__ = ["image_scores", "write_report"]

_SHOWN = 6
_COLOUR_NAMES = ("red", "green", "yellow", "blue", "orange", "purple", "cyan", "magenta", "lime")
_PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], np.uint8)


def _colour(k: int) -> tuple[int, int, int]:
    r, g, b = _PALETTE[1 + k % (len(_PALETTE) - 1)]
    return int(r), int(g), int(b)


def image_scores(task: str, data: DenseArrays, pred: Any, n_classes: int) -> list[float]:
    """Per test image: mean IoU over its object classes (segmentation), or F1 of boxes matched at IoU 0.5 with
    score >= 0.3 (detection); the report shows the lowest first."""
    scores = []
    for i in range(len(data)):
        if task == "segmentation":
            assert data.masks is not None
            matrix = confusion_matrix(data.masks[i], pred[i], n_classes + 1)
            value = segmentation_scores(matrix, [str(k) for k in range(n_classes + 1)]).mean_iou
            scores.append(1.0 if np.isnan(value) else value)
            continue
        truth = data.boxes[i]
        boxes, labels, conf = pred[i]
        keep = conf >= 0.3
        boxes, labels = boxes[keep], labels[keep]
        iou = box_iou(truth[:, :4], boxes) * (truth[:, 4:5].astype(np.int64) == labels[None, :])
        matched = int(min((iou.max(axis=1) >= 0.5).sum(), (iou.max(axis=0) >= 0.5).sum())) if iou.size else 0
        denominator = len(truth) + len(boxes)
        scores.append(1.0 if denominator == 0 else 2 * matched / denominator)
    return scores


def _panel(task: str, image: np.ndarray, mask: np.ndarray | None, boxes: np.ndarray, labels: np.ndarray) -> Any:
    from PIL import Image, ImageDraw

    rgb = (image.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    if task == "segmentation" and mask is not None:
        colours = _PALETTE[np.where(mask > 0, 1 + (mask.astype(np.int64) - 1) % (len(_PALETTE) - 1), 0)]
        rgb = np.where(mask[..., None] > 0, (0.45 * rgb + 0.55 * colours).astype(np.uint8), rgb)
    panel = Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(panel)
    for (x, y, w, h), k in zip(boxes, labels, strict=True):
        draw.rectangle([2 * x, 2 * y, 2 * (x + w), 2 * (y + h)], outline=_colour(int(k)), width=2)
    return panel


def _example(task: str, data: DenseArrays, pred: Any, i: int, out: Path) -> None:
    from PIL import Image

    truth_boxes = data.boxes[i]
    left = _panel(task, data.images[i], None if data.masks is None else data.masks[i], truth_boxes[:, :4],
                  truth_boxes[:, 4])
    if task == "segmentation":
        right = _panel(task, data.images[i], pred[i], np.zeros((0, 4)), np.zeros(0))
    else:
        boxes, labels, conf = pred[i]
        right = _panel(task, data.images[i], None, boxes[conf >= 0.3], labels[conf >= 0.3])
    both = Image.new("RGB", (left.width * 2 + 8, left.height), (255, 255, 255))
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 8, 0))
    both.save(out)


def write_report(run_dir: Path, result: Any, items: list[Any], data: DenseArrays, pred: Any) -> Path:
    """Write ``report.md``, ``report.json`` and ``examples/`` (truth left, prediction right) into ``run_dir``."""
    per_image = image_scores(result.task, data, pred, len(result.classes))
    order = np.argsort(per_image, kind="stable")[:_SHOWN]
    (run_dir / "examples").mkdir(parents=True, exist_ok=True)
    lines = [f"# {result.task} run {result.run_id}", "", f"Chosen: {result.reason}", "",
             f"Test ({result.split_sizes['test']} images, measured once): {result.metric} = {result.test_score:.4f}",
             "", "## Ladder (validation)", "", "| model | rung | score | fit s | status |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['rung']} | {_fmt(r['val'])} | "
              f"{r['fit_s']:.1f} | {r['status']} |" for r in result.leaderboard]
    lines += ["", "## Per class (test)", "", "| class | " + " | ".join(_per_class_keys(result)) + " |",
              "|---|" + "---|" * len(_per_class_keys(result))]
    for name, values in result.test_scores["per_class"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(values[k]) for k in _per_class_keys(result)) + " |")
    legend = ", ".join(f"{c} = {_COLOUR_NAMES[k % len(_COLOUR_NAMES)]}" for k, c in enumerate(result.classes))
    lines += ["", "## Worst test images (truth left, prediction right)", "", f"Colours: {legend}.", ""]
    shown = []
    for i in order:
        name = Path(items[i].image).name
        _example(result.task, data, pred, int(i), run_dir / "examples" / f"{Path(name).stem}.png")
        lines.append(f"![{name}](examples/{Path(name).stem}.png) {name}: {per_image[i]:.3f}")
        shown.append({"file": name, "score": per_image[i]})
    (run_dir / "report.json").write_text(json.dumps({"test_scores": result.test_scores, "worst": shown,
                                                     "leaderboard": [{k: v for k, v in r.items() if k != "val_scores"}
                                                                     for r in result.leaderboard]},
                                                    indent=2, default=str), encoding="utf-8")
    report = run_dir / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def _fmt(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4f}"


def _per_class_keys(result: Any) -> list[str]:
    return ["iou", "dice"] if result.task == "segmentation" else ["ap50"]
