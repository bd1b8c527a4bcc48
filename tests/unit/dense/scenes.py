"""Generated scenes for the dense tests: coloured circles, squares and triangles (class = shape, colour random) on
noisy textured backgrounds, written as images/ + masks/ + classes.txt, a COCO annotations.json and YOLO labels/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

SHAPES = ("circle", "square", "triangle")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(40, 215, size=3)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), sigma=(3, 3, 0)) * 60
    return np.clip(base + texture + rng.normal(0, 8, (size, size, 3)), 0, 255)


def _colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    mean = background.reshape(-1, 3).mean(axis=0)
    while True:
        colour = rng.uniform(0, 255, size=3)
        if np.abs(colour - mean).sum() > 150:
            return colour


def _draw(draw: ImageDraw.ImageDraw, shape: str, x: int, y: int, s: int, value: int) -> None:
    if shape == "circle":
        draw.ellipse([x, y, x + s - 1, y + s - 1], fill=value)
    elif shape == "square":
        draw.rectangle([x, y, x + s - 1, y + s - 1], fill=value)
    else:
        draw.polygon([(x + s / 2, y), (x + s - 1, y + s - 1), (x, y + s - 1)], fill=value)


def scene(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray, list[tuple[int, list[int]]]]:
    """One image (size, size, 3) uint8, its mask of class indices (1 circle, 2 square, 3 triangle) and its boxes."""
    image = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    boxes: list[tuple[int, list[int]]] = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(30):
            s = int(rng.integers(size // 7, size // 3))
            x, y = int(rng.integers(0, size - s)), int(rng.integers(0, size - s))
            if mask[max(0, y - 2):y + s + 2, max(0, x - 2):x + s + 2].any():
                continue
            label = int(rng.integers(0, 3))
            layer = Image.new("L", (size, size), 0)
            _draw(ImageDraw.Draw(layer), SHAPES[label], x, y, s, 1)
            inside = np.asarray(layer, bool)
            image[inside] = np.clip(_colour(rng, image) + rng.normal(0, 8, (int(inside.sum()), 3)), 0, 255)
            mask[inside] = label + 1
            ys, xs = np.nonzero(inside)
            boxes.append((label, [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                  int(ys.max() - ys.min() + 1)]))
            break
    return image.astype(np.uint8), mask, boxes


def make_scenes(root: Path, n: int, seed: int = 0, size: int = 96, coco: bool = True, yolo: bool = False) -> Path:
    """Write ``n`` scenes under ``root``; COCO annotations.json when ``coco`` (then the layout reads as detection)."""
    rng = np.random.default_rng(seed)
    for part in ("images", "masks", *(("labels",) if yolo else ())):
        (root / part).mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("background\n" + "\n".join(SHAPES) + "\n", encoding="utf-8")
    images, annotations = [], []
    for i in range(n):
        image, mask, boxes = scene(rng, size)
        name = f"scene_{i:04d}.png"
        Image.fromarray(image).save(root / "images" / name)
        Image.fromarray(mask).save(root / "masks" / name)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        for label, box in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": label + 1,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
        if yolo:
            lines = [f"{label} {(b[0] + b[2] / 2) / size} {(b[1] + b[3] / 2) / size} {b[2] / size} {b[3] / size}"
                     for label, b in boxes]
            (root / "labels" / f"scene_{i:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if coco:
        categories = [{"id": k + 1, "name": s} for k, s in enumerate(SHAPES)]
        (root / "annotations.json").write_text(json.dumps(
            {"images": images, "annotations": annotations, "categories": categories}), encoding="utf-8")
    return root
