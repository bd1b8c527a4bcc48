"""``trainwright train``: the whole workflow with a progress bar, the leaderboard and the one test result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer

__all__ = ["register"]


def _parse_costs(value: str | None) -> dict[str, str] | None:
    """'fp=1,fn=5' -> {'fp': '1', 'fn': '5'} (the config validates the names and numbers)."""
    if not value:
        return None
    pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
    if any(len(p) != 2 for p in pairs):
        raise typer.BadParameter(f"--costs {value!r}: write name=number pairs, e.g. 'fp=1,fn=5'")
    return {k.strip().lower(): v.strip() for k, v in pairs}


CLI_EXIT_S = 0.5  # what the command does after the workflow returns: the table, the interpreter's exit


def budget_from_start(cfg: Any) -> Any:
    """``cfg`` with the time budget the workflow has left: ``--time-budget`` covers the whole command, so what the
    process spent before the workflow starts (and the exit after it) comes off it."""
    from trainwright.tuning.budget import seconds_since_process_start

    left = max(1.0, cfg.effective_time_budget - seconds_since_process_start() - CLI_EXIT_S)
    return cfg.model_copy(update={"time_budget": round(left, 2)})


def _split_names(value: str | None) -> tuple[str, ...] | None:
    return tuple(n.strip() for n in value.split(",") if n.strip()) if value else None


# the leaderboard's columns, most needed first; the last ones are left out of a narrow terminal (the run's
# leaderboard.csv and report have them all)
_COLUMNS = ("model", "rung", "val", "train", "cv mean ± sd", "fit s", "ms/1k rows", "size KB", "note")
_NARROW = {90: 6, 110: 8}  # console width under the key: show only that many columns


def _render(result: Any) -> None:
    from rich import box
    from rich.table import Table

    from trainwright.cli._console import console

    metric = result.task.metric
    shown = next((n for width, n in sorted(_NARROW.items()) if console.width < width), len(_COLUMNS))
    table = Table(title=f"Leaderboard: {metric} on the validation part",
                  title_justify="left", box=box.SIMPLE_HEAD)
    frame = result.leaderboard.to_frame()
    widest_id = max((len(str(i)) for i in frame["trial_id"]), default=5) + 2  # "lightgbm#12 ✓" on one line
    for col in _COLUMNS[:shown]:
        table.add_column(col, justify="left" if col in {"model", "note"} else "right",
                         overflow="ellipsis" if col == "note" else "fold", no_wrap=True,
                         max_width=40 if col == "note" else None, min_width=widest_id if col == "model" else None)

    def fmt(v: float, d: int = 4) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"

    for _, row in frame.iterrows():
        name = f"[bold green]{row['trial_id']} ✓[/]" if row["trial_id"] == result.choice.chosen else row["trial_id"]
        cv = f"{fmt(row['cv_mean'])} ± {fmt(row['cv_std'])}" if not math.isnan(row["cv_mean"]) else ""
        cells = (name, str(row["rung"]), fmt(row[f"val_{metric}"]), fmt(row[f"train_{metric}"]), cv,
                 fmt(row["fit_s"], 2), fmt(row["predict_ms_per_1k"], 2), fmt(row["size_kb"], 1),
                 row["status"] if row["status"] != "ok" else (row["note"][:60] if row["note"] else ""))
        table.add_row(*cells[:shown])
    console.print(table)
    if shown < len(_COLUMNS):
        console.print(f"[dim]({', '.join(_COLUMNS[shown:])}: in {result.run_dir / 'leaderboard.csv'}, or widen the "
                      "terminal)[/]", soft_wrap=True)
    for _, row in frame[frame["seed_std"].notna()].iterrows():  # --seeds N: mean and spread per candidate
        console.print(f"seeds: {row['model']} {metric} {row['seed_mean']:.4f} ± {row['seed_std']:.4f} "
                      f"({result.schemes.get('seeds', '')})", highlight=False)
    console.print(f"[bold]Chosen:[/] {result.choice.reason}", soft_wrap=True)
    console.print(f"[bold]Test (touched once, after the choice):[/] {metric} = {result.test_score:.4f}  "
                  f"on {result.split.sizes['test']} rows", soft_wrap=True)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)
    console.print(f"Run: {result.run_dir}\nModel bundle: {result.bundle}")
    if result.diagnosis is not None:
        console.print(f"[bold]Diagnosis:[/] {result.diagnosis.summary}", soft_wrap=True)
    if result.report_path is not None:
        console.print(f"Report: {result.report_path}")


class _Progress:
    """Turns the workflow's events into the progress bar, the audit's findings and one line per finished model."""

    STEPS: ClassVar[dict[str, str]] = {
        "refit": "refitting the chosen model, testing it once",
        "analysis": "learning curve and importance",
        "bundle": "writing the run and the model bundle",
    }

    def __init__(self, progress: Any, task_id: Any, print_findings: Any) -> None:
        self.progress, self.task_id, self.print_findings = progress, task_id, print_findings
        self.metric = ""

    def __call__(self, event: Any) -> None:
        if event.step == "prepare":  # before any model is fitted: the task's metric and the audit's findings
            self.metric = event.payload.task.metric
            self.print_findings(event.payload.audit)
            self.progress.update(self.task_id, description="climbing the ladder")
        elif event.stage == "start" and event.spec is None:
            self.progress.update(self.task_id, description=self.STEPS.get(event.step, event.step))
        elif event.stage == "start":
            verb = "cross-validating" if event.step == "cv" else "fitting"
            self.progress.update(self.task_id, description=f"{verb} {event.spec.name}")
        elif event.step == "ladder":
            self.progress.advance(self.task_id)
            trial = event.trial
            detail = f"{trial.score(self.metric):.4f}" if trial.ok else trial.status
            self.progress.console.print(f"  {trial.name:<24} {detail}", highlight=False)


def train_command(
    data: Annotated[Path, typer.Argument(help="CSV/TSV, Parquet or JSON Lines file")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="column to predict")] = None,
    preset: Annotated[str | None, typer.Option(help="quick | balanced | thorough | best (bagged, stacked, --choose best)")] = None,
    time_budget: Annotated[float | None, typer.Option("--time-budget", help="seconds for the whole ladder")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config; flags override it")] = None,
    task: Annotated[str | None, typer.Option(help="auto | binary | multiclass | regression | detection | "
                                              "segmentation (dense tasks: inferred from a folder with "
                                              "annotations.json, labels/ or masks/)")] = None,
    metric: Annotated[str | None, typer.Option(help="metric to choose by (roc_auc, log_loss, f1, fbeta, rmse, mae, r2...)")] = None,
    beta: Annotated[float | None, typer.Option(help="beta for the fbeta metric")] = None,
    costs: Annotated[str | None, typer.Option(help="binary: cost of each decision, e.g. 'fp=1,fn=5' (tp, fp, fn, "
                                              "tn); chooses by expected cost at a tuned threshold")] = None,
    positive_label: Annotated[str | None, typer.Option("--positive-label")] = None,
    seed: Annotated[int | None, typer.Option(help="one random_state for split, models and samplers")] = None,
    group_column: Annotated[str | None, typer.Option("--group-column", help="no group in two parts")] = None,
    time_column: Annotated[str | None, typer.Option("--time-column", help="test is the latest rows")] = None,
    models: Annotated[str | None, typer.Option(help="comma-separated model names")] = None,
    exclude: Annotated[str | None, typer.Option(help="comma-separated model names to leave out")] = None,
    output_dir: Annotated[str | None, typer.Option("--output-dir", "-o")] = None,
    force: Annotated[bool, typer.Option("--force", help="drop too-rare classes; allow unusual split fractions")] = False,
    seeds: Annotated[int | None, typer.Option(help="refit the top candidates with N seeds; report mean and sd")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel fits for CV and seeds: 1 = one at a time with every "
                                                "core (default), N = N processes sharing the cores, 0 = one per core")] = None,
    backend: Annotated[str | None, typer.Option(help="local (default) | ray: fits as Ray tasks (a local Ray on "
                                                "loopback unless --ray-address)")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="join this Ray cluster (HOST:PORT)")] = None,
    device: Annotated[str | None, typer.Option(help="where torch models train: auto (CUDA when present, else CPU), "
                                               "cpu, cuda or cuda:N")] = None,
    tensorboard: Annotated[Path | None, typer.Option("--tensorboard", help="write the torch models' per-epoch curves "
                                                     "as TensorBoard event files under this folder")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store (default sqlite:///mlflow.db)")] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="do not log this run to MLflow")] = False,
    choose: Annotated[str | None, typer.Option("--choose", help="simplest (within one standard error of the best, "
                                               "the default) | best (highest expected score, ensembles included)")] = None,
) -> None:
    """Train the ladder on DATA and save the chosen model."""
    from trainwright.exceptions import check_data_file

    check_data_file(data)  # a mistyped path is refused before seconds of imports
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from trainwright import train  # the root's train also writes the run report
    from trainwright.cli._console import console, surfaced_warnings
    from trainwright.cli._epochs import epoch_bar
    from trainwright.cli.audit import print_findings
    from trainwright.config import load_config

    overrides: dict[str, Any] = {
        "target": target, "preset": preset, "time_budget": time_budget, "task": task, "metric": metric, "beta": beta,
        "costs": _parse_costs(costs),
        "positive_label": positive_label, "seed": seed, "models": _split_names(models),
        "exclude_models": _split_names(exclude), "output_dir": output_dir, "force": force or None,
        "seeds": seeds, "workers": workers, "backend": backend, "ray_address": ray_address, "choose": choose, "device": device, "tensorboard": str(tensorboard) if tensorboard else None, "tracking_uri": tracking_uri, "tracking": False if no_tracking else None,
        "split": {"group_column": group_column, "time_column": time_column, "force": force or None},
    }
    if target is None and config is None and data.is_dir():  # a folder of class folders: the label is the folder
        overrides["target"] = "label"
    cfg = load_config(config, **overrides)
    if cfg.target is None:
        raise typer.BadParameter("--target is required (or 'target' in the config)")
    from trainwright.cli._paths import check_output_dir

    check_output_dir(cfg.output_dir, inputs=(data, *([config] if config is not None else ())))
    from trainwright.cli._sharded import train_sharded_command

    if train_sharded_command(data, cfg):  # Parquet shards with --backend ray: data-parallel (workflow/sharded.py)
        return
    from trainwright.tracking import default_tracker

    # the tracking writer starts now, so its MLflow import runs on the other core while this process imports the
    # training stack (the model-arguments function is named, not imported: bundle/ is heavy)
    tracker = default_tracker(cfg, model_kwargs="trainwright.bundle.pyfunc:pyfunc_log_kwargs")
    getattr(tracker, "check", lambda: None)()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task_id = progress.add_task("loading data", total=len(cfg.model_names))
        with surfaced_warnings(), epoch_bar(progress) as epochs:  # a line per epoch while a network trains
            result = train(data, config=budget_from_start(cfg), on_event=_Progress(progress, task_id, print_findings), tracker=tracker,
                           listeners=(epochs,))
    if hasattr(result, "summary_lines"):  # detection or segmentation (workflow/dense.py)
        console.print("\n".join(result.summary_lines()), highlight=False, soft_wrap=True)
        return
    _render(result)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
