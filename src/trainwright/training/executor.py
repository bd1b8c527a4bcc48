"""Executors: fits are submitted, not called. Sequential in this process, or a pool of worker processes.

This is the one place that decides how the machine's cores are shared: threads inside each fit (boosting
libraries and scikit-learn's ``n_jobs``) against fits running side by side. Sequential gives every fit all cores,
the fastest way for the few large fits of a ladder; a pool of N processes gives each fit cores // N threads, the
faster way for many small fits (folds, seeds, search trials). The Ray backend (``ray_executor.py``) implements the
same methods on a cluster. Large inputs go through ``share`` once and travel as a handle that ``resolve`` turns back
into the value inside a task (on Ray: one copy in the object store instead of one per task).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Executor", "ProcessExecutor", "SequentialExecutor", "available_cores", "make_executor", "resolve"]

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's count, where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@runtime_checkable
class Executor(Protocol):
    """Runs one function over many items; results come back in the items' order."""

    name: str
    n_workers: int
    threads_per_task: int  # the n_jobs each fit gets; -1: all cores

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def share(self, value: Any) -> Any: ...

    def close(self) -> None: ...


def resolve(handle: Any) -> Any:
    """The value behind a ``share`` handle, inside a task (a Ray object reference is fetched; anything else is
    the value itself)."""
    if type(handle).__name__ == "ObjectRef" and type(handle).__module__.startswith("ray"):
        import ray

        return ray.get(handle)
    return handle


class SequentialExecutor:
    """In this process, one item after another, each with every core."""

    name = "sequential"
    n_workers = 1

    def __init__(self, threads_per_task: int = -1) -> None:
        self.threads_per_task = threads_per_task

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    def share(self, value: Any) -> Any:
        return value

    def close(self) -> None:
        return None


class ProcessExecutor:
    """A pool of worker processes (loky: started fresh, not forked, so OpenMP in the parent cannot deadlock a
    child; functions and specs travel with cloudpickle). Each worker fits with cores // workers threads."""

    name = "processes"

    def __init__(self, n_workers: int, *, cores: int | None = None) -> None:
        cores = cores or available_cores()
        self.n_workers = max(1, n_workers)
        self.threads_per_task = max(1, cores // self.n_workers)
        self._pool: Any = None

    def _executor(self) -> Any:
        if self._pool is None:
            from joblib.externals.loky import get_reusable_executor

            self._pool = get_reusable_executor(max_workers=self.n_workers, timeout=60)
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1:  # one item: no pool start-up, no copy of the data
            return [fn(item) for item in items]
        pool = self._executor()
        return [future.result() for future in [pool.submit(fn, item) for item in items]]

    def share(self, value: Any) -> Any:
        return value  # each task's arguments are pickled to its worker process

    def close(self) -> None:
        self._pool = None  # loky's reusable executor shuts its workers down after ``timeout`` idle seconds


def make_executor(workers: int | None = None, *, cores: int | None = None, backend: str = "local",
                  address: str | None = None) -> Executor:
    """The executor for ``workers`` parallel fits: None or 1 -> sequential with every core per fit; N > 1 -> N
    processes sharing the cores; 0 or less -> one process per core. ``backend="ray"``: tasks on a Ray cluster
    (``address``, or a local Ray on loopback), ``workers`` of them at a time (default: the cluster's CPUs)."""
    if backend == "ray":
        from trainwright.training.ray_executor import RayExecutor

        return RayExecutor(address, n_workers=workers if workers and workers > 0 else None)
    cores = cores or available_cores()
    if workers is not None and workers <= 0:
        workers = cores
    if workers is None or workers == 1:
        return SequentialExecutor()
    return ProcessExecutor(min(workers, cores), cores=cores)
