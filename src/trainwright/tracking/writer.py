"""The tracking writer: a process of its own that writes one train run into MLflow while the run goes on.

The training process never imports MLflow: it sends plain messages through a pipe (start, trial, model, finish,
fail) and waits only at the end for the writer to say it is done. MLflow's import (seconds), opening the store and
writing the child runs and the model happen on the machine's other core, and its warnings and log lines stay in
this process. If the training process dies (``kill -9``), the pipe closes and the writer marks the run KILLED.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainwright.lineage import lineage
from trainwright.tracking.base import interval_metrics
from trainwright.tracking.signature import bundle_signature
from trainwright.tracking.stale import mark_stale_runs, run_owner_tags
from trainwright.tracking.store import (
    ModelKwargs,
    Store,
    _no_requirement_scan,
    _no_type_hint_notes,
    model_name,
    quiet_mlflow,
)

__all__ = ["RunWriter", "serve"]


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


_EPOCH_VALUES = {"train_loss": "epoch_train_loss", "val_score": "epoch_val_score", "lr": "epoch_lr"}


def _epoch_metrics(epochs: list[dict[str, Any]]) -> list[Any]:
    """Each epoch's values as MLflow step metrics (the UI draws them as curves)."""
    from mlflow.entities import Metric

    now = _now()
    return [Metric(name, float(e[key]), now, int(e.get("epoch", i))) for i, e in enumerate(epochs)
            for key, name in _EPOCH_VALUES.items() if isinstance(e.get(key), int | float) and math.isfinite(e[key])]


def _now() -> int:
    return int(time.time() * 1000)


class _PyfuncFlavor:
    """MLflow's pyfunc flavour as the flavour module ``Model.log`` takes (an object with ``save_model``), without the
    ``validate_serving_input`` switch, which ``Model.log`` reads and ``mlflow.pyfunc.save_model`` does not take."""

    __name__ = "mlflow.pyfunc"

    @staticmethod
    def save_model(path: str, mlflow_model: Any = None, validate_serving_input: bool = True, **kwargs: Any) -> Any:
        import mlflow.pyfunc

        return mlflow.pyfunc.save_model(path=path, mlflow_model=mlflow_model, **kwargs)


class RunWriter:
    """Writes one parent run (RUNNING from the start), a child run per trial and the chosen model."""

    def __init__(self, store: Store, model_kwargs: ModelKwargs | None) -> None:
        self.store = store
        self.model_kwargs = model_kwargs
        self.parent_id: str | None = None
        self.model_uri: str | None = None
        self.terminated = False
        self.start_tags: dict[str, str] = {}
        self.curves: dict[str, list[dict[str, Any]]] = {}  # trial id -> its per-epoch values, until the trial is logged

    def start(self, run_id: str, config: dict[str, Any], tags: dict[str, str], start_time: int) -> None:
        from mlflow.entities import Param, RunTag

        client = self.store.client
        run_tags = {**{k: str(v) for k, v in tags.items()}, "trainwright.kind": "parent", "trainwright.run_id": run_id,
                    "trainwright.dataset": model_name(tags.get("source", "")), "trainwright.seed": str(config.get("seed")),
                    **run_owner_tags(os.getppid())}
        run = client.create_run(self.store.experiment_id, start_time=start_time, tags=run_tags, run_name=run_id)
        self.parent_id = run.info.run_id
        self.start_tags = run_tags
        with contextlib.suppress(Exception):  # clearing up after killed runs never fails this one
            mark_stale_runs(client, self.store.experiment_id, skip=self.parent_id)
        params = [Param(k, v) for k, v in _flatten(config).items()]
        client.log_batch(self.parent_id, params=params, tags=[RunTag("mlflow.source.name", "trainwright train")])
        client.log_dict(self.parent_id, config, "config.json")
        client.log_dict(self.parent_id, lineage(config.get("seed")), "lineage.json")

    def trial(self, trial: Any, chosen: bool) -> None:
        from mlflow.entities import Metric, Param

        client = self.store.client
        tags = {"mlflow.parentRunId": self.parent_id or "", "trainwright.kind": "trial", "family": trial.family,
                "rung": str(trial.rung), "chosen": str(chosen).lower(), "status": trial.status, "model": trial.name,
                "trial_id": trial.trial_id, "note": trial.message[:5000]}
        child = client.create_run(self.store.experiment_id, tags=tags, run_name=trial.trial_id)
        values = {**{f"val_{k}": v for k, v in trial.val_scores.items()},
                  **{f"train_{k}": v for k, v in trial.train_scores.items()},
                  "fit_seconds": trial.fit_seconds, "predict_ms_per_1k": trial.predict_ms_per_1k,
                  "size_bytes": trial.size_bytes, "val_se": trial.val_se}
        for name, scores in (("cv", trial.cv_scores), ("seed", trial.seed_scores)):
            if scores:
                mean = sum(scores) / len(scores)
                values[f"{name}_mean"] = mean
                if len(scores) > 1:
                    values[f"{name}_std"] = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1))
        params = {**dict(trial.params), "model": trial.name, "seed": trial.seed}
        client.log_batch(child.info.run_id, metrics=[Metric(k, v, _now(), 0) for k, v in _finite(values).items()],
                         params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        epochs = self.curves.pop(trial.trial_id, [])
        for start in range(0, len(epochs), 300):  # MLflow takes at most 1000 metrics per batch
            client.log_batch(child.info.run_id, metrics=_epoch_metrics(epochs[start:start + 300]))
        client.set_terminated(child.info.run_id, "FINISHED" if trial.ok else "FAILED")

    def curve(self, trial_id: str, epochs: list[dict[str, Any]]) -> None:
        """Kept until the trial's child run is made (at the choice): the ladder fits come first."""
        self.curves[trial_id] = list(epochs)

    def model(self, bundle: str) -> None:
        """The bundle as an MLflow pyfunc model in the parent run (``mlflow.pyfunc.load_model`` works on it)."""
        import mlflow
        from mlflow.models import Model

        if self.model_kwargs is None or self.parent_id is None:
            return
        self.store.use()
        with _no_type_hint_notes():
            kwargs = self.model_kwargs(Path(bundle))
        described = bundle_signature(bundle)  # what MLflow's serving checks requests against, and an example
        if described is not None:
            kwargs = {"signature": described[0], "input_example": described[1], **kwargs}
        with _no_type_hint_notes(), _no_requirement_scan(), mlflow.start_run(run_id=self.parent_id,
                                                                              log_system_metrics=False):
            # mlflow.pyfunc.log_model is Model.log with the pyfunc flavour; here with a flavour that tells Model.log
            # not to serve the input example through the model once: that would import skops (2 s: it imports
            # every scikit-learn estimator and torch) while the trainer waits. The tests check that MLflow's
            # serving accepts the example.
            info = Model.log(None, _PyfuncFlavor, name="model", validate_serving_input=False, **kwargs)
        self.model_uri = str(info.model_uri)

    def finish(self, summary: dict[str, Any], files: list[str]) -> None:
        from mlflow.entities import Metric, RunTag

        client, run = self.store.client, self.parent_id
        assert run is not None, "start was not sent"
        tags = {**summary["tags"], "trainwright.model_uri": self.model_uri or ""}
        metrics = {**summary["metrics"], **_report_interval(files)}
        client.log_batch(run, metrics=[Metric(k, v, _now(), 0) for k, v in _finite(metrics).items()],
                         tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])
        for name, doc in summary["documents"].items():
            client.log_dict(run, doc, f"{name}.json")
        if "schema" in summary["documents"]:
            log_training_data(client, run, self.start_tags, summary["documents"]["schema"])
        for path in files:
            client.log_artifact(run, path, "report" if Path(path).name.startswith("report.") else None)
        client.set_terminated(run, "FINISHED")
        self.terminated = True

    def fail(self, message: str, status: str) -> None:
        if self.parent_id is None or self.terminated:
            return
        client = self.store.client
        client.set_tag(self.parent_id, "trainwright.error", message[:5000])
        client.set_terminated(self.parent_id, status)
        self.terminated = True


def _report_interval(files: list[str]) -> dict[str, float]:
    """The test score's bootstrap interval from the run's report.json (computed once, by the report)."""
    import json

    for path in files:
        if Path(path).name == "report.json":
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                return interval_metrics(json.loads(Path(path).read_text(encoding="utf-8")).get("test_interval"))
    return {}


def log_training_data(client: Any, run_id: str, tags: Mapping[str, str], schema: Mapping[str, Any]) -> None:
    """The training data as an MLflow dataset input (``mlflow.data``): where it came from, its fingerprint and the
    columns of the bundle's schema; the data itself is not copied."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.types import ColSpec, DataType, TensorSpec
    from mlflow.types import Schema as MlflowSchema

    source_path = tags.get("source", "")
    fingerprint = tags.get("file_sha256") or tags.get("frame_sha256") or ""
    if source_path and not source_path.startswith("<"):
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local file source
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(str(Path(source_path).resolve()))
    else:
        source = CodeDatasetSource(tags={"mlflow.source.name": "trainwright.train(DataFrame)"})
    numeric = {"numeric"}
    columns: list[ColSpec | TensorSpec] = [ColSpec(DataType.double if c["role"] in numeric else DataType.string, c["name"],
                       required=not c.get("missing_fraction")) for c in schema["columns"] if c["role"] != "ignored"]
    dataset = MetaDataset(source, name=tags.get("trainwright.dataset") or "training data",  # type: ignore[abstract]
                          digest=fingerprint[:36] or None, schema=MlflowSchema(columns) if columns else None)
    input_tags = [InputTag("mlflow.data.context", "training")]
    input_tags += [InputTag(f"trainwright.{k}", str(tags[k])) for k in ("file_sha256", "frame_sha256") if tags.get(k)]
    entry = DatasetInput(dataset._to_mlflow_entity(), tags=input_tags)
    try:
        client.log_inputs(run_id, datasets=[entry])
    except Exception:  # two runs on the same data at once both inserted the dataset: it exists now, link to it
        time.sleep(0.2)
        client.log_inputs(run_id, datasets=[entry])


def _dispatch(writer: RunWriter, message: tuple[Any, ...]) -> Any:
    kind, *args = message
    if kind == "start":
        return writer.start(*args)
    if kind == "trial":
        return writer.trial(*args)
    if kind == "curve":
        return writer.curve(*args)
    if kind == "model":
        return writer.model(*args)
    if kind == "finish":
        return writer.finish(*args)
    if kind == "fail":
        return writer.fail(*args)
    raise ValueError(f"unknown tracking message {kind!r}")


def _warm_up() -> None:
    """Import now what logging the model needs (MLflow's pyfunc flavour; the model-arguments function's module was
    imported when the writer started), while the run trains on the other core, instead of at the end, when the
    trainer waits for the writer."""
    with contextlib.suppress(Exception):
        import mlflow.pyfunc  # noqa: F401


def serve(conn: Any, uri: str, experiment: str, model_kwargs: ModelKwargs | None) -> None:
    """The writer process's main loop. Replies ("ok", model_uri) to ``sync`` messages, ("error", text) once the
    first error happened (later messages are then dropped: the run is recorded as far as it could be)."""
    error: str | None = None
    writer: RunWriter | None = None
    with quiet_mlflow():
        try:
            writer = RunWriter(Store(uri, experiment).open(), model_kwargs)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        _warm_up()
        while True:
            try:
                message = conn.recv()
            except Exception:  # EOF, a broken pipe or a half-sent message: the training process is gone
                if writer is not None and error is None:
                    writer.fail("the training process ended without finishing the run", "KILLED")
                return
            if message[0] == "sync":
                conn.send(("error", error) if error else ("ok", writer.model_uri if writer else None))
                continue
            if message[0] == "stop":
                return
            if error is None and writer is not None:
                try:
                    _dispatch(writer, message)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
                    error += "\n" + traceback.format_exc(limit=3)[-1500:]


def _main() -> None:
    """``python -m trainwright.tracking.writer URI EXPERIMENT [module:function]``: messages are pickles on stdin,
    replies pickles on the stdout it started with (fd 1 is pointed at stderr, so nothing else can write there)."""
    import importlib
    import pickle
    import sys

    uri, experiment = sys.argv[1], sys.argv[2]
    model_kwargs = None
    if len(sys.argv) > 3 and sys.argv[3]:
        module, _, name = sys.argv[3].partition(":")
        model_kwargs = getattr(importlib.import_module(module), name)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    class _Pipe:
        def recv(self) -> Any:
            return pickle.load(sys.stdin.buffer)

        def send(self, value: Any) -> None:
            pickle.dump(value, replies)
            replies.flush()

    serve(_Pipe(), uri, experiment, model_kwargs)
    # Everything is committed to the store by now. Skip the interpreter's teardown (MLflow, SQLAlchemy, pandas and
    # their atexit hooks: half a second the trainer would wait for at the end of every run).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _main()
