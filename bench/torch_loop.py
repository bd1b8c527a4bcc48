"""Training throughput (samples/second) of trainwright's torch path against a bare hand-written PyTorch loop, and
against skorch when it is installed: the same MLP, data, batch size, optimiser (AdamW), schedule (one-cycle) and
gradient clipping. Each path runs ``--repeats`` times, interleaved, and its best run counts (the machine is shared).

    .venv/bin/python bench/torch_loop.py                     # CPU
    .venv/bin/python bench/torch_loop.py --device cuda       # on a GPU machine (our path then uses bf16 autocast)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from trainwright.models._torch_nets import MLP
from trainwright.models.neural import NeuralClassifier

HIDDEN = (256, 128)


def data(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, :k] @ rng.normal(size=(k, k))).argmax(axis=1).astype(np.int64)
    return X, y


def bare(X: np.ndarray, y: np.ndarray, epochs: int, batch: int, device: str) -> None:
    """The loop one writes by hand: shuffle, forward, loss, backward, clip, step, schedule."""
    torch.manual_seed(0)
    dev = torch.device(device)
    model = MLP(X.shape[1], int(y.max()) + 1, HIDDEN, 0.1, True).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * -(-len(X) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch):
            idx = perm[i:i + batch]
            xb, yb = Xt[idx].to(dev), yt[idx].to(dev)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()


def ours(X: np.ndarray, y: np.ndarray, epochs: int, batch: int, device: str) -> None:
    NeuralClassifier(hidden=HIDDEN, max_epochs=epochs, batch_size=batch, lr=3e-3, device=device, patience=None,
                     deterministic=False, n_jobs=torch.get_num_threads()).fit(X, y)


def skorch_path(X: np.ndarray, y: np.ndarray, epochs: int, batch: int, device: str) -> None:
    from skorch import NeuralNetClassifier
    from skorch.callbacks import GradientNormClipping, LRScheduler

    torch.manual_seed(0)
    steps = epochs * -(-len(X) // batch)
    net = NeuralNetClassifier(
        MLP, module__n_in=X.shape[1], module__n_out=int(y.max()) + 1, module__hidden=HIDDEN, criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW, lr=3e-3, optimizer__weight_decay=1e-4, batch_size=batch, max_epochs=epochs,
        train_split=None, iterator_train__shuffle=True, device=device, verbose=0,
        callbacks=[GradientNormClipping(1.0), LRScheduler(torch.optim.lr_scheduler.OneCycleLR, max_lr=3e-3,
                                                          total_steps=steps, pct_start=0.1, step_every="batch")])
    net.fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steady on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = data(args.rows, args.features, 10)
    paths: dict[str, Callable[..., None]] = {"bare loop": bare, "trainwright": ours}
    try:
        import skorch  # noqa: F401

        paths["skorch"] = skorch_path
    except ImportError:
        print("skorch not installed: measuring the bare loop and trainwright only")
    best: dict[str, float] = dict.fromkeys(paths, 0.0)
    for path in paths.values():  # warm-up: first calls pay for allocations and kernel selection
        path(X[:2048], y[:2048], 1, args.batch, args.device)
    for _ in range(args.repeats):
        for name, path in paths.items():
            start = time.perf_counter()
            path(X, y, args.epochs, args.batch, args.device)
            rate = args.rows * args.epochs / (time.perf_counter() - start)
            best[name] = max(best[name], rate)
    print(f"device={args.device} rows={args.rows} features={args.features} batch={args.batch} "
          f"epochs={args.epochs} threads={torch.get_num_threads()} MLP{HIDDEN}")
    for name, rate in best.items():
        print(f"{name:12s} {rate:10,.0f} samples/s   {rate / best['bare loop']:.3f} of the bare loop")


if __name__ == "__main__":
    main()
