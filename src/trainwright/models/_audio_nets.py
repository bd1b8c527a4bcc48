"""The torch side of the audio CNN (models/audio.py): the network, built from its JSON description, and the batch
augmentation. Imports torch: import only inside code that builds, trains or runs the network."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["AudioCNN", "build_audio_network", "shift_and_noise"]

_NETWORK = "audio_cnn"


class AudioCNN(nn.Module):
    """Per stage: 3x3 convolution, batch norm, ReLU, 2x2 max pooling, width doubling; then global average
    pooling, dropout and a linear head. Input: flat rows of n_mels * n_frames standardised log-mel values."""

    def __init__(self, n_mels: int, n_frames: int, n_out: int, width: int, stages: int, dropout: float) -> None:
        super().__init__()
        self.shape = (1, n_mels, n_frames)
        layers: list[nn.Module] = []
        channels = 1
        for i in range(stages):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(channels, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.view(-1, *self.shape)
        return self.head(self.body(x))


def build_audio_network(architecture: Mapping[str, Any]) -> AudioCNN:
    """The audio CNN an architecture description names (only this kind: a bundle chooses no code)."""
    arch = dict(architecture)
    if arch.get("kind") != _NETWORK:
        raise ValueError(f"unknown network kind {arch.get('kind')!r}; valid: {_NETWORK}")
    return AudioCNN(int(arch["n_mels"]), int(arch["n_frames"]), int(arch["n_out"]), int(arch["width"]),
                    int(arch["stages"]), float(arch["dropout"]))


def _shifted(spectra: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
    """Each clip's spectrogram moved by its shift along ``dim`` (1: mel bands, 2: frames); what moves in is silence:
    that band's quietest value when frames move, the clip's quietest value when bands move."""
    size = spectra.shape[dim]
    source = torch.arange(size, device=spectra.device)[None, :] - shifts  # position t shows position t - shift
    outside = (source < 0) | (source >= size)
    source = source.clamp(0, size - 1)
    if dim == 2:
        outside, index = outside[:, None, :], source[:, None, :].expand_as(spectra)
    else:
        outside, index = outside[:, :, None], source[:, :, None].expand_as(spectra)
    floor = spectra.amin(dim=2, keepdim=True)
    if dim == 1:
        floor = floor.amin(dim=1, keepdim=True)
    return torch.where(outside, floor, torch.gather(spectra, dim, index))


def shift_and_noise(n_mels: int, n_frames: int, time_shift: float, noise: float,
                    band_shift: int = 0) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """A batch augmentation for flat log-mel rows: each clip shifted in time by up to ``time_shift`` of its frames
    (either way; the frames shifted in take each band's quietest value, the clip's silence), optionally up or down
    by up to ``band_shift`` mel bands (a higher or lower voice), then Gaussian noise with a standard deviation drawn
    uniformly in [0, ``noise``] per clip (the features are standardised)."""
    max_shift = round(time_shift * n_frames)

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        spectra = x.view(n, n_mels, n_frames)
        if max_shift > 0:
            shifts = torch.randint(-max_shift, max_shift + 1, (n, 1), generator=generator).to(x.device)
            spectra = _shifted(spectra, shifts, 2)
        if band_shift > 0:
            shifts = torch.randint(-band_shift, band_shift + 1, (n, 1), generator=generator).to(x.device)
            spectra = _shifted(spectra, shifts, 1)
        if noise > 0:
            strength = torch.rand(n, 1, 1, generator=generator) * noise
            spectra = spectra + (torch.randn(spectra.shape, generator=generator) * strength).to(x.device, x.dtype)
        return spectra.reshape(n, -1)

    return augment
