"""The Ray backend: fits as Ray tasks on a cluster, the data in Ray's object store once per run.

Without an address a local Ray starts in Ray's single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read
when Ray is imported: every listener on 127.0.0.1, no dashboard; seen here: without it, ``ray.init`` binds the
machine's outward address and 0.0.0.0 even with ``_node_ip_address="127.0.0.1"``). With an address, the driver joins
that cluster with the cluster's own settings, its token authentication included. Tracking stays in the driver: tasks
return their results and the driver logs them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trainwright.exceptions import ConfigError, Problem
from trainwright.training.executor import available_cores

__all__ = ["RayExecutor"]

T = TypeVar("T")
R = TypeVar("R")


_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _import_ray(local: bool) -> Any:
    if local and "ray" not in sys.modules:
        os.environ.setdefault(_SINGLE_MACHINE, "0")  # a Ray of our own: one machine, loopback only
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray backend needs Ray", [Problem(
            "config.backend", "ray is not installed", fix="pip install 'trainwright[ray]', or use --backend local")]) from None
    return ray


class RayExecutor:
    """``map`` runs each item as a Ray task needing one CPU; ``share`` puts a value in the object store once."""

    name = "ray"

    def __init__(self, address: str | None = None, *, n_workers: int | None = None) -> None:
        ray = _import_ray(local=not address)
        self._owns = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            if address:  # a loopback head: this driver is on that node too (else Ray picks the outward address)
                local = address.split(":")[0] in {"127.0.0.1", "localhost"}
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         **({"_node_ip_address": "127.0.0.1"} if local else {}))
            else:
                if os.environ.get(_SINGLE_MACHINE) != "0":
                    raise ConfigError("cannot start a loopback-only Ray in this process", [Problem(
                        "config.backend", "Ray was imported before trainwright could keep it on loopback",
                        fix=f"set {_SINGLE_MACHINE}=0 before importing ray, or pass --ray-address")])
                ray.init(address="local", num_cpus=available_cores(), include_dashboard=False,  # a new one
                         log_to_driver=False, configure_logging=False)
                self._owns = True
        self.n_workers = n_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.threads_per_task = 1
        self._shared: dict[int, tuple[Any, Any]] = {}
        self._remote: dict[Callable[..., Any], Any] = {}

    def share(self, value: Any) -> Any:
        """An object reference to ``value`` (put once; the same object shared again gets the same reference)."""
        import ray

        key = id(value)
        if key not in self._shared:
            self._shared[key] = (value, ray.put(value))  # keep the value alive so its id is not reused
        return self._shared[key][1]

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        import ray

        if fn not in self._remote:
            self._remote[fn] = ray.remote(num_cpus=1, max_retries=0)(fn)
        remote = self._remote[fn]
        refs: list[Any] = []
        running: list[Any] = []
        for item in items:  # at most n_workers tasks in flight: the parallelism asked for, not the cluster's
            if len(running) >= self.n_workers:
                _, running = ray.wait(running, num_returns=1)
            ref = remote.remote(item)
            refs.append(ref)
            running.append(ref)
        return list(ray.get(refs))

    def close(self) -> None:
        self._shared.clear()
        if self._owns:
            import ray

            ray.shutdown()
            self._owns = False
