"""The workflow for a dataset of Parquet shards on Ray (``trainwright train shards/ --target y --backend ray``).

The same method as the in-memory workflow, at a scale where no process holds every row:
1. a bounded sample (read from every shard) gives the schema, the task and the door's checks (``prepare``);
2. Ray Data gives each row its part by a stable hash of its feature values (or ``--group`` key), so twins stay
   together, and computes the column statistics and the parts' sizes on the workers;
3. the preprocessor is fitted on the sample's train rows; Ray Train's workers each read their own share of the
   train and validation parts and boost XGBoost together (``training/data_parallel.py``), stopping early on the
   validation part and at the time budget;
4. the one test: predictions made on the workers for the test part, scored against a prior-only baseline;
5. a bundle like any other (the preprocessor and the booster in one pipeline, pickle-free), which ``predict`` reads
   for a file, and ``predict_shards`` applies to a directory of Parquet files in parallel, writing a directory.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle import write_bundle
from trainwright.config import Config
from trainwright.data import Task, coerce_frame, infer_task
from trainwright.data.shards import hash_parts, read_sample
from trainwright.drift import build_profile
from trainwright.evaluation.metrics import score_all
from trainwright.exceptions import DataError, Problem
from trainwright.features import build_preprocessor
from trainwright.fileio import atomic_output, jsonable
from trainwright.lineage import lineage
from trainwright.models import resolve
from trainwright.training.engine import predict_matrix
from trainwright.workflow.prepare import prepare

__all__ = ["ShardedResult", "predict_shards", "train_sharded"]

_SAMPLE_ROWS = 50_000


@dataclass(frozen=True)
class ShardedResult:
    """What a data-parallel run gives: scores, who read what, where the bundle is."""

    run_id: str
    run_dir: Path
    task: Task
    rows: int
    parts: dict[str, int]
    workers: int
    rows_per_worker: tuple[int, ...]
    rounds: int
    stopped: str
    test_scores: dict[str, float]
    baseline_scores: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def bundle(self) -> Path:
        return self.run_dir / "model"


def _task_from_counts(sample_task: Task, sample_target: pd.Series, counts: dict[str, int], cfg: Config) -> Task:
    """The sample's task, unless the whole data has classes the sample missed: then decided again on the full
    counts (each class kept in proportion, at least once)."""
    if not sample_task.is_classification or {str(c) for c in sample_task.classes} >= set(counts):
        return sample_task
    total = sum(counts.values())
    values = [k for k, n in counts.items() for _ in range(max(1, round(n * 100_000 / total)))]
    target = pd.Series(values, name=cfg.target)
    if pd.api.types.is_numeric_dtype(sample_target):
        target = pd.to_numeric(target)
    return infer_task(target, kind=sample_task.kind.value, metric=sample_task.metric, positive_label=cfg.positive_label,
                      beta=cfg.beta, costs=cfg.costs)


def _baseline(task: Task, y_train: np.ndarray, n: int) -> np.ndarray:
    """A prior-only prediction for ``n`` rows (class shares, or the mean, of the sample's train rows)."""
    if not task.is_classification:
        return np.full(n, float(np.mean(y_train)))
    prior = np.bincount(y_train.astype(int), minlength=len(task.classes)) / max(len(y_train), 1)
    return np.tile(prior, (n, 1))


def _transformer(schema: Any, features: Any) -> Callable[[pd.DataFrame], np.ndarray]:
    def transform(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(features.transform(coerce_frame(frame, schema, strict=False)), dtype=np.float32)

    return transform


def _fitted_model(task: Task, model_json: bytes, directory: Path) -> Any:
    """The booster as scikit-learn's XGBoost estimator (what the bundle and ``predict`` know)."""
    import xgboost

    path = directory / "booster.json"
    path.write_bytes(model_json)
    model = xgboost.XGBRegressor() if task.kind.value == "regression" else xgboost.XGBClassifier()
    model.load_model(str(path))
    path.unlink()
    return model


@dataclass(frozen=True)
class _Door:
    """What the sample decided: the prepared sample (schema, task), the columns hashed into parts, the fractions."""

    sample: pd.DataFrame
    prep: Any
    hashed: list[str]
    fractions: tuple[float, float, float]


def _door(files: list[Path], cfg: Config) -> _Door:
    sample = read_sample(files, _SAMPLE_ROWS)
    prep = prepare(sample, cfg)  # the door's checks, the schema and the task, on the sample
    hashed = [cfg.split.group_column] if cfg.split.group_column else list(prep.schema.features)
    missing = [c for c in hashed if c not in sample.columns]
    if missing:
        raise DataError("the split key is not a column", [Problem("split.no_group", f"no column {missing[0]!r}",
                                                                  column=missing[0], fix="check --group")])
    return _Door(sample, prep, hashed, (cfg.split.train, cfg.split.validation, cfg.split.test))


@dataclass
class _Fitted:
    task: Task
    stats: Any
    workers: int
    fit: Any
    pipeline: Any
    X_train: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    pred: np.ndarray
    timings: dict[str, float]


def _fit_on_ray(door: _Door, files: list[Path], cfg: Config, deadline: float, storage: Path,
                log: Callable[[str], None]) -> _Fitted:
    import ray

    from trainwright.training import data_parallel as dp

    _quiet_ray_data()
    start, timings = time.monotonic(), {}
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = max(1, min(cfg.workers or cpus, cpus))  # --workers, else one per CPU of the cluster
    ds = ray.data.read_parquet([str(f) for f in files], partitioning=None)
    ds = dp.with_parts(ds, door.hashed, door.fractions, cfg.seed).materialize()
    stats = dp.column_stats(ds)
    timings["read_and_stats_s"] = round(time.monotonic() - start, 3)
    log(f"{stats.rows:,} rows in {len(files)} files; parts {stats.parts}")
    task = _task_from_counts(door.prep.task, door.sample[cfg.target], stats.levels.get(cfg.target, {}), cfg)
    in_train = hash_parts(door.sample, door.hashed, door.fractions, cfg.seed) == 0
    X_train, y_train = door.prep.X.loc[in_train], task.encode(door.sample.loc[in_train, cfg.target])
    features = build_preprocessor(door.prep.schema, resolve(["xgboost"])[0].needs, X_train,
                                  random_state=cfg.seed).fit(X_train, y_train)
    keep = [*door.prep.schema.features, cfg.target]
    t = time.monotonic()
    # each part computed before the workers start: Ray Data's tasks then need no CPU that the workers hold
    train, validation = (dp.part(ds, i).select_columns(keep).materialize() for i in (0, 1))
    fit = dp.fit_xgboost(train, validation, task=task,
                         transform=_transformer(door.prep.schema, features), params={"seed": cfg.seed},
                         workers=workers, deadline=deadline - _reserve(cfg), storage=storage)
    timings["fit_s"] = round(time.monotonic() - t, 3)
    log(f"{workers} workers trained {fit.rounds} rounds ({fit.stopped}); rows read per worker: "
        f"{', '.join(f'{n:,}' for n in fit.rows_per_worker)}")
    pipeline = _pipeline(features, task, fit.model_json, storage)
    t = time.monotonic()
    y_test, pred = dp.predict_part(dp.part(ds, 2).select_columns(keep), pipeline, task, door.prep.schema)
    timings["test_s"] = round(time.monotonic() - t, 3)
    return _Fitted(task, stats, workers, fit, pipeline, X_train, y_train, y_test, pred, timings)


def train_sharded(files: list[Path], cfg: Config, *, log: Callable[[str], None] = lambda _: None) -> ShardedResult:
    """Train on the Parquet ``files`` with Ray (a loopback Ray of its own, or the cluster at ``cfg.ray_address``)."""
    from trainwright.training.ray_executor import RayExecutor

    start, deadline = time.monotonic(), time.time() + cfg.effective_time_budget
    door = _door(files, cfg)
    run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    storage = Path(cfg.output_dir).resolve() / f".{run_id}.ray"  # Ray Train's checkpoint, removed at the end
    executor = RayExecutor(cfg.ray_address)
    try:
        fitted = _fit_on_ray(door, files, cfg, deadline, storage, log)
    finally:
        executor.close()
        shutil.rmtree(storage, ignore_errors=True)
    task = fitted.task
    result = ShardedResult(
        run_id=run_id, run_dir=Path(cfg.output_dir) / run_id, task=task, rows=fitted.stats.rows,
        parts=fitted.stats.parts, workers=fitted.workers, rows_per_worker=fitted.fit.rows_per_worker,
        rounds=fitted.fit.rounds, stopped=fitted.fit.stopped, test_scores=score_all(fitted.y_test, fitted.pred, task),
        baseline_scores=score_all(fitted.y_test, _baseline(task, fitted.y_train, len(fitted.y_test)), task),
        timings={**fitted.timings, "total_s": round(time.monotonic() - start, 3)}, notes=door.prep.notes)
    _write_run(result, fitted, door, cfg, files)
    return result


def _reserve(cfg: Config) -> float:
    """Seconds kept back from the fit for the test predictions and the bundle."""
    return min(30.0, 0.15 * cfg.effective_time_budget)


def _pipeline(features: Any, task: Task, model_json: bytes, scratch: Path) -> Any:
    from sklearn.pipeline import Pipeline

    scratch.mkdir(parents=True, exist_ok=True)
    return Pipeline([("features", features), ("model", _fitted_model(task, model_json, scratch))])


def _quiet_ray_data() -> None:
    """No progress bars or per-dataset banners from Ray Data in the command's output."""
    import logging

    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.train").setLevel(logging.WARNING)


def _write_run(result: ShardedResult, fitted: _Fitted, door: _Door, cfg: Config, files: list[Path]) -> None:
    """The run folder: bundle, leaderboard, split and run.json, under a hidden name, renamed into place."""
    pipeline, prep, X_train, hashed, stats = fitted.pipeline, door.prep, fitted.X_train, door.hashed, fitted.stats
    tmp = result.run_dir.with_name(f".{result.run_id}.partial")
    tmp.mkdir(parents=True)
    try:
        task, metric = result.task, result.task.metric
        split = {"strategy": "hash", "columns": hashed, "seed": cfg.seed, "sizes": result.parts,
                 "fractions": [cfg.split.train, cfg.split.validation, cfg.split.test]}
        metadata = {"run_id": result.run_id, "trial_id": "xgboost", "model": "xgboost", "family": "xgboost",
                    "source": [str(f) for f in files], "created": datetime.now(UTC).isoformat(),
                    "features": prep.schema.features, "lineage": lineage(cfg.seed),
                    "data_parallel": {"workers": result.workers, "rows_per_worker": list(result.rows_per_worker),
                                      "rounds": result.rounds, "stopped": result.stopped}}
        metrics = {"metric": metric, "test": jsonable(result.test_scores), "baseline_test": jsonable(result.baseline_scores)}
        profile = build_profile(X_train, prep.schema, task, predict_matrix(pipeline, X_train, task), random_state=cfg.seed)
        write_bundle(tmp / "model", pipeline, {"schema": prep.schema.to_dict(), "task": task.to_dict(),
                                               "metrics": metrics, "split": split, "config": cfg.to_dict(),
                                               "metadata": metadata, "profile": profile.to_dict()})
        board = pd.DataFrame([{"trial_id": "dummy", "model": "dummy", f"test_{metric}": result.baseline_scores[metric]},
                              {"trial_id": "xgboost", "model": "xgboost", f"test_{metric}": result.test_scores[metric]}])
        board.to_csv(tmp / "leaderboard.csv", index=False)
        (tmp / "split.json").write_text(json.dumps(split, indent=2), encoding="utf-8")
        summary = {"run_id": result.run_id, "source": [str(f) for f in files], "task": task.kind.value, "metric": metric,
                   "chosen": "xgboost", "test_scores": jsonable(result.test_scores),
                   "baseline_test_scores": jsonable(result.baseline_scores), "rows": result.rows, "split": result.parts,
                   "missing_rates": {c: stats.missing_rate(c) for c in prep.schema.features},
                   "data_parallel": metadata["data_parallel"], "timings": result.timings, "notes": list(result.notes)}
        with atomic_output(tmp / "run.json") as out:
            out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        tmp.rename(result.run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def predict_shards(bundle: str | Path, files: list[Path], output: str | Path, *, address: str | None = None) -> int:
    """Predict every row of the Parquet ``files`` on Ray's workers, writing a directory of Parquet files (one per
    block) at ``output`` (renamed into place when complete). Returns the number of rows written."""
    from trainwright.bundle import load
    from trainwright.training.ray_executor import RayExecutor

    model = load(bundle)
    output = Path(output)
    if output.exists():
        raise DataError(f"{output} exists", [Problem("predict.output_exists", "refusing to overwrite it",
                                                     column=str(output), fix="choose another output directory")])
    tmp = output.with_name(f".{output.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    executor = RayExecutor(address)
    try:
        import ray

        _quiet_ray_data()
        ray.data.DataContext.get_current().execution_options.preserve_order = True  # output rows in input order
        ds = ray.data.read_parquet([str(f) for f in files], partitioning=None)
        ds.map_batches(model.predict, batch_format="pandas").write_parquet(str(tmp))
        rows = int(ray.data.read_parquet(str(tmp)).count())
        tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        executor.close()
    return rows
