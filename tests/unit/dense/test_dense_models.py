"""The dense models' parts: augmentation moves boxes and masks with the pixels, CenterNet targets decode back to
their boxes, NMS, network shapes, and the bundle's round trip (altered weights refused)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainwright.exceptions import BundleError
from trainwright.models._dense_base import DenseArrays, DenseSettings, load_dense_bundle, save_dense_bundle
from trainwright.models._dense_nets import build_net
from trainwright.models._dense_train import STRIDE, augment, centernet_targets, decode_centernet, nms
from trainwright.models.detection import DENSE_SPECS as DETECTION_SPECS
from trainwright.models.segmentation import DENSE_SPECS as SEGMENTATION_SPECS
from trainwright.models.segmentation import pixel_features


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _square_scene(size=64):
    images = torch.zeros(2, 3, size, size)
    masks = torch.zeros(2, size, size, dtype=torch.long)
    images[:, 0, 10:30, 5:25] = 1.0  # a red square at x 5..25, y 10..30
    masks[:, 10:30, 5:25] = 1
    boxes = [np.array([[5, 10, 20, 20, 0]], np.float32) for _ in range(2)]
    return images, masks, boxes


@pytest.mark.parametrize("seed", range(6))
def test_augment_moves_boxes_and_masks_with_the_pixels(seed):
    images, masks, boxes = _square_scene()
    out, out_masks, out_boxes = augment(images, masks, boxes, np.random.default_rng(seed))
    assert out.shape == images.shape and out_masks is not None and out_masks.shape == masks.shape
    for i in range(2):
        red, square = (out[i, 0] > 0.5).numpy(), (out_masks[i] == 1).numpy()
        assert (red & square).sum() / max(1, (red | square).sum()) > 0.85  # bilinear pixels vs nearest mask
        if len(out_boxes[i]):
            x, y, w, h, _ = out_boxes[i][0]
            ys, xs = np.nonzero(out_masks[i].numpy() == 1)
            assert abs(xs.min() - x) <= 1.5 and abs(ys.min() - y) <= 1.5
            assert abs(xs.max() + 1 - (x + w)) <= 1.5 and abs(ys.max() + 1 - (y + h)) <= 1.5


def test_centernet_targets_decode_back_to_their_boxes():
    size, n_classes = 64, 2
    boxes = [np.array([[8, 12, 20, 16, 0], [36, 30, 24, 28, 1]], np.float32)]
    t = centernet_targets(boxes, n_classes, size)
    logits = torch.logit(t["heat"].clamp(1e-4, 1 - 1e-4))  # what a perfect network would output
    out = torch.cat([logits, t["box"]], dim=1)
    found_boxes, labels, scores = decode_centernet(out, n_classes, threshold=0.5)[0]
    order = np.argsort(labels)
    assert list(labels[order]) == [0, 1] and np.all(scores > 0.99)
    assert np.allclose(found_boxes[order], boxes[0][:, :4], atol=1e-3)
    assert t["heat"].shape == (1, n_classes, size // STRIDE, size // STRIDE)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [30, 30, 5, 5]], np.float32)
    assert list(nms(boxes, np.array([0.8, 0.9, 0.5]), 0.5)) == [1, 2]


@pytest.mark.parametrize(("task", "encoder"), [("segmentation", "scratch"), ("detection", "scratch"),
                                               ("segmentation", "effnet_lite0")])
def test_network_output_shapes(task, encoder):
    net = build_net(task, 4, encoder, pretrained=False).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 64, 96))
    assert out.shape == ((2, 4, 64, 96) if task == "segmentation" else (2, 4 + 4, 16, 24))


def test_pixel_features_shape():
    features = pixel_features(np.random.default_rng(0).random((2, 3, 16, 16), dtype=np.float32))
    assert features.shape[:3] == (2, 16, 16) and np.isfinite(features).all()


def _tiny_arrays(n=6, size=32):
    images, masks, boxes = _square_scene(size)
    images = images.repeat(n // 2, 1, 1, 1).numpy() + np.random.default_rng(0).random((n, 3, size, size)) * 0.1
    return DenseArrays(images.astype(np.float32), masks.repeat(n // 2, 1, 1).numpy(), tuple(boxes * (n // 2)))


@pytest.mark.parametrize("spec", [SEGMENTATION_SPECS[0], SEGMENTATION_SPECS[1], DETECTION_SPECS[1]],
                         ids=lambda s: s.name)
def test_bundle_round_trip_gives_the_same_predictions(spec, tmp_path):
    data = _tiny_arrays()
    model = spec.build(("square",), {})
    model.fit(data, data, DenseSettings(max_epochs=1, batch_size=4, n_threads=1, device="cpu"))
    save_dense_bundle(tmp_path / "model", model, spec, {"input_size": 32})
    loaded, manifest = load_dense_bundle(tmp_path / "model", SEGMENTATION_SPECS + DETECTION_SPECS)
    assert manifest["model"] == spec.name and manifest["classes"] == ["square"]
    if spec.task == "segmentation":
        assert np.array_equal(model.predict_masks(data.images), loaded.predict_masks(data.images))
    else:
        for a, b in zip(model.predict_boxes(data.images), loaded.predict_boxes(data.images), strict=True):
            assert all(np.allclose(x, y) for x, y in zip(a, b, strict=True))
    weights = tmp_path / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(BundleError, match="altered"):
        load_dense_bundle(tmp_path / "model", SEGMENTATION_SPECS + DETECTION_SPECS)
