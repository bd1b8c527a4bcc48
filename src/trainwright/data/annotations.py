"""Boxes and masks at the door: a COCO ``annotations.json``, YOLO label files or an ``images/`` + ``masks/`` folder
become one typed ``DenseDataset``, checked before any pixel is trained on.

Every problem (a box outside its image, an empty box, an unknown category, an image without a mask, a mask value
outside the classes...) is collected and reported together in one DataError naming the file and the fix. The split
draws whole images, so all boxes of one image land in one part. Pillow is imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trainwright.exceptions import IMAGE_SUFFIXES, DataError, Problem

__all__ = ["Box", "DenseDataset", "DenseItem", "DenseKind", "DenseSplit", "detect_layout", "read_dense",
           "split_images"]

DenseKind = Literal["segmentation", "detection"]
_SHOWN = 5  # examples per finding
_EDGE_TOLERANCE = 1.0  # pixels a box may stick out of its image (rounding in exporters) before it is refused


@dataclass(frozen=True)
class Box:
    """One object: top-left corner, width and height in pixels; ``label`` indexes ``DenseDataset.classes``."""

    x: float
    y: float
    width: float
    height: float
    label: int


@dataclass(frozen=True)
class DenseItem:
    image: Path
    width: int
    height: int
    mask: Path | None = None
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class DenseDataset:
    """What was read: the task, the object classes (mask value k is ``classes[k-1]``; 0 is background), the items
    and where they came from. ``category_ids`` are the COCO ids of the classes (1..K for other formats)."""

    kind: DenseKind
    root: Path
    source_format: str
    classes: tuple[str, ...]
    items: tuple[DenseItem, ...]
    category_ids: tuple[int, ...] = ()
    has_masks: bool = False

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(f"{item.image.name}|{item.width}x{item.height}|{item.boxes}".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DenseSplit:
    """Indices of ``DenseDataset.items`` in each part; one image (and so all its boxes) is in exactly one part."""

    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]
    seed: int = 0
    sizes: dict[str, int] = field(default_factory=dict)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def detect_layout(folder: str | Path) -> DenseKind | None:
    """The task a folder's layout says: ``annotations.json`` or ``labels/`` -> detection; ``images/`` + ``masks/``
    -> segmentation; anything else -> None (not a dense dataset)."""
    root = Path(folder)
    if not root.is_dir():
        return None
    if (root / "annotations.json").is_file() or ((root / "labels").is_dir() and (root / "images").is_dir()):
        return "detection"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "segmentation"
    return None


def _image_size(path: Path, bad: list[str]) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except Exception as exc:  # Pillow raises many types for a broken or foreign file
        bad.append(f"{path.name}: {type(exc).__name__}")
        return 0, 0


def _fail(what: str, problems: list[Problem]) -> None:
    if problems:
        raise DataError(what, problems)


def _problem(code: str, message: str, examples: Sequence[str], fix: str) -> Problem:
    return Problem(code, f"{message} ({len(examples)} found)", fix=fix, examples=tuple(examples[:_SHOWN]))


def _read_classes(root: Path) -> list[str] | None:
    file = root / "classes.txt"
    if not file.is_file():
        return None
    return [line.strip() for line in file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


# ----------------------------------------------------------------------------------------------- segmentation --
def _read_masks(root: Path) -> DenseDataset:
    from PIL import Image

    images = {p.stem: p for p in _images_in(root / "images")}
    masks = {p.stem: p for p in _images_in(root / "masks")}
    problems = []
    if orphans := sorted(set(images) - set(masks)):
        problems.append(_problem("annotations.image_without_mask", "images without a mask in masks/", orphans,
                                 "add a mask PNG with the same file name, or remove the image"))
    if orphans := sorted(set(masks) - set(images)):
        problems.append(_problem("annotations.mask_without_image", "masks without an image in images/", orphans,
                                 "remove the mask, or add its image"))
    if not images:
        problems.append(Problem("annotations.empty", f"no image files in {root / 'images'}",
                                fix=f"put images ({', '.join(IMAGE_SUFFIXES)}) there"))
    _fail(f"segmentation data in {root} is incomplete", problems)
    names = _read_classes(root)
    limit = len(names) - 1 if names else 255
    items: list[DenseItem] = []
    unreadable: list[str] = []
    sizes: list[str] = []
    bad_values: list[str] = []
    bad_mode: list[str] = []
    seen = 0
    for stem in sorted(images):
        width, height = _image_size(images[stem], unreadable)
        try:
            with Image.open(masks[stem]) as mask_image:
                if mask_image.mode not in ("L", "P", "I", "I;16", "1"):
                    bad_mode.append(f"{masks[stem].name} (mode {mask_image.mode})")
                values = np.asarray(mask_image)
        except Exception as exc:  # a broken mask file
            unreadable.append(f"{masks[stem].name}: {type(exc).__name__}")
            continue
        if values.shape[:2] != (height, width) and width:
            sizes.append(f"{stem}: image {width}x{height}, mask {values.shape[1]}x{values.shape[0]}")
        top = int(values.max()) if values.size else 0
        if top > limit:
            bad_values.append(f"{masks[stem].name} has {top}")
        seen = max(seen, top)
        items.append(DenseItem(images[stem], width, height, mask=masks[stem]))
    problems = []
    if unreadable:
        problems.append(_problem("annotations.unreadable", "files that cannot be read", unreadable,
                                 "replace or remove them"))
    if bad_mode:
        problems.append(_problem("annotations.mask_mode", "masks that are not single-channel class indices",
                                 bad_mode, "save each mask as a grey (mode L) PNG whose values are class indices"))
    if sizes:
        problems.append(_problem("annotations.mask_size", "masks whose size differs from their image", sizes,
                                 "save each mask at its image's size"))
    if bad_values:
        problems.append(_problem("annotations.mask_value", f"mask values outside the {limit + 1} classes of "
                                 "classes.txt (0 = background)", bad_values,
                                 "fix the masks, or name every index in classes.txt (one name a line, from 0)"))
    _fail(f"segmentation data in {root} has problems", problems)
    classes = tuple(names[1:]) if names else tuple(f"class_{k}" for k in range(1, max(seen, 1) + 1))
    return DenseDataset("segmentation", root, "masks", classes, tuple(items),
                        tuple(range(1, len(classes) + 1)), has_masks=True)


# ------------------------------------------------------------------------------------------------------ boxes --
def _check_box(raw: Any, width: int, height: int, where: str, findings: dict[str, list[str]]) -> bool:
    if not isinstance(raw, list | tuple) or len(raw) != 4 or not all(isinstance(v, int | float) for v in raw):
        findings["malformed"].append(f"{where}: {raw!r}")
        return False
    x, y, w, h = (float(v) for v in raw)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        findings["degenerate"].append(f"{where}: {raw!r}")
        return False
    t = _EDGE_TOLERANCE
    if width and (x < -t or y < -t or x + w > width + t or y + h > height + t):
        findings["outside"].append(f"{where}: {list(raw)} in {width}x{height}")
        return False
    return True


_BOX_FIXES = {
    "malformed": ("boxes that are not four numbers", "write bbox as [x, y, width, height] in pixels"),
    "degenerate": ("empty or degenerate boxes (width or height <= 0, or not finite)", "remove or fix these boxes"),
    "outside": ("boxes outside their image", "clip the boxes to the image, or check that they are in pixels"),
    "unknown_category": ("annotations with an unknown category id", "add the category to 'categories' or fix the id"),
    "unknown_image": ("annotations of an image id not in 'images'", "add the image entry or remove the annotation"),
    "missing_image": ("images listed but not found on disk", "copy the files beside annotations.json or in images/"),
}


def _box_problems(findings: dict[str, list[str]], unreadable: list[str]) -> list[Problem]:
    problems = [_problem(f"annotations.{key}", _BOX_FIXES[key][0], found, _BOX_FIXES[key][1])
                for key, found in findings.items() if found]
    if unreadable:
        problems.append(_problem("annotations.unreadable", "images that cannot be read", unreadable,
                                 "replace or remove them"))
    return problems


def _coco_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{file} is not readable COCO JSON", [Problem(
            "annotations.json", str(exc)[:200], fix="export the annotations as COCO JSON")]) from None
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(data, dict)
               or not isinstance(data.get(k), list)]
    if missing:
        raise DataError(f"{file} is not COCO detection JSON", [Problem(
            "annotations.coco_keys", f"missing or not a list: {', '.join(missing)}",
            fix="COCO JSON has lists 'images', 'annotations' and 'categories'")])
    return data


def _read_coco(root: Path) -> DenseDataset:
    file = root / "annotations.json"
    data = _coco_json(file)
    categories = sorted(data["categories"], key=lambda c: c.get("id", 0))
    category_ids = tuple(int(c["id"]) for c in categories)
    label_of = {cid: k for k, cid in enumerate(category_ids)}
    folder = root / "images" if (root / "images").is_dir() else root
    findings: dict[str, list[str]] = {k: [] for k in _BOX_FIXES}
    unreadable: list[str] = []
    entries: dict[Any, tuple[Path, int, int]] = {}
    for entry in data["images"]:
        path = folder / str(entry.get("file_name", ""))
        if not path.is_file():
            findings["missing_image"].append(str(entry.get("file_name")))
            continue
        width, height = _image_size(path, unreadable)
        entries[entry.get("id")] = (path, width, height)
    boxes: dict[Any, list[Box]] = {key: [] for key in entries}
    for n, ann in enumerate(data["annotations"]):
        where = f"annotation {ann.get('id', n)}"
        if ann.get("iscrowd"):  # a crowd region is not one object: COCO's own evaluation ignores it too
            continue
        if ann.get("category_id") not in label_of:
            findings["unknown_category"].append(f"{where}: category {ann.get('category_id')!r}")
            continue
        if ann.get("image_id") not in entries:
            if not any(ann.get("image_id") == e.get("id") for e in data["images"]):
                findings["unknown_image"].append(f"{where}: image {ann.get('image_id')!r}")
            continue
        _, width, height = entries[ann["image_id"]]
        if _check_box(ann.get("bbox"), width, height, where, findings):
            x, y, w, h = (float(v) for v in ann["bbox"])
            boxes[ann["image_id"]].append(_clipped(x, y, w, h, width, height, label_of[ann["category_id"]]))
    _fail(f"COCO annotations in {file} have problems", _box_problems(findings, unreadable))
    items = tuple(DenseItem(path, w, h, mask=_mask_beside(root, path), boxes=tuple(boxes[key]))
                  for key, (path, w, h) in sorted(entries.items(), key=lambda kv: kv[1][0].name))
    names = tuple(str(c.get("name", c["id"])) for c in categories)
    return DenseDataset("detection", root, "coco", names, items, category_ids,
                        has_masks=bool(items) and all(i.mask is not None for i in items))


def _clipped(x: float, y: float, w: float, h: float, width: int, height: int, label: int) -> Box:
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return Box(x0, y0, x1 - x0, y1 - y0, label)


def _mask_beside(root: Path, image: Path) -> Path | None:
    mask = root / "masks" / f"{image.stem}.png"
    return mask if mask.is_file() else None


def _yolo_boxes(file: Path, width: int, height: int, n_classes: int | None,
                findings: dict[str, list[str]]) -> list[Box]:
    boxes = []
    for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{file.name} line {number}"
        try:
            label, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:5])
        except (ValueError, TypeError):
            findings["malformed"].append(f"{where}: {line.strip()!r}")
            continue
        if len(parts) != 5 or label < 0 or (n_classes is not None and label >= n_classes):
            key = "malformed" if len(parts) != 5 else "unknown_category"
            findings[key].append(f"{where}: {line.strip()!r}")
            continue
        pixel_box = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
        if _check_box(pixel_box, width, height, where, findings):
            x, y, w, h = pixel_box
            boxes.append(_clipped(x, y, w, h, width, height, label))
    return boxes


def _read_yolo(root: Path) -> DenseDataset:
    names = _read_classes(root)
    findings: dict[str, list[str]] = {k: [] for k in _BOX_FIXES}
    unreadable: list[str] = []
    items, top = [], -1
    for path in _images_in(root / "images"):
        width, height = _image_size(path, unreadable)
        labels = root / "labels" / f"{path.stem}.txt"
        boxes = _yolo_boxes(labels, width, height, len(names) if names else None, findings) if labels.is_file() else []
        top = max([top, *(b.label for b in boxes)])
        items.append(DenseItem(path, width, height, mask=_mask_beside(root, path), boxes=tuple(boxes)))
    _fail(f"YOLO labels in {root / 'labels'} have problems", _box_problems(findings, unreadable))
    classes = tuple(names) if names else tuple(f"class_{k}" for k in range(top + 1))
    return DenseDataset("detection", root, "yolo", classes, tuple(items), tuple(range(1, len(classes) + 1)),
                        has_masks=bool(items) and all(i.mask is not None for i in items))


def read_dense(folder: str | Path, kind: DenseKind | None = None) -> DenseDataset:
    """Read and check a detection or segmentation folder; ``kind`` None follows the layout (``detect_layout``)."""
    root = Path(folder)
    found = detect_layout(root)
    kind = kind or found
    layouts = ("detection: annotations.json (COCO) beside the images or images/, or images/ + labels/ (YOLO); "
               "segmentation: images/ + masks/ with the same file names")
    if kind is None or found is None:
        raise DataError(f"{root} is not a detection or segmentation folder", [Problem(
            "annotations.layout", f"{root}: no annotations.json, labels/ or masks/ found", fix=f"lay it out as {layouts}")])
    if kind == "segmentation":
        if not ((root / "images").is_dir() and (root / "masks").is_dir()):
            raise DataError(f"{root} has no masks for segmentation", [Problem(
                "annotations.layout", "segmentation needs images/ and masks/", fix=f"lay it out as {layouts}")])
        return _read_masks(root)
    dataset = _read_coco(root) if (root / "annotations.json").is_file() else None
    if dataset is None and (root / "labels").is_dir():
        dataset = _read_yolo(root)
    if dataset is None:
        raise DataError(f"{root} has no boxes for detection", [Problem(
            "annotations.layout", "detection needs annotations.json or labels/", fix=f"lay it out as {layouts}")])
    if not dataset.items:
        raise DataError(f"{root}: no images to train on", [Problem("annotations.empty", "no image was found",
                                                                   fix="check the file names")])
    return dataset


def split_images(dataset: DenseDataset, fractions: tuple[float, float, float], seed: int) -> DenseSplit:
    """A random split of whole images (all boxes and the mask of an image stay in its part), at least one image in
    validation and test; fewer than 3 images cannot be split."""
    n = len(dataset.items)
    if n < 3:
        raise DataError(f"{dataset.root}: {n} image(s) cannot be split into train, validation and test",
                        [Problem("annotations.too_few", f"{n} images", fix="provide at least a few dozen images")])
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(fractions[2] * n))
    n_val = max(1, round(fractions[1] * n))
    n_train = n - n_test - n_val
    parts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    train, val, test = (tuple(sorted(int(i) for i in part)) for part in parts)
    return DenseSplit(train, val, test, seed, {"train": len(train), "validation": len(val), "test": len(test)})
