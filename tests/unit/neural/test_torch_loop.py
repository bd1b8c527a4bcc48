"""The one torch training loop: losses, optimisers, schedules, early stopping with the best weights restored,
checkpoint and resume, seeds, the deadline and the device choice. Tiny networks, a few epochs each."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from trainwright.models._torch_loop import (
    CHECKPOINT_FILE,
    LoopSettings,
    autocast_dtype,
    make_loss,
    pick_device,
    seeded,
    train_module,
)
from trainwright.models._torch_nets import MLP


def _data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=g)
    return X, (X[:, 0] + X[:, 1] > 0).long()


def _fit(settings: LoopSettings, validate: bool = False, seed: int = 0) -> tuple[MLP, object]:
    X, y = _data()
    with seeded(seed, deterministic=True, n_threads=1):
        net = MLP(5, 2, (16,), 0.1, True)
        val = None
        if validate:
            Xv, yv = _data(100, seed=1)
            val = lambda m: -float(nn.functional.cross_entropy(m(Xv), yv))  # noqa: E731
        result = train_module(net, make_loss("cross_entropy"), X, y, settings, validate=val)
    return net, result


def _weights(net: nn.Module) -> list[np.ndarray]:
    return [v.detach().numpy().copy() for v in net.state_dict().values()]


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
def test_regression_losses_train(name: str) -> None:
    X, _ = _data()
    y = (X[:, :1] * 2.0)
    net = MLP(5, 1, (16,), 0.0, False)
    with torch.no_grad():
        before = float(nn.functional.mse_loss(net(X), y))
    train_module(net, make_loss(name), X, y, LoopSettings(max_epochs=20, batch_size=32, lr=1e-2, patience=None))
    with torch.no_grad():
        assert float(nn.functional.mse_loss(net(X), y)) < before / 2


def test_cross_entropy_takes_class_weights_and_label_smoothing() -> None:
    loss = make_loss("cross_entropy", class_weight=torch.tensor([1.0, 3.0]), label_smoothing=0.1)
    assert isinstance(loss, nn.CrossEntropyLoss) and loss.label_smoothing == 0.1
    assert loss.weight is not None and loss.weight.tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


@pytest.mark.parametrize(("optimizer", "schedule"), [("adamw", "onecycle"), ("sgd", "cosine"), ("adamw", "constant")])
def test_optimisers_and_schedules_learn(optimizer: str, schedule: str) -> None:
    net, result = _fit(LoopSettings(max_epochs=15, batch_size=32, lr=1e-2, optimizer=optimizer, schedule=schedule,
                                    patience=None))
    X, y = _data()
    accuracy = float((net(X).argmax(1) == y).float().mean())
    assert accuracy > 0.85 and result.epochs_run == 15 and result.stopped == "max_epochs"
    assert [r["epoch"] for r in result.history] == list(range(1, 16))


def test_cosine_warms_up_then_decays() -> None:
    _, result = _fit(LoopSettings(max_epochs=10, batch_size=50, lr=0.1, schedule="cosine", warmup=0.2, patience=None))
    lrs = [r["lr"] for r in result.history]
    assert lrs[0] < lrs[1] and lrs[-1] < lrs[2] and max(lrs) <= 0.1 + 1e-9


def test_early_stopping_restores_the_best_epoch() -> None:
    net, result = _fit(LoopSettings(max_epochs=200, batch_size=32, lr=5e-2, patience=3), validate=True)
    scores = [r["val_score"] for r in result.history]
    assert result.stopped == "early_stopping" and result.epochs_run < 200
    assert result.best_epoch == int(np.argmax(scores)) + 1 and result.epochs_run - result.best_epoch == 3
    Xv, yv = _data(100, seed=1)
    with torch.no_grad():
        assert -float(nn.functional.cross_entropy(net(Xv), yv)) == pytest.approx(max(scores), abs=1e-6)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    settings = LoopSettings(max_epochs=3, batch_size=32)
    a, b, c = (_fit(settings, seed=s)[0] for s in (0, 0, 1))
    for x, y in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, z) for x, z in zip(_weights(a), _weights(c), strict=True))


def test_a_checkpoint_each_epoch_and_resume_continues_exactly(tmp_path: Path) -> None:
    full, _ = _fit(LoopSettings(max_epochs=4, batch_size=32))
    _, first = _fit(LoopSettings(max_epochs=4, batch_size=32, checkpoint_dir=str(tmp_path), deadline=0.0))
    assert first.stopped == "deadline" and first.epochs_run == 1 and (tmp_path / CHECKPOINT_FILE).is_file()
    resumed, second = _fit(LoopSettings(max_epochs=4, batch_size=32, checkpoint_dir=str(tmp_path), resume=True))
    assert second.epochs_run == 4 and [r["epoch"] for r in second.history] == [1, 2, 3, 4]
    for x, y in zip(_weights(full), _weights(resumed), strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_deadline_stops_after_the_current_epoch() -> None:
    start = time.monotonic()
    _, result = _fit(LoopSettings(max_epochs=10_000, batch_size=32, deadline=time.monotonic() + 0.3))
    assert result.stopped == "deadline" and result.epochs_run < 10_000 and time.monotonic() - start < 10


def test_device_auto_is_cpu_here_and_a_missing_gpu_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert pick_device("auto").type == "cpu" and pick_device("cpu").type == "cpu"
    assert autocast_dtype(torch.device("cpu")) is None
    with pytest.raises(ValueError, match="no CUDA device"):
        pick_device("cuda")


def test_seeded_restores_the_global_torch_settings() -> None:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with seeded(3, deterministic=True, n_threads=1):
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled() == (deterministic or torch.cuda.is_available())
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == deterministic


@pytest.mark.gpu
def test_cuda_trains_with_autocast() -> None:
    device = pick_device("auto")
    assert device.type == "cuda"
    assert autocast_dtype(device) in (torch.bfloat16, torch.float16)
    _, result = _fit(LoopSettings(max_epochs=5, batch_size=32, device="cuda"))
    assert result.epochs_run == 5 and math.isfinite(result.history[-1]["train_loss"])


@pytest.mark.parametrize(("n_rows", "epochs"), [(300, 5), (64, 1), (64, 3), (40, 2)])
def test_one_cycle_works_for_short_runs(n_rows: int, epochs: int) -> None:
    """A one-cycle schedule over very few steps (pct_start * steps <= 1 divides by zero inside torch)."""
    X, y = _data(n_rows)
    net = MLP(5, 2, (8,), 0.0, True)
    result = train_module(net, make_loss("cross_entropy"), X, y,
                          LoopSettings(max_epochs=epochs, batch_size=64, schedule="onecycle", patience=None))
    assert result.epochs_run == epochs
