"""``trainwright runs``, ``runs show ID`` and ``ui``: the engineer's log, read from the MLflow store."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

__all__ = ["register"]

TrackingUri = Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store (default: sqlite:///mlflow.db "
                                                 "here, or MLFLOW_TRACKING_URI)")]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _date(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else ""


def runs_list(
    tracking_uri: TrackingUri = None,
    limit: Annotated[int, typer.Option(help="most recent runs to show")] = 50,
) -> None:
    """List train runs: id, date, dataset, task, chosen model, validation and test score."""
    from rich.table import Table

    from trainwright.cli._console import console
    from trainwright.tracking import Store
    from trainwright.tracking.registry import list_runs
    from trainwright.tracking.store import quiet_mlflow

    with quiet_mlflow():
        store = Store(tracking_uri).open(create=False)
        runs = list_runs(store, max_results=limit)
    table = Table(title=f"Runs in {store.uri}", title_justify="left")
    for col in ("id", "date", "dataset", "task", "chosen", "metric", "validation", "test", "status"):
        table.add_column(col, justify="right" if col in {"validation", "test"} else "left", no_wrap=col == "id",
                         min_width=22 if col == "id" else None, overflow="fold")
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        metric = tags.get("trainwright.metric", "")
        table.add_row(run.info.run_name, _date(run.info.start_time), tags.get("trainwright.dataset", ""),
                      tags.get("task", ""), tags.get("trainwright.chosen", ""), metric,
                      _fmt(metrics.get(f"val_{metric}")), _fmt(metrics.get(f"test_{metric}")), run.info.status)
    console.print(table)
    if not runs:
        console.print("no runs yet: train one with 'trainwright train DATA --target COLUMN'")


def runs_show(
    run_id: Annotated[str, typer.Argument(help="a trainwright run id (or MLflow run id)")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Show one run: tags, parameters, metrics, its trials and its logged model."""
    from rich.table import Table

    from trainwright.cli._console import console
    from trainwright.tracking import Store
    from trainwright.tracking.registry import find_run
    from trainwright.tracking.store import quiet_mlflow

    with quiet_mlflow():
        store = Store(tracking_uri).open(create=False)
        run = find_run(store, run_id)
        children = store.client.search_runs([store.experiment_id],
                                            filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    tags = run.data.tags
    console.print(f"[bold]{run.info.run_name}[/]  (MLflow run {run.info.run_id}, {run.info.status}, "
                  f"{_date(run.info.start_time)})", highlight=False)
    for key in ("source", "trainwright.dataset", "task", "trainwright.metric", "trainwright.chosen", "trainwright.choice",
                "file_sha256", "frame_sha256", "trainwright.model_uri", "trainwright.bundle", "trainwright.error"):
        if key in tags:
            console.print(f"  {key.removeprefix('trainwright.')}: {tags[key]}", highlight=False, soft_wrap=True)
    metric = tags.get("trainwright.metric", "")
    table = Table(title="Trials", title_justify="left")
    for col in ("model", "family", "rung", "chosen", f"val {metric}", f"train {metric}", "seed mean", "seed std", "fit s"):
        table.add_column(col, no_wrap=True)
    for child in sorted(children, key=lambda r: int(r.data.tags.get("rung", 0))):
        m, t = child.data.metrics, child.data.tags
        table.add_row(t.get("model", child.info.run_name), t.get("family", ""), t.get("rung", ""), t.get("chosen", ""),
                      _fmt(m.get(f"val_{metric}")), _fmt(m.get(f"train_{metric}")), _fmt(m.get("seed_mean")),
                      _fmt(m.get("seed_std")), _fmt(m.get("fit_seconds")))
    console.print(table)
    scores = {k: v for k, v in sorted(run.data.metrics.items()) if k.startswith("test_") and "_ci_" not in k}
    console.print("test: " + ", ".join(f"{k.removeprefix('test_')}={_fmt(v)}" for k, v in scores.items()), highlight=False)
    low, high = run.data.metrics.get(f"test_{metric}_ci_low"), run.data.metrics.get(f"test_{metric}_ci_high")
    if low is not None and high is not None:
        console.print(f"test {metric}: {_fmt(run.data.metrics.get(f'test_{metric}'))}, 95% bootstrap interval "
                      f"[{_fmt(low)}, {_fmt(high)}]", highlight=False)


def ui_command(
    tracking_uri: TrackingUri = None,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
) -> None:
    """Start the MLflow UI on the same store, bound to 127.0.0.1 only."""
    import contextlib
    import subprocess
    import sys

    from trainwright.cli._console import console
    from trainwright.tracking import Store
    from trainwright.tracking.store import quiet_mlflow

    store = Store(tracking_uri)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store.uri, "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    if store.artifact_root is not None:
        command += ["--default-artifact-root", str(store.artifact_root)]
    url = f"http://127.0.0.1:{port}"
    with contextlib.suppress(Exception), quiet_mlflow():  # a store with no run yet: the UI's front page then
        url += f"/#/experiments/{Store(tracking_uri).open(create=False).experiment_id}/runs"  # its runs list
    console.print(f"MLflow UI on {url} (trainwright's experiment) for {store.uri} (Ctrl+C stops it)", soft_wrap=True)
    try:
        raise typer.Exit(subprocess.call(command))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    runs = typer.Typer(help="The engineer's log: train runs in the MLflow store.", no_args_is_help=False,
                       invoke_without_command=True)

    @runs.callback(invoke_without_command=True)
    def _default(ctx: typer.Context, tracking_uri: TrackingUri = None,
                 limit: Annotated[int, typer.Option(help="most recent runs to show")] = 50) -> None:
        """List train runs (``trainwright runs show ID`` for one)."""
        if ctx.invoked_subcommand is None:
            runs_list(tracking_uri, limit)

    runs.command("show")(runs_show)
    app.add_typer(runs, name="runs")
    app.command("ui")(ui_command)
