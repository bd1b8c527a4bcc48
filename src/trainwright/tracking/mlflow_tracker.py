"""The MLflow tracker: one parent run per ``train``, one child run per trial, the chosen model as a pyfunc model.

The default store is embedded (``sqlite:///mlflow.db`` in the working directory, artifacts in ``mlartifacts``
beside it). The store is checked, and created under a file lock, before any training starts: a store that cannot
be written gives one ``TrackingError``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from trainwright.config import Config
from trainwright.exceptions import Problem, TrackingError
from trainwright.lineage import lineage
from trainwright.tracking.base import NullTracker, Tracker

__all__ = ["EXPERIMENT", "MLflowTracker", "Store", "default_tracker", "model_name", "resolve_uri"]

EXPERIMENT = "trainwright"
_FIX = "pass --tracking-uri to a writable store (or an MLflow server), or --no-tracking"
_QUIET_LOGGERS = ("mlflow", "alembic")
ModelKwargs = Callable[[Path], dict[str, Any]]


def resolve_uri(uri: str | None = None) -> str:
    """``uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    return chosen


def default_tracker(cfg: Config, model_kwargs: ModelKwargs | None = None) -> Tracker:
    """The tracker a run gets unless one is passed: MLflow, or nothing with ``tracking: false`` or
    ``TRAINWRIGHT_TRACKING=0``. ``model_kwargs(bundle_dir)`` gives the pyfunc arguments of the chosen model
    (``trainwright.bundle.pyfunc.pyfunc_kwargs``; passed in because tracking must not import bundle)."""
    if not cfg.tracking or os.environ.get("TRAINWRIGHT_TRACKING", "1").lower() in {"0", "false", "no", "off"}:
        return NullTracker()
    return MLflowTracker(cfg.tracking_uri, model_kwargs=model_kwargs)


def model_name(source: str) -> str:
    """The registry name for a dataset: its file stem, with only letters, digits, '-' and '_'."""
    stem = Path(source).stem if source and not source.startswith("<") else "dataframe"
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "dataset"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store."""
    if not uri.startswith("sqlite:"):
        return None
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if path in {"", "/"} or path == "/:memory:":
        return None
    return Path(path[1:])  # sqlite:///rel.db -> '/rel.db'; sqlite:////abs.db -> '//abs.db'


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO lines, progress bars and the warnings it raises about our own pyfunc wrapper, silenced."""
    import mlflow  # noqa: F401  (its import sets its loggers' levels: import first, then quieten)

    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    old_bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*[Tt]ype hint", category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow\..*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # sqlalchemy/alembic inside MLflow
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if old_bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = old_bar


@contextlib.contextmanager
def _no_type_hint_notes() -> Iterator[None]:
    """MLflow resets warning filters inside ``log_model`` (to 'once' for UserWarning), so its notes about our
    wrapper's type hints (the bundle's schema checks the input, not an MLflow signature) are recorded here and
    dropped; every other warning is passed on unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if not ("type hint" in str(w.message).lower() and "mlflow" in w.filename):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


@contextlib.contextmanager
def _no_requirement_scan() -> Iterator[None]:
    """Skip MLflow's check of the model's requirements against the current environment while logging: it maps
    every installed distribution to its modules (seconds on a large environment, most of ``log_model``), and our
    requirements are read from this very environment (``pip_requirements``), so it cannot find a mismatch."""
    try:
        import mlflow.utils.environment as environment
    except ImportError:
        yield
        return
    original = getattr(environment, "warn_dependency_requirement_mismatches", None)
    if original is None:
        yield
        return
    environment.warn_dependency_requirement_mismatches = lambda *args, **kwargs: None
    try:
        yield
    finally:
        environment.warn_dependency_requirement_mismatches = original


def _store_error(uri: str, what: str, fix: str = _FIX) -> TrackingError:
    return TrackingError(f"the experiment store {uri} cannot be used", [Problem("tracking.store", what, fix=fix)])


def _probe_directory(uri: str, directory: Path) -> None:
    """Create and remove a file in ``directory``: the only check that holds for root and read-only mounts."""
    if not directory.is_dir():
        raise _store_error(uri, f"directory {directory} does not exist (or is not a directory)",
                           fix=f"create {directory}, or " + _FIX)
    probe = directory / f".trainwright-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _store_error(uri, f"directory {directory} is not writable ({exc.strerror or exc})") from None


class Store:
    """An MLflow store, opened once: checked for writing, created under a file lock, experiment ensured."""

    def __init__(self, uri: str | None = None, experiment: str = EXPERIMENT) -> None:
        self.uri = resolve_uri(uri)
        self.experiment = experiment
        self.db = sqlite_path(self.uri)
        self.artifact_root = self.db.resolve().parent / "mlartifacts" if self.db is not None else None
        self._client: Any = None
        self.experiment_id = ""

    @property
    def client(self) -> Any:
        if self._client is None:
            self.open()
        return self._client

    def precheck(self) -> None:
        """What can be checked without MLflow, in milliseconds: for SQLite, that the directory takes new files
        and that an existing file is a readable SQLite database. Raises TrackingError."""
        if self.db is None:
            return
        _probe_directory(self.uri, self.db.resolve().parent)
        if not self.db.exists():
            return
        if not os.access(self.db, os.W_OK):
            raise _store_error(self.uri, f"database file {self.db} is not writable")
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.db.resolve()}?mode=ro", uri=True, timeout=30)) as db:
                db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.uri, f"{self.db} is not a usable SQLite database ({exc})",
                               fix="point --tracking-uri at another file, or move this one away") from None

    def open(self, *, create: bool = True) -> Store:
        """Check the store can be written and make sure the experiment exists. Raises TrackingError."""
        if self._client is not None:
            return self
        self.precheck()
        if not create and self.db is not None and not self.db.exists():
            raise _store_error(self.uri, f"there is no store at {self.db} yet",
                               fix="train with tracking on first, or pass --tracking-uri (or MLFLOW_TRACKING_URI)")
        with quiet_mlflow(), self._lock():
            try:
                self._client, self.experiment_id = self._connect(create)
            except TrackingError:
                raise
            except Exception as exc:
                first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                raise _store_error(self.uri, f"{type(exc).__name__}: {first}") from None
        return self

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Creating a fresh SQLite store from two processes at once breaks it (migration race): one at a time."""
        if self.db is None:
            yield
            return
        from filelock import FileLock

        with FileLock(str(self.db.resolve()) + ".lock", timeout=120):
            yield

    def _connect(self, create: bool) -> tuple[Any, str]:
        from mlflow import MlflowClient

        with _http_limits():
            client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            found = client.get_experiment_by_name(self.experiment)
            if found is not None:
                return client, found.experiment_id
            if not create:
                raise _store_error(self.uri, f"no '{self.experiment}' experiment in this store yet",
                                   fix="train a model with tracking on first")
            location = str(self.artifact_root) if self.artifact_root is not None else None
            return client, client.create_experiment(self.experiment, artifact_location=location)

    def use(self) -> None:
        """Point MLflow's fluent API (model logging and loading) at this store."""
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)


@contextlib.contextmanager
def _http_limits() -> Iterator[None]:
    """A remote store that does not answer fails in seconds, not after minutes of retries."""
    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    old = {k: os.environ.get(k) for k in keys}
    for k, v in keys.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, previous in old.items():
            if previous is None:
                os.environ.pop(k, None)


def _finite(values: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v)):
            out[k] = float(v)
    return out


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = str(v)[:6000]
    return out


def _import_mlflow() -> None:
    """Imports only (no warnings filters, no logging changes: those are process-wide and not thread-safe)."""
    with contextlib.suppress(Exception):
        import mlflow.pyfunc
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


class MLflowTracker:
    """The Tracker protocol on MLflow, kept off the hot path of fitting.

    ``check`` runs before any training: a remote store is opened there; a SQLite store is checked without MLflow
    (directory writable, file a database) while MLflow itself is imported on a background thread. The parent run,
    its child runs (in batches: 3x faster than one call per value) and the model are written at ``finish`` (or
    ``fail``), with the start time the run really had.
    """

    def __init__(self, uri: str | None = None, experiment: str = EXPERIMENT, *,
                 model_kwargs: ModelKwargs | None = None) -> None:
        self.store = Store(uri, experiment)
        self.model_kwargs = model_kwargs
        self.parent_id: str | None = None
        self.trials: list[tuple[Any, bool]] = []
        self.model_uri: str | None = None
        self._started: tuple[str, dict[str, Any], dict[str, str], int] | None = None
        self._imports: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return self.store.uri

    def check(self) -> None:
        """Fail now, before any training, on a store that cannot be used. Raises TrackingError."""
        if self.store.db is None:
            self.store.open()
            return
        self.store.precheck()
        if self._imports is None and "mlflow.store.tracking.sqlalchemy_store" not in sys.modules:
            self._imports = threading.Thread(target=_import_mlflow, name="trainwright-mlflow-import", daemon=True)
            self._imports.start()

    def start(self, run_id: str, *, config: dict[str, Any], tags: dict[str, str]) -> None:
        if self._imports is None and self.store._client is None:
            self.check()
        self._started = (run_id, dict(config), dict(tags), int(time.time() * 1000))

    def _open(self) -> None:
        if self._imports is not None:
            self._imports.join()
            self._imports = None
        self.store.open()

    def _create_parent(self) -> None:
        from mlflow.entities import Param, RunTag

        assert self._started is not None, "start() was not called"
        run_id, config, tags, start_time = self._started
        client = self.store.client
        source = tags.get("source", "")
        run_tags = {**{k: str(v) for k, v in tags.items()}, "trainwright.kind": "parent", "trainwright.run_id": run_id,
                    "trainwright.dataset": model_name(source), "trainwright.seed": str(config.get("seed"))}
        run = client.create_run(self.store.experiment_id, start_time=start_time, tags=run_tags, run_name=run_id)
        self.parent_id = run.info.run_id
        params = [Param(k, v) for k, v in _flatten(config).items()]
        client.log_batch(self.parent_id, params=params, tags=[RunTag("mlflow.source.name", "trainwright train")])
        client.log_dict(self.parent_id, config, "config.json")
        client.log_dict(self.parent_id, lineage(config.get("seed")), "lineage.json")

    def trial(self, trial: Any, *, chosen: bool = False) -> None:
        self.trials.append((trial, chosen))

    def _log_trials(self, result: Any) -> None:
        from mlflow.entities import Metric, Param

        client = self.store.client
        for trial, chosen in self.trials:
            tags = {"mlflow.parentRunId": self.parent_id or "", "trainwright.kind": "trial", "family": trial.family,
                    "rung": str(trial.rung), "chosen": str(chosen).lower(), "status": trial.status,
                    "model": trial.name, "note": trial.message[:5000]}
            child = client.create_run(self.store.experiment_id, tags=tags, run_name=f"{trial.name}")
            values = {**{f"val_{k}": v for k, v in trial.val_scores.items()},
                      **{f"train_{k}": v for k, v in trial.train_scores.items()},
                      "fit_seconds": trial.fit_seconds, "predict_ms_per_1k": trial.predict_ms_per_1k,
                      "size_bytes": trial.size_bytes, "val_se": trial.val_se}
            for name, scores in (("cv", trial.cv_scores), ("seed", trial.seed_scores)):
                if scores:
                    values[f"{name}_mean"] = sum(scores) / len(scores)
                    if len(scores) > 1:
                        mean = values[f"{name}_mean"]
                        values[f"{name}_std"] = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1))
            params = {**{k: v for k, v in trial.params.items()}, "model": trial.name, "seed": trial.seed}
            client.log_batch(child.info.run_id, metrics=[Metric(k, v, int(time.time() * 1000), 0)
                                                         for k, v in _finite(values).items()],
                             params=[Param(k, str(v)[:6000]) for k, v in params.items()])
            client.set_terminated(child.info.run_id, "FINISHED" if trial.ok else "FAILED")

    def finish(self, result: Any, *, run_dir: Path) -> None:
        self._open()
        with quiet_mlflow():
            self._create_parent()
            self._finish(result, Path(run_dir))

    def _finish(self, result: Any, run_dir: Path) -> None:
        from mlflow.entities import Metric, RunTag

        client, run = self.store.client, self.parent_id
        assert run is not None
        if self.model_kwargs is not None:  # first: MLflow copies the run's metrics onto the model, one query each
            self.model_uri = self._log_model(Path(result.bundle))
        self._log_trials(result)
        metric = result.task.metric
        chosen = result.chosen
        metrics = {**{f"test_{k}": v for k, v in result.test_scores.items()},
                   **{f"val_{k}": v for k, v in chosen.val_scores.items()},
                   **{f"time_{k}": v for k, v in result.timings.items()}}
        tags = {"trainwright.chosen": chosen.name, "trainwright.metric": metric,
                "trainwright.choice": result.choice.reason[:5000], "trainwright.bundle": str(Path(result.bundle).resolve()),
                "trainwright.task": result.task.kind.value, "trainwright.model_uri": self.model_uri or ""}
        now = int(time.time() * 1000)
        client.log_batch(run, metrics=[Metric(k, v, now, 0) for k, v in _finite(metrics).items()],
                         tags=[RunTag(k, v) for k, v in tags.items()])
        client.log_dict(run, result.schema.to_dict(), "schema.json")
        client.log_dict(run, result.task.to_dict(), "task.json")
        for name in ("leaderboard.csv", "run.json", "split.json"):
            if (Path(run_dir) / name).is_file():
                client.log_artifact(run, str(Path(run_dir) / name))
        if getattr(result, "report_path", None) and Path(result.report_path).exists():
            client.log_artifact(run, str(result.report_path), "report")
        client.set_terminated(run, "FINISHED")

    def _log_model(self, bundle: Path) -> str:
        """The bundle as an MLflow pyfunc model in the parent run (``mlflow.pyfunc.load_model`` works on it)."""
        import mlflow
        import mlflow.pyfunc

        assert self.model_kwargs is not None
        self.store.use()
        with _no_type_hint_notes():
            kwargs = self.model_kwargs(bundle)
        with _no_type_hint_notes(), _no_requirement_scan(), mlflow.start_run(run_id=self.parent_id, log_system_metrics=False):
            info = mlflow.pyfunc.log_model(name="model", **kwargs)
        return str(info.model_uri)

    def fail(self, error: BaseException) -> None:
        if self._started is None:
            return
        with contextlib.suppress(Exception), quiet_mlflow():
            self._open()
            if self.parent_id is None:
                self._create_parent()
            client = self.store.client
            client.set_tag(self.parent_id, "trainwright.error", f"{type(error).__name__}: {error}"[:5000])
            client.set_terminated(self.parent_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
