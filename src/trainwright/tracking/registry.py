"""Finding runs in the store, and the champion: register a run's model and move the ``champion`` alias to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainwright.exceptions import Problem, TrackingError
from trainwright.tracking.store import Store, quiet_mlflow

__all__ = ["CHAMPION", "Promotion", "champion_uri", "find_champion", "find_run", "list_runs", "model_uri", "promote"]

CHAMPION = "champion"


@dataclass(frozen=True)
class Promotion:
    """Which run's model became which version of which registered model."""

    name: str
    version: str
    run_id: str
    mlflow_run_id: str
    model_uri: str
    previous: str | None  # the version the alias pointed to before, if any
    name_from: str = "--name"  # where the registered name came from: --name, or the run's dataset


def _not_found(ref: str, store: Store) -> TrackingError:
    return TrackingError(f"no run '{ref}' in {store.uri}", [Problem(
        "tracking.run_not_found", f"'{ref}' is neither a trainwright run id nor an MLflow run id of a train run",
        fix="list runs with 'trainwright runs' (same --tracking-uri)")])


def list_runs(store: Store, *, max_results: int = 50) -> list[Any]:
    """Parent runs (one per ``train``), newest first."""
    return list(store.client.search_runs(
        [store.experiment_id], filter_string="tags.`trainwright.kind` = 'parent'",
        order_by=["attributes.start_time DESC"], max_results=max_results))


def find_run(store: Store, ref: str) -> Any:
    """A parent run by trainwright run id (``20260101-120000-abc123``) or MLflow run id."""
    client = store.client
    runs = client.search_runs([store.experiment_id], filter_string=f"tags.`trainwright.run_id` = '{_quote(ref)}'",
                              max_results=1)
    if runs:
        return runs[0]
    try:
        run = client.get_run(ref)
    except Exception:  # MLflow raises its own error for an unknown or malformed id
        raise _not_found(ref, store) from None
    if run.data.tags.get("trainwright.kind") != "parent":
        raise _not_found(ref, store)
    return run


def _quote(value: str) -> str:
    return value.replace("'", "")


def model_uri(run: Any) -> str:
    """The MLflow model URI of a train run's chosen model."""
    uri = run.data.tags.get("trainwright.model_uri")
    if not uri:
        raise TrackingError(f"run {run.info.run_name} has no logged model", [Problem(
            "tracking.no_model", "the run did not finish, or its model was not logged",
            fix="promote a run that finished (status FINISHED in 'trainwright runs')")])
    return uri


def promote(ref: str, *, uri: str | None = None, name: str | None = None) -> Promotion:
    """Register the run's model under ``name`` (default: the dataset's model name) and point ``champion`` at it."""
    import mlflow

    store = Store(uri).open(create=False)
    run = find_run(store, ref)
    source = model_uri(run)
    name_from = "--name" if name else "the run's dataset name"
    name = name or run.data.tags.get("trainwright.dataset") or "model"
    client = store.client
    previous = None
    try:
        previous = str(client.get_model_version_by_alias(name, CHAMPION).version)
    except Exception:  # no registered model or no alias yet
        previous = None
    store.use()
    with quiet_mlflow():
        version = mlflow.register_model(source, name, tags={"trainwright.run_id": run.info.run_name})
        client.set_registered_model_alias(name, CHAMPION, version.version)
        target = _run_target(store, run)  # lets 'compare ... champion' find this model by what it predicts
        if target:
            client.set_registered_model_tag(name, "trainwright.target", target)
        client.set_registered_model_tag(name, "trainwright.dataset", run.data.tags.get("trainwright.dataset", ""))
    return Promotion(name, str(version.version), run.info.run_name, run.info.run_id, source, previous, name_from)


def _run_target(store: Store, run: Any) -> str:
    """The target column a parent run predicted (its tag, else its logged config)."""
    target = run.data.tags.get("trainwright.target") or run.data.params.get("target")
    return str(target or "")


def find_champion(store: Store, *, name: str | None = None, target: str | None = None) -> tuple[str, str]:
    """(registered name, ``models:/NAME@champion``). By ``name`` when given; otherwise among the registered models
    with a champion: the one whose tag says it predicts ``target`` (several: the caller must choose)."""
    if name:
        return name, champion_uri(store, name)
    candidates = []
    for model in store.client.search_registered_models(max_results=1000):
        if CHAMPION not in (getattr(model, "aliases", None) or {}):
            continue
        if target is None or model.tags.get("trainwright.target", target) == target:
            candidates.append(model.name)
    if len(candidates) == 1:
        return candidates[0], champion_uri(store, candidates[0])
    what = f" predicting '{target}'" if target else ""
    if not candidates:
        raise TrackingError(f"no champion{what} in {store.uri}", [Problem(
            "tracking.no_champion", f"no registered model{what} has a '{CHAMPION}' alias",
            fix="promote a run first: trainwright promote RUN_ID")])
    raise TrackingError(f"{len(candidates)} registered models{what} have a champion in {store.uri}", [Problem(
        "tracking.ambiguous_champion", ", ".join(sorted(candidates)), fix="choose one with --model-name")])


def champion_uri(store: Store, name: str) -> str:
    """``models:/NAME@champion``, checked to exist."""
    try:
        store.client.get_model_version_by_alias(name, CHAMPION)
    except Exception:
        raise TrackingError(f"no champion for '{name}' in {store.uri}", [Problem(
            "tracking.no_champion", f"the registered model '{name}' has no '{CHAMPION}' alias",
            fix="promote a run first: trainwright promote RUN_ID (or pass --model-name)")]) from None
    return f"models:/{name}@{CHAMPION}"
