"""Training pieces of the dense torch models: augmentation that moves boxes and masks with the image, CenterNet
targets, losses and decoding, and the epoch loop.

The loop is our own rather than ``_torch_loop.train_module``: that loop augments the inputs alone, and here every
flip, crop and scale must move the masks and boxes too, and detection targets are built per batch after the boxes
moved. It keeps the same settings (``LoopSettings``), schedule, clipping, best-epoch restore and deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainwright.models._torch_loop import LoopSettings, pick_device

__all__ = ["STRIDE", "augment", "centernet_loss", "centernet_targets", "decode_centernet", "fit_dense", "load_net_tensors",
           "net_tensors", "nms", "run_batches"]

STRIDE = 4  # detection heads work at a quarter of the input resolution


def augment(images: torch.Tensor, masks: torch.Tensor | None, boxes: list[np.ndarray], gen: np.random.Generator,
            scale: tuple[float, float] = (0.8, 1.25)) -> tuple[torch.Tensor, torch.Tensor | None, list[np.ndarray]]:
    """Random horizontal flips (per image) and one random scale with crop or pad (per batch), applied alike to
    images (B, 3, S, S), masks (B, S, S) and boxes (n, 5: x, y, w, h, label) in pixels. Boxes cut to less than
    40% of their area, or under 2 pixels, are dropped."""
    size = images.shape[-1]
    flip = gen.random(len(images)) < 0.5
    images, masks, boxes = images.clone(), None if masks is None else masks.clone(), [b.copy() for b in boxes]
    for i in np.flatnonzero(flip):
        images[i] = images[i].flip(-1)
        if masks is not None:
            masks[i] = masks[i].flip(-1)
        if len(boxes[i]):
            boxes[i][:, 0] = size - boxes[i][:, 0] - boxes[i][:, 2]
    factor = float(gen.uniform(*scale))
    new = max(8, round(size * factor))
    factor = new / size
    images = F.interpolate(images, size=(new, new), mode="bilinear", align_corners=False)
    if masks is not None:
        masks = F.interpolate(masks[:, None].float(), size=(new, new), mode="nearest-exact")[:, 0].long()
    shift = int(gen.integers(0, abs(new - size) + 1))
    shift_y = int(gen.integers(0, abs(new - size) + 1))
    if new >= size:
        images = images[..., shift_y:shift_y + size, shift:shift + size]
        masks = None if masks is None else masks[..., shift_y:shift_y + size, shift:shift + size]
        dx, dy = -shift, -shift_y
    else:
        pad = (shift, size - new - shift, shift_y, size - new - shift_y)
        images = F.pad(images, pad, mode="replicate")
        masks = None if masks is None else F.pad(masks, pad, value=0)
        dx, dy = shift, shift_y
    return images.contiguous(), masks, [_moved(b, factor, dx, dy, size) for b in boxes]


def _moved(boxes: np.ndarray, factor: float, dx: float, dy: float, size: int) -> np.ndarray:
    if not len(boxes):
        return boxes
    x0, y0 = boxes[:, 0] * factor + dx, boxes[:, 1] * factor + dy
    x1, y1 = x0 + boxes[:, 2] * factor, y0 + boxes[:, 3] * factor
    cx0, cy0, cx1, cy1 = np.clip(x0, 0, size), np.clip(y0, 0, size), np.clip(x1, 0, size), np.clip(y1, 0, size)
    area, kept = (x1 - x0) * (y1 - y0), (cx1 - cx0) * (cy1 - cy0)
    keep = (kept >= 0.4 * area) & (cx1 - cx0 >= 2) & (cy1 - cy0 >= 2)
    out = np.stack([cx0, cy0, cx1 - cx0, cy1 - cy0, boxes[:, 4]], axis=1)
    return out[keep].astype(np.float32)


def centernet_targets(boxes: list[np.ndarray], n_classes: int, size: int) -> dict[str, torch.Tensor]:
    """Per image: a Gaussian peak per box on its class's heatmap (sigma a sixth of the box's size in cells), and
    at each centre cell the log size in cells and the centre's offset within the cell."""
    cells = size // STRIDE
    heat = np.zeros((len(boxes), n_classes, cells, cells), np.float32)
    box = np.zeros((len(boxes), 4, cells, cells), np.float32)
    where = np.zeros((len(boxes), cells, cells), np.float32)
    grid = np.arange(cells, dtype=np.float32)
    for i, image_boxes in enumerate(boxes):
        for x, y, w, h, label in image_boxes:
            cx, cy = (x + w / 2) / STRIDE, (y + h / 2) / STRIDE
            ix, iy = min(int(cx), cells - 1), min(int(cy), cells - 1)
            sx, sy = max(0.5, w / STRIDE / 6), max(0.5, h / STRIDE / 6)
            g = np.exp(-((grid[None, :] - ix) ** 2) / (2 * sx**2) - ((grid[:, None] - iy) ** 2) / (2 * sy**2))
            heat[i, int(label)] = np.maximum(heat[i, int(label)], g)
            box[i, :, iy, ix] = (math.log(w / STRIDE), math.log(h / STRIDE), cx - ix, cy - iy)
            where[i, iy, ix] = 1.0
    return {"heat": torch.from_numpy(heat), "box": torch.from_numpy(box), "where": torch.from_numpy(where)}


def centernet_loss(out: torch.Tensor, target: dict[str, torch.Tensor]) -> torch.Tensor:
    """Penalty-reduced focal loss on the heatmap (CenterNet, alpha 2, beta 4) + L1 on size and offset at centres."""
    n_classes = target["heat"].shape[1]
    pred = torch.sigmoid(out[:, :n_classes].float()).clamp(1e-4, 1 - 1e-4)
    heat = target["heat"]
    peak = heat.eq(1).float()
    pos = torch.log(pred) * (1 - pred) ** 2 * peak
    neg = torch.log(1 - pred) * pred**2 * (1 - heat) ** 4 * (1 - peak)
    n_objects = peak.sum().clamp(min=1.0)
    focal = -(pos.sum() + neg.sum()) / n_objects
    where = target["where"][:, None]
    l1 = (F.l1_loss(out[:, n_classes:].float(), target["box"], reduction="none") * where).sum() / n_objects
    return focal + l1


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (boxes x, y, w, h), best score first."""
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        h = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = w * h
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_centernet(out: torch.Tensor, n_classes: int, *, threshold: float = 0.01, top_k: int = 100,
                     nms_iou: float = 0.5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image (boxes x, y, w, h in input pixels, labels, scores): heatmap peaks (3x3 local maxima) above
    ``threshold``, the ``top_k`` best, then NMS per class."""
    heat = torch.sigmoid(out[:, :n_classes].float())
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
    batch, _, cells_y, cells_x = heat.shape
    scores, flat = peaks.reshape(batch, -1).topk(min(top_k, peaks[0].numel()))
    results = []
    for i in range(batch):
        keep = scores[i] >= threshold
        idx = flat[i][keep]
        label, rest = idx // (cells_y * cells_x), idx % (cells_y * cells_x)
        iy, ix = rest // cells_x, rest % cells_x
        reg = out[i, n_classes:].float()[:, iy, ix]
        w, h = torch.exp(reg[0].clamp(max=6)) * STRIDE, torch.exp(reg[1].clamp(max=6)) * STRIDE
        cx, cy = (ix.float() + reg[2]) * STRIDE, (iy.float() + reg[3]) * STRIDE
        boxes = torch.stack([cx - w / 2, cy - h / 2, w, h], dim=1).cpu().numpy()
        labels, conf = label.cpu().numpy(), scores[i][keep].cpu().numpy()
        chosen = [np.flatnonzero(labels == k)[nms(boxes[labels == k], conf[labels == k], nms_iou)]
                  for k in np.unique(labels)]
        order = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        results.append((boxes[order], labels[order], conf[order]))
    return results


def _lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up, then cosine decay to zero at ``progress`` 1."""
    if progress < warmup:
        return (progress + 1e-3) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (progress - warmup) / max(1e-9, 1.0 - warmup))))


def fit_dense(module: nn.Module, n_train: int, make_batch: Callable[[np.ndarray, np.random.Generator], tuple[Any, Any]],
              loss_fn: Callable[[torch.Tensor, Any], torch.Tensor], s: LoopSettings,
              validate: Callable[[nn.Module], float] | None = None) -> dict[str, Any]:
    """Epochs of shuffled mini-batches (``make_batch(indices, rng)`` returns inputs and targets on the device),
    AdamW, gradient clipping, early stopping on ``validate`` (higher is better) with the best weights restored.
    The learning rate warms up then decays (cosine) over whichever is shorter, ``max_epochs`` or the time left
    to the deadline, so a run cut by its budget still ends at a low rate instead of mid-schedule."""
    device = pick_device(s.device)
    module.to(device)
    gen = np.random.default_rng(s.seed)
    steps_per_epoch = max(1, math.ceil(n_train / s.batch_size))
    total_steps, started = steps_per_epoch * s.max_epochs, time.monotonic()
    span = s.deadline - started if math.isfinite(s.deadline) else math.inf
    optimizer = torch.optim.AdamW(module.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    best, best_epoch, best_state, history, stopped, step = -math.inf, 0, None, [], "max_epochs", 0
    progress = 0.0
    for epoch in range(1, s.max_epochs + 1):
        module.train()
        start, total = time.perf_counter(), 0.0
        order = gen.permutation(n_train)
        for first in range(0, n_train, s.batch_size):
            idx = order[first:first + s.batch_size]
            if len(idx) < 2 < n_train:  # batch norm cannot train on a single image
                continue
            progress = max(step / total_steps, (time.monotonic() - started) / span)
            for group in optimizer.param_groups:
                group["lr"] = s.lr * _lr_factor(min(progress, 1.0), s.warmup)
            inputs, target = make_batch(idx, gen)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(module(inputs), target)
            loss.backward()
            if s.clip_norm:
                nn.utils.clip_grad_norm_(module.parameters(), s.clip_norm)
            optimizer.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        record = {"epoch": epoch, "train_loss": total / n_train, "seconds": time.perf_counter() - start}
        if validate is not None:
            module.eval()
            with torch.no_grad():
                record["val_score"] = score = float(validate(module))
            if score > best or best_state is None:
                best, best_epoch = score, epoch
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        history.append(record)
        if validate is not None and s.patience is not None and epoch - best_epoch >= s.patience:
            stopped = "early_stopping"
            break
        if time.monotonic() >= s.deadline or progress >= 1.0:
            stopped = "deadline"
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return {"history": history, "best_epoch": best_epoch or len(history), "stopped": stopped}


def net_tensors(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's weights and buffers as NumPy arrays, for safetensors."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_net_tensors(module: nn.Module, tensors: dict[str, np.ndarray]) -> None:
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
    module.eval()


def run_batches(module: nn.Module, images: np.ndarray, batch_size: int = 32) -> list[torch.Tensor]:
    """The module's raw outputs over ``images`` (N, 3, S, S), in batches, without gradients, on its device."""
    device = next(module.parameters()).device
    module.eval()
    outs = []
    with torch.no_grad():
        for first in range(0, len(images), batch_size):
            outs.append(module(torch.from_numpy(np.ascontiguousarray(images[first:first + batch_size])).to(device)))
    return outs
