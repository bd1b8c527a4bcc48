"""The torch architectures of the neural family, built from a plain JSON-able description (what a bundle stores
beside the safetensors weights). Imports torch: import only inside code that builds or runs a network."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "ResidualCNN", "augmenter", "build_network"]


class MLP(nn.Module):
    """Linear -> batch norm -> ReLU -> dropout, per hidden layer; a linear head."""

    def __init__(self, n_in: int, n_out: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.1,
                 batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _Block(nn.Module):
    """conv-BN-ReLU-conv-BN plus the input (a 1x1 strided projection when the shape changes), then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResidualCNN(nn.Module):
    """A small residual CNN: a 3x3 stem with 2x2 max pooling, one residual block per stage (width doubling, stride 2 after the first),
    global average pooling, dropout, a linear head. Input: flat rows of channels*size*size pixels."""

    def __init__(self, channels: int, size: int, n_out: int, width: int = 32, stages: int = 3,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.shape = (channels, size, size)
        # the stem halves the resolution (max pooling): the blocks then cost a quarter, with little lost on small images
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.MaxPool2d(2))
        blocks, c = [], width
        for i in range(stages):
            blocks.append(_Block(c, width * 2**i, 1 if i == 0 else 2))
            c = width * 2**i
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.view(-1, *self.shape)
        return self.head(self.blocks(self.stem(x)))


def build_network(architecture: Mapping[str, Any]) -> nn.Module:
    """The network an architecture description names; only these two kinds exist, so a bundle chooses no code."""
    arch = dict(architecture)
    kind = arch.pop("kind", None)
    if kind == "mlp":
        return MLP(int(arch["n_in"]), int(arch["n_out"]), tuple(int(h) for h in arch["hidden"]),
                   float(arch["dropout"]), bool(arch["batch_norm"]))
    if kind == "cnn":
        return ResidualCNN(int(arch["channels"]), int(arch["size"]), int(arch["n_out"]), int(arch["width"]),
                           int(arch["stages"]), float(arch["dropout"]))
    raise ValueError(f"unknown network kind {kind!r}; valid: mlp, cnn")


def augmenter(kind: str, architecture: Mapping[str, Any]) -> Any:
    """A batch augmentation in plain torch for images (rows of channels*size*size pixels), or None for ``none``.

    ``affine``: per image, a small random affine warp (rotation up to 10 degrees, scale 0.9-1.1, shift up to 10% of
    the side: a random crop without losing the size); ``affine_flip`` adds a horizontal flip half of the time (not
    for digits or text, where a mirror image is another class)."""
    if kind == "none":
        return None
    if kind not in ("affine", "affine_flip"):
        raise ValueError(f"unknown augmentation {kind!r}; valid: none, affine, affine_flip")
    shape = (int(architecture["channels"]), int(architecture["size"]), int(architecture["size"]))
    flip = kind == "affine_flip"

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        images = x.view(n, *shape)
        r = torch.rand(n, 5, generator=generator)
        angle = (r[:, 0] - 0.5) * (2 * math.pi / 18)
        scale = 0.9 + 0.2 * r[:, 1]
        sign = torch.where(r[:, 4] < 0.5, -1.0, 1.0) if flip else torch.ones(n)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos * sign, -sin, (r[:, 2] - 0.5) * 0.2], 1),
                             torch.stack([sin * sign, cos, (r[:, 3] - 0.5) * 0.2], 1)], 1).to(x.device, x.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, padding_mode="border", align_corners=False).view(n, -1)

    return augment
