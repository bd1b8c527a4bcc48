"""Annotations at the door: layouts, every problem named at once, a split that keeps an image's boxes together."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.unit.dense.scenes import make_scenes
from trainwright.data.annotations import detect_layout, read_dense, split_images
from trainwright.exceptions import DataError


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return make_scenes(tmp_path_factory.mktemp("scenes"), 12, seed=3, yolo=True)


def test_layouts_and_formats_agree(scenes, tmp_path):
    assert detect_layout(scenes) == "detection"
    coco = read_dense(scenes)
    assert coco.source_format == "coco" and coco.classes == ("circle", "square", "triangle") and coco.has_masks
    (scenes / "annotations.json").rename(tmp_path / "annotations.json")
    try:
        yolo = read_dense(scenes)
    finally:
        (tmp_path / "annotations.json").rename(scenes / "annotations.json")
    assert yolo.source_format == "yolo"
    for a, b in zip(coco.items, yolo.items, strict=True):  # the same boxes from both formats, to rounding
        assert a.image.name == b.image.name and len(a.boxes) == len(b.boxes)
        for box_a, box_b in zip(a.boxes, b.boxes, strict=True):
            assert box_a.label == box_b.label
            assert np.allclose([box_a.x, box_a.y, box_a.width, box_a.height],
                               [box_b.x, box_b.y, box_b.width, box_b.height], atol=1e-3)
    seg = read_dense(scenes, "segmentation")
    assert seg.kind == "segmentation" and all(i.mask is not None for i in seg.items)
    assert detect_layout(tmp_path) is None


def test_coco_problems_are_all_named_at_once(scenes, tmp_path):
    data = json.loads((scenes / "annotations.json").read_text())
    data["annotations"] += [
        {"id": 900, "image_id": 1, "category_id": 1, "bbox": [90, 90, 20, 20]},  # outside the 96x96 image
        {"id": 901, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]},  # empty
        {"id": 902, "image_id": 1, "category_id": 77, "bbox": [10, 10, 5, 5]},  # unknown category
        {"id": 903, "image_id": 4242, "category_id": 1, "bbox": [10, 10, 5, 5]},  # unknown image
    ]
    data["images"].append({"id": 555, "file_name": "missing.png", "width": 96, "height": 96})
    root = tmp_path / "bad"
    (root / "images").mkdir(parents=True)
    for item in (scenes / "images").iterdir():
        (root / "images" / item.name).write_bytes(item.read_bytes())
    (root / "annotations.json").write_text(json.dumps(data))
    with pytest.raises(DataError) as caught:
        read_dense(root)
    codes = {p.code for p in caught.value.problems}
    assert codes == {"annotations.outside", "annotations.degenerate", "annotations.unknown_category",
                     "annotations.unknown_image", "annotations.missing_image"}
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "annotation 900" in text and "category 77" in text and "missing.png" in text


def test_mask_problems(scenes, tmp_path):
    root = tmp_path / "seg"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    names = sorted(p.name for p in (scenes / "images").iterdir())[:4]
    for name in names[:3]:
        (root / "images" / name).write_bytes((scenes / "images" / name).read_bytes())
        (root / "masks" / name).write_bytes((scenes / "masks" / name).read_bytes())
    (root / "masks" / "stray.png").write_bytes((scenes / "masks" / names[0]).read_bytes())  # no image
    (root / "images" / "lonely.png").write_bytes((scenes / "images" / names[0]).read_bytes())  # no mask
    with pytest.raises(DataError) as caught:
        read_dense(root)
    assert {p.code for p in caught.value.problems} == {"annotations.image_without_mask",
                                                       "annotations.mask_without_image"}
    (root / "masks" / "stray.png").unlink()
    (root / "images" / "lonely.png").unlink()
    (root / "classes.txt").write_text("background\ncircle\nsquare\n")  # index 3 (triangle) is not named
    Image.fromarray(np.full((50, 50), 1, np.uint8)).save(root / "masks" / names[1])  # wrong size
    with pytest.raises(DataError) as caught:
        read_dense(root)
    assert {"annotations.mask_value", "annotations.mask_size"} <= {p.code for p in caught.value.problems}


def test_split_keeps_images_whole(scenes):
    dataset = read_dense(scenes)
    split = split_images(dataset, (0.7, 0.15, 0.15), seed=5)
    parts = [set(split.train), set(split.validation), set(split.test)]
    assert set().union(*parts) == set(range(len(dataset.items)))
    assert sum(len(p) for p in parts) == len(dataset.items) and all(parts)
    assert split_images(dataset, (0.7, 0.15, 0.15), seed=5) == split  # seeded


def test_yolo_problems(scenes, tmp_path):
    root = tmp_path / "yolo"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    names = sorted(p.name for p in (scenes / "images").iterdir())[:2]
    for name in names:
        (root / "images" / name).write_bytes((scenes / "images" / name).read_bytes())
    (root / "classes.txt").write_text("circle\nsquare\ntriangle\n")
    stem = names[0].rsplit(".", 1)[0]
    (root / "labels" / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n1 0.95 0.5 0.3 0.2\nx y\n")
    with pytest.raises(DataError) as caught:
        read_dense(root)
    codes = {p.code for p in caught.value.problems}
    assert codes == {"annotations.unknown_category", "annotations.outside", "annotations.malformed"}
    (root / "labels" / f"{stem}.txt").write_text("2 0.5 0.5 0.25 0.5\n")
    dataset = read_dense(root)
    box = dataset.items[0].boxes[0]
    assert (box.label, box.x, box.y, box.width, box.height) == (2, 36.0, 24.0, 24.0, 48.0)  # 96x96 pixels
    assert dataset.items[1].boxes == ()  # an image without a label file has no object
