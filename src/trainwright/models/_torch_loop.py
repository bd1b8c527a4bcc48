"""The one way every torch model of the workbench trains: a small loop function, no framework around it.

``train_module`` runs epochs of mini-batches over tensors already in memory (indexing a shuffled permutation, no
DataLoader: on CPU that is what keeps it at the bare loop's speed, see bench/torch_loop.py), with AdamW or SGD with
momentum, a one-cycle or a cosine schedule with linear warm-up, gradient clipping, bf16/fp16 autocast on CUDA
only, early stopping on a validation score with the best weights restored, a checkpoint each epoch that a later
call resumes from, seeds and a deterministic mode, and a deadline (``time.monotonic`` seconds) after which it stops
at the end of the current epoch. Imports torch: import this module only inside code that trains.

Each epoch's record (epoch, train_loss, val_score, lr, seconds) goes to ``EpochObserver``s: those of
``LoopSettings.observers`` (one fit's own) and those added to this process with ``add_observer`` (the CLI's
per-epoch progress bar, the run's TensorBoard and report curves). The process-wide ones exist because the
estimators build the settings themselves: the layers above cannot reach into a fit, but may watch every fit of
their own process. A fit in a worker process (``--workers N``, Ray) is not watched from the parent.

It lives in ``models/`` (not ``training/``) because the estimators that call it are built by the model families,
and imports only go down the layers.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

__all__ = ["CHECKPOINT_FILE", "EpochObserver", "LoopResult", "LoopSettings", "add_observer", "autocast_dtype",
           "make_loss", "pick_device", "seeded", "train_module"]

CHECKPOINT_FILE = "checkpoint.pt"


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU. A forced ``cuda`` without a GPU is refused with a clear message."""
    if device in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but no CUDA device is available; use --device cpu")
    return chosen


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype: bf16 where the GPU supports it, else fp16; None (full fp32) on CPU or when asked."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def make_loss(name: str, *, class_weight: torch.Tensor | None = None, label_smoothing: float = 0.0,
              huber_delta: float = 1.0) -> nn.Module:
    """mse, mae, huber (regression) or cross_entropy (classification, optional weights and label smoothing)."""
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(weight=class_weight, label_smoothing=label_smoothing)
    losses: dict[str, Callable[[], nn.Module]] = {"mse": nn.MSELoss, "mae": nn.L1Loss,
                                                   "huber": lambda: nn.HuberLoss(delta=huber_delta)}
    if name not in losses:
        raise ValueError(f"unknown loss {name!r}; valid: cross_entropy, {', '.join(losses)}")
    return losses[name]()


@contextlib.contextmanager
def seeded(seed: int, *, deterministic: bool, n_threads: int | None) -> Iterator[None]:
    """Seed torch (CPU and CUDA), set the thread count and, when asked and a GPU is present, switch CUDA's
    deterministic algorithms on (cuDNN autotuning off); restore all after. The CPU kernels used here are
    deterministic already, and switching the flag imports torch's compiler stack (~3 s), so CPU-only runs skip it."""
    threads, was_deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    switch = deterministic and not was_deterministic and torch.cuda.is_available()
    torch.manual_seed(seed)
    if n_threads is not None and n_threads > 0:
        torch.set_num_threads(n_threads)
    if switch:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if switch:
            torch.use_deterministic_algorithms(was_deterministic)


@dataclass(frozen=True)
class LoopSettings:
    """How to train. ``max_epochs`` is the ceiling; ``patience`` None trains every epoch (no early stopping)."""

    max_epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"  # adamw | sgd (momentum 0.9, Nesterov)
    momentum: float = 0.9
    schedule: str = "onecycle"  # onecycle | cosine (linear warm-up, then cosine decay) | constant
    warmup: float = 0.1  # share of the steps spent warming up
    clip_norm: float | None = 1.0
    patience: int | None = 10
    device: str = "auto"
    precision: str = "auto"  # auto (bf16 or fp16 on CUDA) | fp16 | fp32
    deadline: float = math.inf
    checkpoint_dir: str | None = None
    resume: bool = False
    seed: int = 0
    drop_last: bool = False
    observers: tuple[EpochObserver, ...] = ()  # this fit's own, told before the process-wide ones


@dataclass
class LoopResult:
    """What training left: the epoch whose weights were kept (1-based), per-epoch curves and why it stopped."""

    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = "max_epochs"  # max_epochs | early_stopping | deadline


class EpochObserver(Protocol):
    """Watches fits as they train: ``fit_started`` with the fit's shape (max_epochs, first_epoch (above 1 when
    resumed), n_rows, batch_size, device), ``epoch_ended`` with each epoch's record, ``fit_ended`` with the result."""

    def fit_started(self, info: dict[str, Any]) -> None: ...

    def epoch_ended(self, record: dict[str, float]) -> None: ...

    def fit_ended(self, result: LoopResult) -> None: ...


_OBSERVERS: list[EpochObserver] = []


def add_observer(observer: EpochObserver) -> Callable[[], None]:
    """Watch every fit of this process from now on; returns the function that stops it (call it once)."""
    _OBSERVERS.append(observer)
    return lambda: _OBSERVERS.remove(observer)


def _observers(s: LoopSettings) -> tuple[EpochObserver, ...]:
    return (*s.observers, *_OBSERVERS)


def _optimizer(module: nn.Module, s: LoopSettings) -> torch.optim.Optimizer:
    if s.optimizer == "sgd":
        return torch.optim.SGD(module.parameters(), lr=s.lr, momentum=s.momentum, nesterov=s.momentum > 0,
                               weight_decay=s.weight_decay)
    if s.optimizer != "adamw":
        raise ValueError(f"unknown optimizer {s.optimizer!r}; valid: adamw, sgd")
    return torch.optim.AdamW(module.parameters(), lr=s.lr, weight_decay=s.weight_decay)


def _scheduler(optimizer: torch.optim.Optimizer, s: LoopSettings, total_steps: int) -> Any:
    warmup = max(1, round(s.warmup * total_steps))
    if s.schedule == "onecycle" and total_steps >= 4:
        # at least two warm-up steps and at most half the steps: both phases of the cycle must have a length
        pct = min(max(s.warmup, 2.0 / total_steps), 0.5)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=total_steps, pct_start=pct)
    if s.schedule == "onecycle":  # a cycle of fewer than four steps has no shape: train at the peak rate
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if s.schedule == "cosine":
        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if s.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown schedule {s.schedule!r}; valid: onecycle, cosine, constant")


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@dataclass
class _State:
    """The loop's mutable state: what a checkpoint holds."""

    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = field(default_factory=list)


def _save_checkpoint(path: Path, module: nn.Module, optimizer: Any, scheduler: Any, state: _State,
                     generator: torch.Generator) -> None:
    blob = {"module": module.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": state.epoch, "best_score": state.best_score, "best_epoch": state.best_epoch,
            "best_weights": state.best_weights or {}, "history": state.history,
            "torch_rng": torch.get_rng_state(), "shuffle_rng": generator.get_state()}
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # atomic: a crash mid-write leaves the previous epoch's checkpoint


def _load_checkpoint(path: Path, module: nn.Module, optimizer: Any, scheduler: Any,
                     generator: torch.Generator) -> _State:
    blob = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain values only: no code runs
    module.load_state_dict(blob["module"])
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["torch_rng"])
    generator.set_state(blob["shuffle_rng"])
    return _State(int(blob["epoch"]), float(blob["best_score"]), int(blob["best_epoch"]),
                  dict(blob["best_weights"]) or None, list(blob["history"]))


def _epoch(module: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, optimizer: Any, scheduler: Any,
           s: LoopSettings, generator: torch.Generator, device: torch.device, amp: torch.dtype | None, scaler: Any,
           augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None) -> float:
    module.train()
    n = len(X)
    order = torch.randperm(n, generator=generator)
    stop = n - n % s.batch_size if s.drop_last and n >= s.batch_size else n
    total, seen = torch.zeros((), device=device), 0  # summed on the device: no host sync per step
    for start in range(0, stop, s.batch_size):
        idx = order[start:start + s.batch_size]
        if len(idx) < 2 < n:  # a lone last row: batch norm cannot train on one value per channel
            continue
        xb, yb = X[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)
        if augment is not None:
            xb = augment(xb, generator)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = loss_fn(module(xb), yb)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if s.clip_norm:
            nn.utils.clip_grad_norm_(module.parameters(), s.clip_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        total += loss.detach().float() * len(idx)
        seen += len(idx)
    return float(total) / max(seen, 1)


def _validated(module: nn.Module, validate: Callable[[nn.Module], float], state: _State) -> float:
    """The epoch's validation score (eval mode, no gradients); the best one so far keeps a copy of its weights."""
    module.eval()
    with torch.no_grad():
        score = float(validate(module))
    if score > state.best_score or state.best_weights is None:
        state.best_score, state.best_epoch, state.best_weights = score, state.epoch, _copy_state(module)
    return score


def train_module(module: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, settings: LoopSettings, *,
                 validate: Callable[[nn.Module], float] | None = None,
                 augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                 on_epoch: Callable[[dict[str, float]], None] | None = None) -> LoopResult:
    """Train ``module`` in place on (X, y); ``validate(module)`` returns a score where higher is better (called in
    eval mode after each epoch). With ``validate`` and a patience, the best epoch's weights are restored at the
    end. ``on_epoch`` receives each epoch's record (epoch, train_loss, val_score, lr, seconds)."""
    s = settings
    device = pick_device(s.device)
    module.to(device)
    loss_fn.to(device)
    amp = autocast_dtype(device, s.precision)
    scaler = torch.amp.GradScaler("cuda") if amp is torch.float16 else None
    steps_per_epoch = max(1, math.ceil(len(X) / s.batch_size))
    optimizer = _optimizer(module, s)
    scheduler = _scheduler(optimizer, s, steps_per_epoch * max(1, s.max_epochs))
    generator = torch.Generator().manual_seed(s.seed)
    checkpoint = Path(s.checkpoint_dir) / CHECKPOINT_FILE if s.checkpoint_dir else None
    state = _State()
    if checkpoint is not None and s.resume and checkpoint.is_file():
        state = _load_checkpoint(checkpoint, module, optimizer, scheduler, generator)
    observers = _observers(s)
    for observer in observers:
        observer.fit_started({"max_epochs": s.max_epochs, "first_epoch": state.epoch + 1, "n_rows": len(X),
                              "batch_size": s.batch_size, "device": str(device)})
    stopped = "max_epochs"
    while state.epoch < s.max_epochs:
        start = time.perf_counter()
        train_loss = _epoch(module, loss_fn, X, y, optimizer, scheduler, s, generator, device, amp, scaler, augment)
        state.epoch += 1
        record = {"epoch": float(state.epoch), "train_loss": train_loss, "lr": float(optimizer.param_groups[0]["lr"])}
        if validate is not None:
            record["val_score"] = _validated(module, validate, state)
        else:
            state.best_epoch = state.epoch
        record["seconds"] = time.perf_counter() - start
        state.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        for observer in observers:
            observer.epoch_ended(record)
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            _save_checkpoint(checkpoint, module, optimizer, scheduler, state, generator)
        if validate is not None and s.patience is not None and state.epoch - state.best_epoch >= s.patience:
            stopped = "early_stopping"
            break
        if time.monotonic() >= s.deadline:
            stopped = "deadline"
            break
    if validate is not None and state.best_weights is not None:
        module.load_state_dict(state.best_weights)
    module.eval()
    result = LoopResult(state.best_epoch, state.epoch, state.history, stopped)
    for observer in observers:
        observer.fit_ended(result)
    return result
