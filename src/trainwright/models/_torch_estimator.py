"""Torch networks as scikit-learn estimators: hyperparameters only in ``__init__``, ``fit`` returns self, learned
state ends in ``_``, randomness only through ``random_state``. One classifier and one regressor; ``network`` says
which architecture (``mlp`` for tables, ``cnn`` for image pixels) and the loop in ``_torch_loop`` trains both.
Torch is imported inside the methods, so importing this module (the registry does) stays cheap.

Transfer hooks (``trainwright finetune``): ``warm_start=True`` makes ``fit`` continue from the fitted network's
weights (same inputs, labels it knows); ``fit_new_head`` keeps the body under a new output layer for other classes,
trained with the body frozen, then unfrozen at a lower rate. A subclass with a network and a schedule of its own
(``pretrained.py``) overrides ``_build_module``, ``architecture``, ``_augmenter``, ``_train`` and
``_train_new_head``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

__all__ = ["NeuralClassifier", "NeuralEstimator", "NeuralRegressor"]

_PREDICT_ROWS = 4096


def _image_size(n_features: int) -> int:
    """The side of the square images whose pixels make a row of ``n_features``: grey (1 channel) or colour (3)."""
    for channels in (1, 3):
        side = math.isqrt(n_features // channels)
        if side * side * channels == n_features and n_features % channels == 0:
            return side
    raise ValueError(f"a row of {n_features} values is not a square grey or colour image")


def _phase(name: str, settings: Any, result: Any) -> dict[str, Any]:
    """One step of a transfer schedule as the report shows it."""
    return {"phase": name, "lr": float(settings.lr), "max_epochs": int(settings.max_epochs),
            "epochs_run": int(result.epochs_run), "best_epoch": int(result.best_epoch), "stopped": result.stopped}


def _dense32(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


class NeuralEstimator(BaseEstimator):
    """Shared by the classifier and the regressor (see the module docstring)."""

    predict_rows = _PREDICT_ROWS  # rows per forward pass when predicting or validating

    def __init__(self, network: str = "mlp", hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1,
                 batch_norm: bool = True, width: int = 32, stages: int = 3, augment: str = "none",
                 max_epochs: int = 100, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-4,
                 optimizer: str = "adamw", schedule: str = "onecycle", warmup: float = 0.1,
                 clip_norm: float | None = 1.0, patience: int | None = 10, loss: str | None = None,
                 label_smoothing: float = 0.0, class_weight: str | None = None, device: str = "auto",
                 precision: str = "auto", deterministic: bool = True, random_state: int = 0, n_jobs: int | None = None,
                 deadline: float = math.inf, checkpoint_dir: str | None = None, resume: bool = False,
                 warm_start: bool = False) -> None:
        self.network = network
        self.hidden = hidden
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.width = width
        self.stages = stages
        self.augment = augment
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.schedule = schedule
        self.warmup = warmup
        self.clip_norm = clip_norm
        self.patience = patience
        self.loss = loss
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.device = device
        self.precision = precision
        self.deterministic = deterministic
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.deadline = deadline
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.warm_start = warm_start

    # --- what the subclasses define -------------------------------------------------------------
    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        raise NotImplementedError

    def _loss(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def _n_out(self) -> int:
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """The network's description (JSON-able): what ``_torch_nets.build_network`` builds it back from."""
        if self.network == "cnn":
            channels = self.n_features_in_ // self.image_size_ ** 2
            return {"kind": "cnn", "channels": channels, "size": self.image_size_, "n_out": self._n_out(),
                    "width": int(self.width), "stages": int(self.stages), "dropout": float(self.dropout)}
        if self.network != "mlp":
            raise ValueError(f"unknown network {self.network!r}; valid: mlp, cnn")
        return {"kind": "mlp", "n_in": self.n_features_in_, "n_out": self._n_out(),
                "hidden": [int(h) for h in self.hidden], "dropout": float(self.dropout),
                "batch_norm": bool(self.batch_norm)}

    def _settings(self, has_validation: bool) -> Any:
        from trainwright.models._torch_loop import LoopSettings

        return LoopSettings(
            max_epochs=max(1, int(self.max_epochs)), batch_size=int(self.batch_size), lr=float(self.lr),
            weight_decay=float(self.weight_decay), optimizer=self.optimizer, schedule=self.schedule,
            warmup=float(self.warmup), clip_norm=self.clip_norm, patience=self.patience if has_validation else None,
            device=self.device, precision=self.precision,
            # the deadline cuts fits that early-stop (the epoch count they keep is what refits and CV folds then
            # train for); a fixed-count fit — the chosen model's refit — runs to the end instead of ending half-made
            deadline=float(self.deadline) if has_validation else math.inf,
            checkpoint_dir=self.checkpoint_dir, resume=self.resume, seed=int(self.random_state))

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> NeuralEstimator:
        """Train on (X, y); with ``eval_set=(X_val, y_val)`` stop early on its loss and keep the best epoch. With
        ``warm_start`` and a fitted network, training continues from its weights (same inputs, known labels)."""
        import torch

        from trainwright.models._torch_loop import seeded

        Xa = _dense32(X)
        warm = bool(getattr(self, "warm_start", False)) and hasattr(self, "module_")
        known = getattr(self, "n_features_in_", None)
        if warm and Xa.shape[1] != known:
            raise ValueError(f"warm start: the network reads {known} values a row, got {Xa.shape[1]}")
        self.n_features_in_ = Xa.shape[1]
        self._note_input(Xa.shape[1])
        if warm and hasattr(self, "classes_"):
            unknown = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
            if len(unknown):
                raise ValueError(f"warm start: labels {unknown[:5].tolist()} are not among the network's classes; "
                                 "train a new head (fit_new_head) instead")
        target = self._targets(y, fitting=not warm)
        with seeded(int(self.random_state), deterministic=self.deterministic, n_threads=self.n_jobs):
            module = self.module_ if warm else self._build_module()
            result = self._train(module, self._loss(target), torch.from_numpy(Xa), torch.from_numpy(target),
                                 self._validation(eval_set))
        self._finish(module, result)
        return self

    def _note_input(self, n_features: int) -> None:
        """Read what the network needs from the row width: a square image's side for every network but the MLP. A
        network whose rows are no square image (a spectrogram) overrides this."""
        if self.network != "mlp":
            self.image_size_ = _image_size(n_features)

    def _validation(self, eval_set: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
        import torch

        if eval_set is None:
            return None
        return torch.from_numpy(_dense32(eval_set[0])), torch.from_numpy(self._targets(eval_set[1], fitting=False))

    def _finish(self, module: Any, result: Any) -> None:
        self.module_ = module.to("cpu").eval()
        self.best_epoch_ = int(result.best_epoch)
        self.history_ = result.history
        self.stopped_ = result.stopped

    def _train(self, module: Any, loss_fn: Any, X: Any, y: Any, validation: tuple[Any, Any] | None) -> Any:
        """Train ``module`` in place; returns the loop's ``LoopResult``. A subclass with a schedule of its own (the
        pretrained backbone: head first, then the top blocks) overrides this."""
        from trainwright.models._torch_loop import train_module

        validate = self._validator(*validation) if validation is not None else None
        return train_module(module, loss_fn, X, y, self._settings(validation is not None), validate=validate,
                            augment=self._augmenter())

    def fit_new_head(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, *, head_epochs: int = 20,
                     lr_scale: float = 0.1) -> list[dict[str, Any]]:
        """Carry the fitted network on to a new set of classes: the body is kept, a new output layer is trained
        with the body frozen (``head_epochs`` at ``lr``), then everything at ``lr * lr_scale`` (``max_epochs``).
        Returns the schedule that ran (also kept in ``schedule_``)."""
        import torch

        from trainwright.models._backbone import replace_output_layer
        from trainwright.models._torch_loop import seeded

        if not hasattr(self, "module_"):
            raise ValueError("fit_new_head needs a fitted network")
        Xa = _dense32(X)
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"the network reads {self.n_features_in_} values a row, got {Xa.shape[1]}")
        target = self._targets(y, fitting=True)
        with seeded(int(self.random_state), deterministic=self.deterministic, n_threads=self.n_jobs):
            module = self.module_
            head = replace_output_layer(module, self._n_out())
            result, schedule = self._train_new_head(module, head, self._loss(target), torch.from_numpy(Xa),
                                                    torch.from_numpy(target), self._validation(eval_set),
                                                    head_epochs=head_epochs, lr_scale=lr_scale)
        self._finish(module, result)
        self.schedule_ = schedule
        return schedule

    def _train_new_head(self, module: Any, head: str, loss_fn: Any, X: Any, y: Any,
                        validation: tuple[Any, Any] | None, *, head_epochs: int,
                        lr_scale: float) -> tuple[Any, list[dict[str, Any]]]:
        from dataclasses import replace

        from trainwright.models._backbone import frozen_body, unfreeze
        from trainwright.models._torch_loop import train_module

        validate = self._validator(*validation) if validation is not None else None
        settings = self._settings(validation is not None)
        first = replace(settings, max_epochs=max(1, int(head_epochs)))
        head_only = train_module(frozen_body(module, head), loss_fn, X, y, first, validate=validate,
                                 augment=self._augmenter())
        unfreeze(module)
        second = replace(settings, lr=settings.lr * lr_scale)
        result = train_module(module, loss_fn, X, y, second, validate=validate, augment=self._augmenter())
        return result, [_phase("new head, body frozen", first, head_only), _phase("all layers", second, result)]

    def _build_module(self) -> Any:
        """A fresh network for ``architecture()``; a subclass with its own networks overrides this (and
        ``architecture``), so a new architecture needs no edit here."""
        from trainwright.models._torch_nets import build_network

        return build_network(self.architecture())

    def _augmenter(self) -> Any:
        """The batch augmentation ``(x, generator) -> x`` during training, or None."""
        from trainwright.models._torch_nets import augmenter

        return augmenter(self.augment, self.architecture()) if self.network == "cnn" else None

    def _validator(self, Xv: Any, yv: Any) -> Any:
        import torch

        rows = self.predict_rows

        def validate(module: Any) -> float:
            device = next(module.parameters()).device
            total = 0.0
            for start in range(0, len(Xv), rows):
                out = module(Xv[start:start + rows].to(device)).float()
                target = yv[start:start + rows].to(device)
                if target.dtype == torch.int64:
                    total += float(torch.nn.functional.cross_entropy(out, target, reduction="sum"))
                else:
                    total += float(torch.nn.functional.mse_loss(out, target, reduction="sum"))
            return -total / max(len(Xv), 1)

        return validate

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's raw outputs (logits or standardised values) in float64, on the CPU, in row chunks."""
        import torch

        Xa = _dense32(X)
        module = self.module_.eval()
        parts = []
        with torch.inference_mode():
            for start in range(0, len(Xa), self.predict_rows):
                parts.append(module(torch.from_numpy(Xa[start:start + self.predict_rows])).double().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self._n_out()))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")


class NeuralClassifier(ClassifierMixin, NeuralEstimator):
    """Cross-entropy (optional ``class_weight="balanced"`` and label smoothing); softmax probabilities."""

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = np.asarray(y)
        if fitting:
            self.classes_ = np.unique(y)
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        return codes.astype(np.int64)

    def _n_out(self) -> int:
        return len(self.classes_)

    def _loss(self, y: np.ndarray) -> Any:
        import torch

        from trainwright.models._torch_loop import make_loss

        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(y, minlength=len(self.classes_)).astype(np.float64)
            weight = torch.tensor(len(y) / (len(self.classes_) * np.maximum(counts, 1)), dtype=torch.float32)
        return make_loss(self.loss or "cross_entropy", class_weight=weight, label_smoothing=float(self.label_smoothing))

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._outputs(X)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class NeuralRegressor(RegressorMixin, NeuralEstimator):
    """MSE, MAE or Huber on the standardised target (``loss``, default ``mse``); predictions in the target's units."""

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if fitting:
            self.y_mean_ = float(y.mean()) if len(y) else 0.0
            self.y_scale_ = float(y.std()) or 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32).reshape(-1, 1)

    def _n_out(self) -> int:
        return 1

    def _loss(self, y: np.ndarray) -> Any:
        from trainwright.models._torch_loop import make_loss

        return make_loss(self.loss or "mse")

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X)[:, 0] * self.y_scale_ + self.y_mean_


def dense_layers(module: Any) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """An MLP in eval mode as (weight (in, out), bias, ReLU after) per linear layer, each batch norm folded into the
    linear layer before it and dropout dropped (the identity at inference): what the ONNX converter writes."""
    import torch

    layers: list[tuple[np.ndarray, np.ndarray, bool]] = []
    for part in module.layers:
        if isinstance(part, torch.nn.Linear):
            layers.append((part.weight.detach().double().numpy().T.copy(), part.bias.detach().double().numpy().copy(),
                           False))
        elif isinstance(part, torch.nn.BatchNorm1d):
            weight, bias, _ = layers[-1]
            mean, var = part.running_mean, part.running_var
            if mean is None or var is None:
                raise ValueError("a batch norm layer without running statistics cannot be folded")
            scale = (part.weight.detach().double() / torch.sqrt(var.double() + part.eps)).numpy()
            shift = part.bias.detach().double().numpy() - mean.double().numpy() * scale
            layers[-1] = (weight * scale[None, :], bias * scale + shift, False)
        elif isinstance(part, torch.nn.ReLU):
            layers[-1] = (layers[-1][0], layers[-1][1], True)
    return layers
