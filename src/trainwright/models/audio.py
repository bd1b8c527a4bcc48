"""Rung 7 for audio clips: a small CNN on log-mel spectrograms (features/audio.py ``AudioLogMel``), trained from
scratch by the shared torch loop with two augmentations drawn afresh for every batch: a time shift (the word said a
little earlier or later; the frames shifted in are the clip's own silence floor) and Gaussian noise of a random
strength (a noisier room). It early-stops on the validation part like the other networks.

The estimators are the neural family's (``NeuralClassifier``/``NeuralRegressor``, ``_torch_estimator``) with their
own network, architecture description and augmenter; their serializer writes the weights as safetensors (tensors
only: reading runs no code) and the architecture and settings as JSON, and builds the network back from that
description on the CPU. The torch module and the augmentation live in ``_audio_nets``, imported only by code that
builds or trains a network, so the registry's import of this module stays light. This family is listed before
the neural family in the registry (same rung, module name first), so its serializer is asked first about its
estimators, which are NeuralEstimators too. ``band_shift`` (mel bands up or down: a higher or lower voice) is a
third augmentation, off by default: on voices never heard in training it did not help (82-88% against 89%).

The cheaper audio rungs are the shared ``linear`` (and, when named, ``lightgbm``) specs: on an audio column their
preprocessing is the MFCC summary statistics (``FeatureNeeds.audio`` defaults to ``mfcc``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models._torch_estimator import NeuralClassifier, NeuralEstimator, NeuralRegressor
from trainwright.models.neural import EARLY_STOPPING, _common
from trainwright.models.serialize import (
    Serializer,
    bundle_file,
    describe_estimator,
    rebuild_estimator,
    save_weights,
)
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["AUDIO_CNN", "SERIALIZER", "SPECS", "AudioCNNClassifier", "AudioCNNRegressor", "build_audio_network"]

_WEIGHTS_FILE = "audio_cnn.safetensors"
_NETWORK = "audio_cnn"
# estimator parameters a bundle records (the rest — device, threads, deadline, checkpoints — belong to one run)
_KEPT = ("n_mels", "width", "stages", "dropout", "time_shift", "noise", "band_shift", "max_epochs", "batch_size", "lr",
         "weight_decay", "patience", "loss", "label_smoothing", "class_weight", "deterministic", "random_state")


class _AudioCNN(NeuralEstimator):
    """The audio CNN's settings; the loss, targets and outputs come from the classifier or regressor beside it."""

    def __init__(self, n_mels: int = 40, width: int = 16, stages: int = 3, dropout: float = 0.2,
                 time_shift: float = 0.15, noise: float = 0.3, band_shift: int = 0, max_epochs: int = 40,
                 batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 5e-4, patience: int | None = 8,
                 loss: str | None = None,
                 label_smoothing: float = 0.0, class_weight: str | None = None, device: str = "auto",
                 precision: str = "auto", deterministic: bool = True, random_state: int = 0,
                 n_jobs: int | None = None, deadline: float = math.inf, checkpoint_dir: str | None = None,
                 resume: bool = False) -> None:
        super().__init__(network=_NETWORK, width=width, stages=stages, dropout=dropout, augment="shift_noise",
                         max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         patience=patience, loss=loss, label_smoothing=label_smoothing, class_weight=class_weight,
                         device=device, precision=precision, deterministic=deterministic, random_state=random_state,
                         n_jobs=n_jobs, deadline=deadline, checkpoint_dir=checkpoint_dir, resume=resume)
        self.n_mels = n_mels
        self.time_shift = time_shift
        self.noise = noise
        self.band_shift = band_shift

    def architecture(self) -> dict[str, Any]:
        n_mels = int(self.n_mels)
        if self.n_features_in_ % n_mels:
            raise ValueError(f"a row of {self.n_features_in_} values is not a log-mel spectrogram of {n_mels} bands: "
                             "the audio CNN reads an audio column's AudioLogMel features")
        return {"kind": _NETWORK, "n_mels": n_mels, "n_frames": self.n_features_in_ // n_mels,
                "n_out": self._n_out(), "width": int(self.width), "stages": int(self.stages),
                "dropout": float(self.dropout)}

    def _build_module(self) -> Any:
        return build_audio_network(self.architecture())

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> _AudioCNN:
        """Train on (X, y); with ``eval_set=(X_val, y_val)`` stop early on its loss and keep the best epoch. Written
        out here from the base class's parts because the base ``fit`` reads a square image's side from the input
        of every network but the MLP, and a spectrogram is no square image."""
        import torch

        from trainwright.models._torch_estimator import _dense32
        from trainwright.models._torch_loop import seeded, train_module

        Xa = _dense32(X)
        self.n_features_in_ = Xa.shape[1]
        target = self._targets(y, fitting=True)
        with seeded(int(self.random_state), deterministic=self.deterministic, n_threads=self.n_jobs):
            module = self._build_module()
            validate = None
            if eval_set is not None:
                validate = self._validator(torch.from_numpy(_dense32(eval_set[0])),
                                           torch.from_numpy(self._targets(eval_set[1], fitting=False)))
            result = train_module(module, self._loss(target), torch.from_numpy(Xa), torch.from_numpy(target),
                                  self._settings(eval_set is not None), validate=validate, augment=self._augmenter())
        self.module_ = module.to("cpu").eval()
        self.best_epoch_, self.history_, self.stopped_ = int(result.best_epoch), result.history, result.stopped
        return self

    def _augmenter(self) -> Any:
        arch = self.architecture()
        return shift_and_noise(arch["n_mels"], arch["n_frames"], float(self.time_shift), float(self.noise),
                               int(self.band_shift))


class AudioCNNClassifier(_AudioCNN, NeuralClassifier):
    """The audio CNN with cross-entropy and softmax probabilities."""


class AudioCNNRegressor(_AudioCNN, NeuralRegressor):
    """The audio CNN on a standardised numeric target."""


def build_audio_network(architecture: Mapping[str, Any]) -> Any:
    """The audio CNN an architecture description names (``_audio_nets``; imports torch)."""
    from trainwright.models._audio_nets import build_audio_network as build

    return build(architecture)


def shift_and_noise(n_mels: int, n_frames: int, time_shift: float, noise: float, band_shift: int = 0) -> Any:
    """The training augmentation (``_audio_nets``; imports torch)."""
    from trainwright.models._audio_nets import shift_and_noise as augmentation

    return augmentation(n_mels, n_frames, time_shift, noise, band_shift)


# --- the bundle: safetensors weights + a JSON description -----------------------------------------
def _save(estimator: Any, directory: Path) -> dict[str, Any]:

    save_weights(estimator.module_, Path(directory) / _WEIGHTS_FILE)
    return describe_estimator(estimator, isinstance(estimator, NeuralClassifier), _KEPT,
                              architecture=estimator.architecture(), n_features_in=int(estimator.n_features_in_),
                              best_epoch=int(estimator.best_epoch_))


def _load(description: Mapping[str, Any], directory: Path) -> Any:
    from safetensors.torch import load_file

    estimator = rebuild_estimator(description, {"classifier": AudioCNNClassifier, "regressor": AudioCNNRegressor}, _KEPT)
    estimator.n_features_in_ = int(description["n_features_in"])
    estimator.best_epoch_ = int(description["best_epoch"])
    module = build_audio_network(description["architecture"])
    module.load_state_dict(load_file(str(bundle_file(directory, _WEIGHTS_FILE)), device="cpu"), strict=True)
    estimator.module_ = module.eval()
    estimator.history_, estimator.stopped_ = [], "loaded"
    return estimator


SERIALIZER = Serializer("audio_cnn", handles=lambda est: isinstance(est, _AudioCNN), save=_save, load=_load)


def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    kind = AudioCNNRegressor if ctx.task is TaskKind.REGRESSION else AudioCNNClassifier
    return kind(n_mels=int(params["n_mels"]), width=int(params["width"]), stages=int(params["stages"]),
                time_shift=float(params["time_shift"]), noise=float(params["noise"]),
                band_shift=int(params.get("band_shift", 0)), **_common(ctx, params))


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {"width": CategoricalDistribution((8, 16, 32)), "stages": IntDistribution(2, 4),
            "dropout": FloatDistribution(0.0, 0.5), "lr": FloatDistribution(3e-4, 1e-2, log=True),
            "weight_decay": FloatDistribution(1e-5, 1e-2, log=True), "time_shift": FloatDistribution(0.0, 0.3),
            "noise": FloatDistribution(0.0, 0.6)}


# Audio columns only (tag "audio_only"): the log-mel spectrogram (40 bands x 1.2 s) the preprocessor reads from
# the clips. Small on purpose: on one CPU thread an epoch over ~700 clips takes a couple of seconds at width 16.
AUDIO_CNN = ModelSpec(
    name="audio_cnn", family="audio", rung=7, build=_build, needs=FeatureNeeds(float32=True, audio="logmel"),
    # lr 1e-2 (3e-3 under-fitted in 40 epochs: 89% on unseen voices against 92%); patience 12: the validation loss
    # of a few hundred clips jumps from epoch to epoch
    defaults={"n_estimators": 80, "n_mels": 40, "width": 16, "stages": 3, "dropout": 0.2, "lr": 1e-2,
              "weight_decay": 5e-4, "batch_size": 32, "time_shift": 0.15, "noise": 0.3, "patience": 12},
    # the fit's cost against the linear rung's, whose time is mostly reading the clips: ~9x measured at 40 epochs
    search_space=_space, early_stopping=EARLY_STOPPING, relative_cost=8.0,
    tags=frozenset({"needs_torch", "uses_gpu", "audio_only"}), serializer=SERIALIZER,
    description="small CNN (PyTorch) on log-mel spectrograms, time-shift and noise augmentation",
)

SPECS = (AUDIO_CNN,)
