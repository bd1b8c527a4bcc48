"""Detection models, simplest first: boxes from connected components of the per-pixel baseline's segmentation
(only when the data has masks; without them there is no honest baseline, and the workflow says so), then a small
anchor-free CenterNet-style detector (centre heatmap + box size + offset) from scratch, then the same over the
pretrained EfficientNet-Lite0 backbone. Non-maximum suppression runs per class.

Their specs are ``DENSE_SPECS`` (not the tabular ladder's ``SPECS``). Heavy imports are inside the methods.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trainwright.models._dense_base import DenseArrays, DenseSettings, DenseSpec, Detections
from trainwright.models.segmentation import PixelBoosting

__all__ = ["DENSE_SPECS", "CenterNetDetector", "ComponentsDetector", "components_to_boxes"]


def components_to_boxes(proba: np.ndarray, min_area: float) -> Detections:
    """Boxes around the connected components of each object class of one image's argmax map (``proba`` (K+1, H,
    W)); score = the mean probability of the class over the component; components under ``min_area`` pixels
    are noise and dropped."""
    from scipy import ndimage

    labels_map = proba.argmax(axis=0)
    boxes, labels, scores = [], [], []
    for k in range(1, proba.shape[0]):
        components, _ = ndimage.label(labels_map == k)
        for index, found in enumerate(ndimage.find_objects(components), 1):
            if found is None:
                continue
            inside = components[found] == index
            if inside.sum() < min_area:
                continue
            ys, xs = found
            boxes.append([xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start])
            labels.append(k - 1)
            scores.append(float(proba[k][found][inside].mean()))
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64), np.asarray(scores, np.float32))


class ComponentsDetector:
    """The detection baseline: the per-pixel LightGBM segmenter, then one box per connected component. The
    smallest component kept is a quarter of the smallest training box (learned from the data, not assumed)."""

    name = "components"

    def __init__(self, classes: tuple[str, ...], params: dict[str, Any] | None = None) -> None:
        self.classes = classes
        self.params = dict(params or {})
        self.pixels_ = PixelBoosting(classes, self.params)

    def fit(self, train: DenseArrays, valid: DenseArrays, settings: DenseSettings) -> ComponentsDetector:
        self.pixels_.fit(train, valid, settings)
        areas = [float(b[2] * b[3]) for boxes in train.boxes for b in boxes]
        self.params["min_area"] = 0.25 * min(areas) if areas else 4.0
        return self

    def predict_boxes(self, images: np.ndarray, threshold: float = 0.0) -> list[Detections]:
        proba = self.pixels_.predict_proba(images)
        found = [components_to_boxes(p, float(self.params.get("min_area", 4.0))) for p in proba]
        return [(b[s >= threshold], lab[s >= threshold], s[s >= threshold]) for b, lab, s in found]

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors, _ = self.pixels_.state()
        return tensors, self.params

    def load_state(self, tensors: dict[str, np.ndarray]) -> None:
        self.pixels_.load_state(tensors)


class CenterNetDetector:
    """Anchor-free detector: U-Net trunk to stride 4, a heatmap per class and a box head; trained with focal +
    L1 losses on flipped, cropped and scaled images (boxes moved alike), early-stopped on validation mAP@0.5
    (``evaluation.dense_metrics`` computes it with pycocotools; passed in by the workflow as ``score``)."""

    def __init__(self, classes: tuple[str, ...], params: dict[str, Any] | None = None) -> None:
        self.classes = classes
        self.params = {"encoder": "scratch", "lr": 3e-3, **(params or {})}
        self.name = "centernet" if self.params["encoder"] == "scratch" else "centernet_effnet"
        self.net_: Any = None
        self.history_: list[dict[str, float]] = []
        self.score: Any = None  # (true boxes per image, predicted Detections per image) -> float, set by the workflow

    def _net(self, pretrained: bool) -> Any:
        from trainwright.models._dense_nets import build_net

        return build_net("detection", len(self.classes), self.params["encoder"], pretrained=pretrained)

    def fit(self, train: DenseArrays, valid: DenseArrays, settings: DenseSettings) -> CenterNetDetector:
        import torch

        from trainwright.models._dense_train import augment, centernet_loss, centernet_targets, fit_dense
        from trainwright.models._torch_loop import LoopSettings, pick_device, seeded

        device = pick_device(settings.device)
        size = train.images.shape[-1]

        def batch(idx: np.ndarray, rng: np.random.Generator) -> tuple[Any, Any]:
            x, boxes = torch.from_numpy(train.images[idx]), [train.boxes[i] for i in idx]
            if settings.augment:
                x, _, boxes = augment(x, None, boxes, rng)
            targets = centernet_targets(boxes, len(self.classes), size)
            return x.to(device), {k: v.to(device) for k, v in targets.items()}

        def validate(module: Any) -> float:
            self.net_ = module
            if self.score is None:
                return -float(centernet_loss(module(torch.from_numpy(valid.images).to(device)),
                                             {k: v.to(device) for k, v in centernet_targets(
                                                 list(valid.boxes), len(self.classes), size).items()}))
            return float(self.score(valid.boxes, self.predict_boxes(valid.images)))

        loop = LoopSettings(max_epochs=settings.max_epochs, batch_size=settings.batch_size, lr=float(self.params["lr"]),
                            patience=settings.patience, deadline=settings.deadline, seed=settings.seed,
                            device=str(device))
        with seeded(settings.seed, deterministic=False, n_threads=settings.n_threads):
            net = self._net(pretrained=True)
            started = time.monotonic()
            result = fit_dense(net, len(train), batch, centernet_loss, loop, validate)
        self.net_, self.history_ = net.cpu(), result["history"]
        self.params["train_s"] = round(time.monotonic() - started, 1)
        return self

    def predict_boxes(self, images: np.ndarray, threshold: float = 0.01) -> list[Detections]:
        from trainwright.models._dense_train import decode_centernet, run_batches

        found: list[Detections] = []
        for out in run_batches(self.net_, images):
            found.extend(decode_centernet(out, len(self.classes), threshold=threshold))
        size = images.shape[-1]
        clipped = []
        for boxes, labels, scores in found:
            x0, y0 = np.clip(boxes[:, 0], 0, size), np.clip(boxes[:, 1], 0, size)
            x1, y1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, size), np.clip(boxes[:, 1] + boxes[:, 3], 0, size)
            keep = (x1 - x0 > 0) & (y1 - y0 > 0)
            clipped.append((np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)[keep].astype(np.float32), labels[keep],
                            scores[keep]))
        return clipped

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from trainwright.models._dense_train import net_tensors

        return net_tensors(self.net_), {"encoder": self.params["encoder"], "lr": self.params["lr"]}

    def load_state(self, tensors: dict[str, np.ndarray]) -> None:
        from trainwright.models._dense_train import load_net_tensors

        self.net_ = self._net(pretrained=False)
        load_net_tensors(self.net_, tensors)


DENSE_SPECS: tuple[DenseSpec, ...] = (
    DenseSpec("components", "detection", 1, "connected components of the per-pixel LightGBM segmentation",
              lambda classes, params: ComponentsDetector(classes, params), needs_masks=True),
    DenseSpec("centernet", "detection", 2, "CenterNet-style detector from scratch (heatmap + size, NMS per class)",
              lambda classes, params: CenterNetDetector(classes, {**params, "encoder": "scratch"}), tags=("torch",)),
    DenseSpec("centernet_effnet", "detection", 3, "CenterNet-style detector over the pretrained EfficientNet-Lite0",
              lambda classes, params: CenterNetDetector(classes, {"lr": 2e-3, **params, "encoder": "effnet_lite0"}),
              tags=("torch", "pretrained")),
)
