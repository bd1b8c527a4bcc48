"""Segmentation models, simplest first: LightGBM on per-pixel colour and local-filter features, a U-Net from
scratch, a U-Net over the pretrained EfficientNet-Lite0 encoder.

Their specs are ``DENSE_SPECS``, not ``SPECS``: the registry puts ``SPECS`` on the tabular ladder, and these read
images and masks, not table rows. Heavy imports (torch, LightGBM, SciPy) are inside the methods.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trainwright.models._dense_base import DenseArrays, DenseSettings, DenseSpec, mean_object_iou

__all__ = ["DENSE_SPECS", "PixelBoosting", "UNetSegmenter", "pixel_features"]

_SIGMAS = (1.0, 2.0, 4.0, 8.0)
_PIXELS_PER_IMAGE = 400  # training pixels drawn per image, half of them from objects when it has any


def pixel_features(images: np.ndarray) -> np.ndarray:
    """(N, 3, S, S) in 0..1 -> (N, S, S, F): per channel the colour, its Gaussian blurs, gradient magnitudes,
    local spread, and the colour minus the image's mean colour (what makes an object stand out of its own
    background, whatever the colours)."""
    from scipy import ndimage

    x = images.astype(np.float32)
    planes = [x, x - x.mean(axis=(2, 3), keepdims=True)]
    for sigma in _SIGMAS:
        planes.append(ndimage.gaussian_filter(x, sigma=(0, 0, sigma, sigma)))
    for sigma in _SIGMAS[:2]:
        planes.append(ndimage.gaussian_gradient_magnitude(x, sigma=(0, 0, sigma, sigma)))
    mean2 = ndimage.gaussian_filter(x * x, sigma=(0, 0, 2, 2))
    planes.append(np.sqrt(np.clip(mean2 - planes[3] ** 2, 0, None)))
    return np.concatenate(planes, axis=1).transpose(0, 2, 3, 1)


def _sample_pixels(masks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n, size, _ = masks.shape
    picked = []
    for i in range(n):
        flat = masks[i].ravel()
        objects = np.flatnonzero(flat > 0)
        half = _PIXELS_PER_IMAGE // 2
        chosen = rng.choice(flat.size, size=min(flat.size, _PIXELS_PER_IMAGE - min(half, len(objects))), replace=False)
        if len(objects):
            chosen = np.concatenate([chosen, rng.choice(objects, size=min(half, len(objects)), replace=False)])
        picked.append(np.stack([np.full(len(chosen), i), chosen // size, chosen % size], axis=1))
    rows = np.concatenate(picked)
    return rows[:, 0], rows[:, 1], rows[:, 2]


class PixelBoosting:
    """The per-pixel baseline: LightGBM (multiclass) on ``pixel_features`` of subsampled pixels, early-stopped on
    the validation images' pixels. Knows colour and texture, not shape."""

    name = "pixel_lightgbm"

    def __init__(self, classes: tuple[str, ...], params: dict[str, Any] | None = None) -> None:
        self.classes = classes
        self.params = dict(params or {})
        self.booster_: Any = None

    def _dataset(self, data: DenseArrays, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if data.masks is None:
            raise ValueError("the per-pixel model trains on masks")
        i, r, c = _sample_pixels(data.masks, rng)
        features = pixel_features(data.images)
        return features[i, r, c], data.masks[i, r, c]

    def fit(self, train: DenseArrays, valid: DenseArrays, settings: DenseSettings) -> PixelBoosting:
        import lightgbm as lgb

        rng = np.random.default_rng(settings.seed)
        X, y = self._dataset(train, rng)
        Xv, yv = self._dataset(valid, rng)
        params = {"objective": "multiclass", "num_class": len(self.classes) + 1, "learning_rate": 0.15,
                  "num_leaves": 15, "min_data_in_leaf": 20, "verbose": -1, "seed": settings.seed,
                  "num_threads": settings.n_threads or 0, "force_col_wise": True}
        self.booster_ = lgb.train(params, lgb.Dataset(X, y), num_boost_round=int(self.params.get("rounds", 100)),
                                  valid_sets=[lgb.Dataset(Xv, yv)],
                                  callbacks=[lgb.early_stopping(10, verbose=False)])
        return self

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, K+1, S, S) class probabilities per pixel."""
        features = pixel_features(images)
        n, h, w, f = features.shape
        proba = self.booster_.predict(features.reshape(-1, f), num_iteration=self.booster_.best_iteration or None)
        return np.asarray(proba, np.float32).reshape(n, h, w, -1).transpose(0, 3, 1, 2)

    def predict_masks(self, images: np.ndarray) -> np.ndarray:
        return self.predict_proba(images).argmax(axis=1).astype(np.uint8)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        text = self.booster_.model_to_string(num_iteration=self.booster_.best_iteration or None)
        return {"lightgbm_model": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, self.params

    def load_state(self, tensors: dict[str, np.ndarray]) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_str=bytes(tensors["lightgbm_model"]).decode("utf-8"))


class UNetSegmenter:
    """A U-Net (encoder ``scratch`` or ``effnet_lite0``) trained with cross-entropy + soft Dice on augmented
    images and masks, early-stopped on the validation images' mean IoU over object classes."""

    def __init__(self, classes: tuple[str, ...], params: dict[str, Any] | None = None) -> None:
        self.classes = classes
        self.params = {"encoder": "scratch", "lr": 3e-3, **(params or {})}
        self.name = "unet" if self.params["encoder"] == "scratch" else "unet_effnet"
        self.net_: Any = None
        self.history_: list[dict[str, float]] = []

    def _net(self, pretrained: bool) -> Any:
        from trainwright.models._dense_nets import build_net

        return build_net("segmentation", len(self.classes) + 1, self.params["encoder"], pretrained=pretrained)

    def fit(self, train: DenseArrays, valid: DenseArrays, settings: DenseSettings) -> UNetSegmenter:
        import torch

        from trainwright.models._dense_train import augment, fit_dense
        from trainwright.models._torch_loop import LoopSettings, pick_device, seeded

        if train.masks is None or valid.masks is None:
            raise ValueError("a segmenter trains on masks")
        valid_masks = valid.masks
        device = pick_device(settings.device)
        n_classes = len(self.classes) + 1
        masks = torch.from_numpy(train.masks)

        def batch(idx: np.ndarray, rng: np.random.Generator) -> tuple[Any, Any]:
            x, y = torch.from_numpy(train.images[idx]), masks[idx]
            if settings.augment:
                x, moved, _ = augment(x, y, [np.zeros((0, 5), np.float32)] * len(idx), rng)
                y = moved if moved is not None else y
            return x.to(device), y.to(device)

        def loss(out: Any, y: Any) -> Any:
            proba = torch.softmax(out, dim=1)
            onehot = torch.nn.functional.one_hot(y, n_classes).permute(0, 3, 1, 2).float()
            inter, total = (proba * onehot).sum((0, 2, 3)), (proba + onehot).sum((0, 2, 3))
            dice = 1 - ((2 * inter + 1) / (total + 1))[1:].mean()
            return torch.nn.functional.cross_entropy(out, y) + dice

        def validate(module: Any) -> float:
            self.net_ = module
            return mean_object_iou(valid_masks, self.predict_masks(valid.images), n_classes)

        loop = LoopSettings(max_epochs=settings.max_epochs, batch_size=settings.batch_size, lr=float(self.params["lr"]),
                            patience=settings.patience, deadline=settings.deadline, seed=settings.seed,
                            device=str(device))
        with seeded(settings.seed, deterministic=False, n_threads=settings.n_threads):
            net = self._net(pretrained=True)
            started = time.monotonic()
            result = fit_dense(net, len(train), batch, loss, loop, validate)
        self.net_, self.history_ = net.cpu(), result["history"]
        self.params["train_s"] = round(time.monotonic() - started, 1)
        return self

    def predict_masks(self, images: np.ndarray) -> np.ndarray:
        from trainwright.models._dense_train import run_batches

        outs = run_batches(self.net_, images)
        return np.concatenate([o.argmax(dim=1).cpu().numpy() for o in outs]).astype(np.uint8)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from trainwright.models._dense_train import net_tensors

        return net_tensors(self.net_), {"encoder": self.params["encoder"], "lr": self.params["lr"]}

    def load_state(self, tensors: dict[str, np.ndarray]) -> None:
        from trainwright.models._dense_train import load_net_tensors

        self.net_ = self._net(pretrained=False)
        load_net_tensors(self.net_, tensors)


DENSE_SPECS: tuple[DenseSpec, ...] = (
    DenseSpec("pixel_lightgbm", "segmentation", 1, "LightGBM per pixel on colour and local filter features",
              lambda classes, params: PixelBoosting(classes, params), needs_masks=True),
    DenseSpec("unet", "segmentation", 2, "U-Net from scratch (cross-entropy + Dice, flips/crops/scale)",
              lambda classes, params: UNetSegmenter(classes, {**params, "encoder": "scratch"}), needs_masks=True,
              tags=("torch",)),
    DenseSpec("unet_effnet", "segmentation", 3, "U-Net over the pretrained EfficientNet-Lite0 encoder",
              lambda classes, params: UNetSegmenter(classes, {"lr": 2e-3, **params, "encoder": "effnet_lite0"}),
              needs_masks=True, tags=("torch", "pretrained")),
)
