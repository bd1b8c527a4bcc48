"""The MLflow store: where it is, checked for writing, created under a file lock, MLflow kept quiet.

The default store is embedded (``sqlite:///mlflow.db`` in the working directory, artifacts in ``mlartifacts``
beside it). The store is checked, and created under a file lock, before any training starts: a store that cannot
be written gives one ``TrackingError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from trainwright.exceptions import Problem, TrackingError

__all__ = ["EXPERIMENT", "ModelKwargs", "Store", "model_name", "quiet_mlflow", "resolve_uri", "sqlite_path"]

EXPERIMENT = "trainwright"
_FIX = "pass --tracking-uri to a writable store (or an MLflow server), or --no-tracking"
_QUIET_LOGGERS = ("mlflow", "alembic")
ModelKwargs = Callable[[Path], dict[str, Any]]


def resolve_uri(uri: str | None = None) -> str:
    """``uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    return chosen


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
                if create and self.db is not None:
                    _ensure_sqlite_store(self.db, self.artifact_root)
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
            # the kind tag makes MLflow's UI open the experiment in its "Model training" view, not the GenAI one
            return client, client.create_experiment(self.experiment, artifact_location=location,
                                                    tags={"mlflow.experimentKind": "custom_model_development"})

    def use(self) -> None:
        """Point MLflow's fluent API (model logging and loading) at this store."""
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)


def _half_made(db: Path) -> bool:
    """A store whose creation was cut short (``kill -9`` during MLflow's migrations, before stores were created
    under a temporary name): its schema is not at MLflow's head or it holds ``_alembic_tmp_*`` tables, and it holds
    no run. Such a file has nothing to keep, and every later open fails on it."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(str(db), timeout=30)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" in tables and conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone():
            return False
        if any(t.startswith("_alembic_tmp_") for t in tables) or "alembic_version" not in tables:
            return True
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    from mlflow.store.db.utils import _get_latest_schema_revision

    return version is None or version[0] != _get_latest_schema_revision()


def _ensure_sqlite_store(db: Path, artifact_root: Path | None) -> None:
    """A fresh SQLite store is made whole under a temporary name in the same directory and renamed into place, so
    a kill at any moment leaves either no store or a complete one. A half-made store (see ``_half_made``) is moved
    aside to ``<name>.broken-<time>`` and made again. Called under the store's file lock."""
    if db.exists():
        if db.stat().st_size == 0 or not _half_made(db):
            return
        aside = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(db, aside)
        warnings.warn(f"the experiment store {db} was left half-made by an interrupted run and held no run: "
                      f"moved aside to {aside.name} and created again", RuntimeWarning, stacklevel=2)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    tmp = db.with_name(f".{db.name}.creating-{uuid.uuid4().hex[:8]}")
    uri = f"sqlite:///{tmp.resolve()}"
    try:
        store = SqlAlchemyStore(uri, str(artifact_root) if artifact_root is not None else "./mlartifacts")
        store.engine.dispose()
        SqlAlchemyStore._engine_map.pop(uri, None)
        os.replace(tmp, db)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)
    for stale in db.parent.glob(f".{db.name}.creating-*"):  # left by a kill during an earlier creation
        stale.unlink(missing_ok=True)


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


