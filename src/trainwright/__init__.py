"""trainwright: from a labelled table to a tested, packaged, served and monitored model.

    import trainwright as tw
    result = tw.train("data.csv", target="churn", preset="balanced")
    model = tw.load(result.bundle); model.predict(frame)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trainwright.exceptions import (
    BundleError,
    ConfigError,
    DataError,
    GateFailed,
    SchemaMismatchError,
    TrackingError,
    TrainingError,
    TrainwrightError,
)

if TYPE_CHECKING:
    import pandas as pd

    from trainwright.bundle import Model
    from trainwright.config import Config
    from trainwright.tracking.base import Tracker
    from trainwright.training.events import Listener
    from trainwright.training.executor import Executor
    from trainwright.workflow import TrainResult

__all__ = [
    "BundleError", "ConfigError", "DataError", "GateFailed", "SchemaMismatchError", "TrackingError", "TrainingError",
    "TrainwrightError", "audit", "load", "train",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the package metadata, the one place the version is written
        from trainwright.lineage import package_version

        return package_version("trainwright") or "unknown"
    raise AttributeError(name)


def train(
    data: str | Path | pd.DataFrame,
    target: str | None = None,
    *,
    config: Config | str | Path | None = None,
    preset: Literal["quick", "balanced", "thorough", "best"] | None = None,
    time_budget: float | None = None,
    task: Literal["auto", "binary", "multiclass", "regression", "detection", "segmentation"] | None = None,
    metric: str | None = None,
    beta: float | None = None,
    costs: Mapping[str, float] | None = None,
    positive_label: str | None = None,
    models: Sequence[str] | None = None,
    exclude_models: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
    split: Mapping[str, Any] | None = None,
    cv_folds: int | None = None,
    seed: int | None = None,
    seeds: int | None = None,
    workers: int | None = None,
    backend: Literal["local", "ray"] | None = None,
    ray_address: str | None = None,
    device: str | None = None,
    search_trials: int | None = None,
    search_models: Sequence[str] | None = None,
    sampler: Literal["tpe", "random", "grid"] | None = None,
    search_scheme: Literal["holdout", "cv"] | None = None,
    resume_study: str | None = None,
    ensemble_size: int | None = None,
    choose: Literal["simplest", "best"] | None = None,
    output_dir: str | Path | None = None,
    tensorboard: str | Path | None = None,
    tracking: bool | None = None,
    tracking_uri: str | None = None,
    force: bool | None = None,
    listeners: Sequence[Listener] = (),
    on_event: Listener | None = None,
    tracker: Tracker | None = None,
    executor: Executor | None = None,
) -> TrainResult:
    """Run the whole workflow (audit, split, ladder, search, choice, one test, bundle, report) and return a
    ``TrainResult``. Every option left at None takes its value from ``config``, else the default.

    Args:
        data: a CSV/TSV, Parquet or JSON Lines file, or a pandas DataFrame.
        target: the column to predict.
        config: a ``Config`` or a YAML file; the keywords below win over it.
        preset: ``quick``, ``balanced`` (default) or ``thorough``: which models, how much search, how long.
        time_budget: seconds for the whole run (default: the preset's).
        task: ``auto`` (default: inferred from the target), ``binary``, ``multiclass`` or ``regression``.
        metric: the metric to choose by (default: roc_auc, log_loss for multiclass, rmse for regression).
        beta: the beta of F-beta when ``metric="fbeta"`` (default 1).
        costs: cost per decision for ``metric="cost"``, e.g. ``{"fp": 1, "fn": 5}`` (binary only).
        positive_label: the positive class of a binary target (default: inferred).
        models: the ladder's model names (default: the preset's); an unknown name lists the valid ones.
        exclude_models: model names to leave out.
        roles: column roles that override inference, e.g. ``{"zip": "categorical", "id": "ignored"}``.
        split: ``train``/``validation``/``test`` fractions (0.70/0.15/0.15), ``group_column``, ``time_column``.
        cv_folds: folds of the cross-validation of the best candidates (default: the preset's).
        seed: the one ``random_state`` of splits, models and samplers (default 0).
        seeds: refit the best candidates with this many seeds to measure their spread (default 1).
        workers: parallel fits: 1 sequential (default), N processes, 0 one per core.
        backend: where fits run: ``local`` (default) or ``ray`` (Ray tasks; a local Ray on loopback unless
            ``ray_address``).
        ray_address: an existing Ray cluster (``HOST:PORT`` or ``auto``), joined with its own authentication.
        device: torch models' device: ``auto`` (default: CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        search_trials: hyperparameter search trials after the ladder (default: the preset's).
        search_models: the families to search (default: the preset's best of the ladder).
        sampler: ``tpe`` (default), ``random`` or ``grid``.
        search_scheme: score search trials on the validation part (``holdout``, default) or k folds (``cv``).
        resume_study: a run id whose stored search study this run continues.
        ensemble_size: greedy ensemble selection rounds over out-of-fold predictions (0: none).
        choose: ``simplest`` within one standard error of the best (default), or ``best``.
        output_dir: where runs go (default ``runs``): ``<output_dir>/<run id>/`` holds bundle, report, leaderboard.
        tensorboard: a folder for TensorBoard event files of the torch models' per-epoch curves (one per trial).
        tracking: log the run to MLflow (default True; ``TRAINWRIGHT_TRACKING=0`` turns it off too).
        tracking_uri: the MLflow store (default ``sqlite:///mlflow.db``, or ``MLFLOW_TRACKING_URI``).
        force: train even when the audit finds blocking problems.
        listeners: callables receiving the run's events (the report writer is always added).
        on_event: one more event listener (a progress bar, say).
        tracker: a ``Tracker`` instead of the default MLflow one.
        executor: an ``Executor`` instead of the one ``workers`` gives.
    """
    from trainwright.reporting import ReportWriter
    from trainwright.workflow import train as _train

    options = {"preset": preset, "time_budget": time_budget, "task": task, "metric": metric, "beta": beta,
               "costs": dict(costs) if costs is not None else None, "positive_label": positive_label,
               "models": tuple(models) if models is not None else None,
               "exclude_models": tuple(exclude_models) if exclude_models is not None else None,
               "roles": dict(roles) if roles is not None else None, "split": dict(split) if split is not None else None,
               "cv_folds": cv_folds, "seed": seed, "seeds": seeds, "workers": workers, "backend": backend,
               "ray_address": ray_address, "device": device, "search_trials": search_trials,
               "search_models": tuple(search_models) if search_models is not None else None, "sampler": sampler,
               "search_scheme": search_scheme, "resume_study": resume_study, "ensemble_size": ensemble_size,
               "choose": choose, "output_dir": str(output_dir) if output_dir is not None else None,
               "tensorboard": str(tensorboard) if tensorboard is not None else None,
               "tracking": tracking, "tracking_uri": tracking_uri, "force": force}
    overrides = {k: v for k, v in options.items() if v is not None}
    report: tuple[Listener, ...] = (*listeners, ReportWriter())  # the run report: runs/<id>/report.{html,md,json}
    return _train(data, target, config=config, on_event=on_event, listeners=report, tracker=tracker,
                  executor=executor, **overrides)


def audit(data: Any, target: str, **kwargs: Any) -> Any:
    """Check a table before training and write its HTML/JSON report; see ``trainwright.reporting.audit.run_audit``."""
    from trainwright.reporting.audit import run_audit

    return run_audit(data, target, **kwargs)


def load(path: Any) -> Model:
    """Load a saved model bundle; see ``trainwright.bundle.load``."""
    from trainwright.bundle import load as _load

    return _load(path)
