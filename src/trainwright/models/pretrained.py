"""Rung 8 for images: the ImageNet-trained EfficientNet-Lite0 (``_backbone``), carried on to the user's classes.

The schedule: the frozen backbone's pooled features + a new linear head first (``head_epochs`` at ``head_lr``), then
the top ``tune_blocks`` blocks and the head fine-tuned together (``n_estimators`` epochs at the lower ``lr``), within
the time budget (the loop's deadline) and early-stopped on the validation part. The frozen body runs once per fit:
its outputs are computed once and both phases train on them (an epoch then costs the top alone, a few times less
than the whole network), which is why there is no pixel augmentation here. When fine-tuning the top does not beat
the head alone on the validation part, the head-only weights are kept and ``best_epoch_`` is 0 (the refit then
trains the head only).

Images reach the rung as 96x96 pixels (``FeatureNeeds.image_size``): EfficientNet's input is downsampled 32 times,
so 96 leaves a 3x3 map; on one CPU thread the frozen body reads ~150 such images a second (12 at 224x224).

In a bundle: only the top's and the head's weights (safetensors) and a JSON description; the body's weights are
read again from the installed package when the bundle loads, never copied, never downloaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models._torch_estimator import NeuralClassifier, NeuralEstimator, NeuralRegressor, _phase
from trainwright.models.neural import EARLY_STOPPING
from trainwright.models.serialize import Serializer, bundle_file, describe_estimator, rebuild_estimator
from trainwright.models.spec import BuildContext, ModelSpec

__all__ = ["EFFICIENTNET_LITE0", "SERIALIZER", "SPECS", "PretrainedClassifier", "PretrainedEstimator",
           "PretrainedRegressor"]

_WEIGHTS_FILE = "pretrained.safetensors"
_EMBED_ROWS = 256  # images per forward pass of the frozen body (memory stays bounded at 96x96 and above)
_KEPT = ("tune_blocks", "head_epochs", "head_lr", "max_epochs", "batch_size", "lr", "weight_decay", "dropout",
         "patience", "label_smoothing", "class_weight", "deterministic", "random_state")


class PretrainedEstimator(NeuralEstimator):
    """EfficientNet-Lite0 fine-tuned on image rows (see the module docstring). Settings the schedule fixes are
    class attributes, not parameters."""

    network = "efficientnet_lite0"
    optimizer = "adamw"
    schedule = "cosine"
    warmup = 0.1
    clip_norm: float | None = 1.0
    loss: str | None = None
    augment = "none"
    checkpoint_dir: str | None = None
    resume = False
    predict_rows = _EMBED_ROWS

    def __init__(self, tune_blocks: int = 2, head_epochs: int = 40, head_lr: float = 3e-3, max_epochs: int = 15,
                 batch_size: int = 32, lr: float = 3e-4, weight_decay: float = 1e-4, dropout: float = 0.2,
                 patience: int | None = 5, label_smoothing: float = 0.0, class_weight: str | None = None,
                 device: str = "auto", precision: str = "auto", deterministic: bool = True, random_state: int = 0,
                 n_jobs: int | None = None, deadline: float = math.inf, warm_start: bool = False) -> None:
        self.tune_blocks = tune_blocks
        self.head_epochs = head_epochs
        self.head_lr = head_lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.patience = patience
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.device = device
        self.precision = precision
        self.deterministic = deterministic
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.deadline = deadline
        self.warm_start = warm_start

    def architecture(self) -> dict[str, Any]:
        channels = self.n_features_in_ // self.image_size_ ** 2
        return {"kind": "efficientnet_lite0", "channels": int(channels), "size": int(self.image_size_),
                "n_out": self._n_out(), "tune_blocks": int(self.tune_blocks), "dropout": float(self.dropout)}

    def _build_module(self) -> Any:
        from trainwright.models._backbone import build_pretrained

        return build_pretrained(self.architecture())

    def _augmenter(self) -> Any:
        return None  # the body's outputs are computed once per fit (module docstring)

    def _embedded(self, module: Any, X: Any) -> Any:
        """The frozen body's outputs for every row, on the CPU (the loop moves each batch to the device)."""
        import torch

        from trainwright.models._torch_loop import pick_device

        device = pick_device(self.device)
        module.to(device).eval()
        with torch.no_grad():  # not inference mode: the top trains on these tensors afterwards
            parts = [module.embed(X[i:i + _EMBED_ROWS].to(device)).cpu() for i in range(0, len(X), _EMBED_ROWS)]
        return torch.cat(parts)

    def _pooled(self, module: Any, Z: Any) -> Any:
        """The head's input for the frozen top: pooled features shaped (n, 1280, 1, 1), so the head runs unchanged."""
        import torch

        device = next(module.parameters()).device
        module.eval()
        with torch.no_grad():
            parts = [module.top(Z[i:i + _EMBED_ROWS].to(device)).mean(dim=(2, 3), keepdim=True).cpu()
                     for i in range(0, len(Z), _EMBED_ROWS)]
        return torch.cat(parts)

    def _train(self, module: Any, loss_fn: Any, X: Any, y: Any, validation: tuple[Any, Any] | None) -> Any:
        result, schedule = self._two_phases(module, loss_fn, X, y, validation, lr=float(self.lr))
        self.schedule_ = schedule
        return result

    def _train_new_head(self, module: Any, head: str, loss_fn: Any, X: Any, y: Any,
                        validation: tuple[Any, Any] | None, *, head_epochs: int,
                        lr_scale: float) -> tuple[Any, list[dict[str, Any]]]:
        """New classes: the same two phases, the kept top fine-tuned at ``lr * lr_scale``."""
        return self._two_phases(module, loss_fn, X, y, validation, lr=float(self.lr) * lr_scale,
                                head_epochs=head_epochs)

    def _two_phases(self, module: Any, loss_fn: Any, X: Any, y: Any, validation: tuple[Any, Any] | None, *,
                    lr: float, head_epochs: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
        from torch import nn

        from trainwright.models._torch_loop import LoopResult, train_module

        settings = self._settings(validation is not None)
        Z = self._embedded(module, X)
        pooled_val = validate = None
        if validation is not None:
            Zv = self._embedded(module, validation[0])
            pooled_val = self._validator(self._pooled(module, Zv), validation[1])
            validate = self._validator(Zv, validation[1])
        first = replace(settings, lr=float(self.head_lr), max_epochs=max(1, int(head_epochs or self.head_epochs)))
        head = train_module(module.head, loss_fn, self._pooled(module, Z), y, first, validate=pooled_val)
        schedule = [_phase("linear head on frozen features", first, head)]
        if int(self.max_epochs) < 1 or int(self.tune_blocks) < 1:
            return LoopResult(0, head.epochs_run, head.history, head.stopped), schedule
        kept = {k: v.detach().clone() for k, v in module.state_dict().items() if k.startswith(("top.", "head."))}
        second = replace(settings, lr=lr)
        tuned = train_module(nn.Sequential(module.top, module.head), loss_fn, Z, y, second, validate=validate)
        schedule.append(_phase(f"top {self.tune_blocks} block(s) + head fine-tuned", second, tuned))
        if validation is not None and _best(tuned) <= _best(head):  # fine-tuning did not help: keep the head alone
            module.load_state_dict(kept, strict=False)
            schedule[-1]["kept"] = False
            return LoopResult(0, tuned.epochs_run, head.history + tuned.history, tuned.stopped), schedule
        return LoopResult(tuned.best_epoch, tuned.epochs_run, head.history + tuned.history, tuned.stopped), schedule


def _best(result: Any) -> float:
    return max((r.get("val_score", -math.inf) for r in result.history), default=-math.inf)


class PretrainedClassifier(PretrainedEstimator, NeuralClassifier):
    """Cross-entropy, softmax probabilities (``NeuralClassifier``), on the pretrained network."""


class PretrainedRegressor(PretrainedEstimator, NeuralRegressor):
    """The standardised target's MSE (``NeuralRegressor``), on the pretrained network."""


# --- the builder and the spec ------------------------------------------------------------------------------------
def _build(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    cls = PretrainedRegressor if ctx.task is TaskKind.REGRESSION else PretrainedClassifier
    batch = int(max(8, min(int(params["batch_size"]), ctx.n_rows // 8)))
    # n_estimators is the fine-tuning epochs; 0 (a refit after fine-tuning did not help) trains the head alone
    return cls(tune_blocks=int(params["tune_blocks"]), head_epochs=int(params["head_epochs"]),
               head_lr=float(params["head_lr"]), max_epochs=int(params["n_estimators"]), batch_size=batch,
               lr=float(params["lr"]), weight_decay=float(params["weight_decay"]), dropout=float(params["dropout"]),
               patience=params.get("patience", 5), device=ctx.device, random_state=ctx.random_state,
               n_jobs=1 if 0 < ctx.n_jobs <= 2 else None, deadline=ctx.deadline)


def _space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    return {"tune_blocks": IntDistribution(0, 5), "lr": FloatDistribution(5e-5, 2e-3, log=True),
            "head_lr": FloatDistribution(3e-4, 1e-2, log=True), "dropout": FloatDistribution(0.0, 0.5),
            "weight_decay": FloatDistribution(1e-6, 1e-2, log=True)}


# --- the bundle: the top's and the head's weights + a JSON description -----------------------------------------
def _save(estimator: Any, directory: Path) -> dict[str, Any]:
    from safetensors.torch import save_file

    save_file(estimator.module_.trained_state(), str(Path(directory) / _WEIGHTS_FILE))
    return describe_estimator(estimator, isinstance(estimator, NeuralClassifier), _KEPT,
                              architecture=estimator.architecture(), n_features_in=int(estimator.n_features_in_),
                              image_size=int(estimator.image_size_), best_epoch=int(estimator.best_epoch_),
                              schedule=list(getattr(estimator, "schedule_", [])))


def _load(description: Mapping[str, Any], directory: Path) -> Any:
    from safetensors.torch import load_file

    from trainwright.models._backbone import build_pretrained

    estimator = rebuild_estimator(description, {"classifier": PretrainedClassifier, "regressor": PretrainedRegressor},
                                  _KEPT)
    estimator.n_features_in_ = int(description["n_features_in"])
    estimator.image_size_ = int(description["image_size"])
    estimator.best_epoch_ = int(description["best_epoch"])
    estimator.schedule_ = list(description.get("schedule", []))
    module = build_pretrained(description["architecture"])  # the body's weights: from the installed package
    module.load_trained_state(load_file(str(bundle_file(directory, _WEIGHTS_FILE)), device="cpu"))
    estimator.module_ = module.eval()
    estimator.history_, estimator.stopped_ = [], "loaded"
    return estimator


SERIALIZER = Serializer("pretrained_image", handles=lambda est: isinstance(est, PretrainedEstimator), save=_save,
                        load=_load)

EFFICIENTNET_LITE0 = ModelSpec(
    name="efficientnet_lite0", family="pretrained", rung=8, build=_build,
    needs=FeatureNeeds(float32=True, image_size=96), tasks=frozenset(TaskKind),
    defaults={"n_estimators": 15, "head_epochs": 40, "tune_blocks": 2, "lr": 3e-4, "head_lr": 3e-3,
              "weight_decay": 1e-4, "dropout": 0.2, "batch_size": 32, "patience": 5},
    search_space=_space, early_stopping=EARLY_STOPPING, relative_cost=40.0,
    tags=frozenset({"needs_torch", "uses_gpu", "images_only", "pretrained"}), serializer=SERIALIZER,
    description="ImageNet EfficientNet-Lite0 (weights from an installed package): linear head on frozen features, "
                "then the top blocks fine-tuned",
)

SPECS = (EFFICIENTNET_LITE0,)
