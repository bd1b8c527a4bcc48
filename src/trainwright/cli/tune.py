"""``trainwright tune``: the same workflow as ``train``, with the hyperparameter search switched on.

The ladder runs first (the baseline always, for reference), then each named family is searched (the portfolio
first, then the sampler), the best trial of each is re-scored over folds, the greedy ensemble is built, and the
choice, the single test and the bundle follow as in ``train``. The study is stored in the run folder
(``study.journal``): ``--resume RUN_ID`` continues that run's study in a new run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

DEFAULT_TRIALS = 30


def _progress(base: Any) -> Any:
    """The train command's progress, plus one line per search trial."""

    def listener(event: Any) -> None:
        base(event)
        if event.step == "search" and event.stage == "done" and event.trial is not None:
            trial = event.trial
            detail = f"{trial.score(base.metric):.4f}" if trial.ok else trial.status
            base.progress.console.print(f"  {trial.trial_id:<24} {detail}  [dim]{trial.message[:60]}[/]",
                                        highlight=False)

    return listener


def tune_command(
    data: Annotated[Path, typer.Argument(help="CSV/TSV, Parquet or JSON Lines file")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="column to predict")] = None,
    models: Annotated[str | None, typer.Option(help="comma-separated families to search (default: the preset's "
                                                    "best ones on the ladder)")] = None,
    trials: Annotated[int | None, typer.Option("--trials", min=1, help=f"search trials in all (default "
                                                                       f"{DEFAULT_TRIALS})")] = None,
    time_budget: Annotated[float | None, typer.Option("--time-budget", help="seconds for the whole command")] = None,
    sampler: Annotated[str, typer.Option(help="tpe | random | grid")] = "tpe",
    scheme: Annotated[str | None, typer.Option("--scheme", help="holdout (the validation part, default) | cv "
                                                              "(k folds of train+validation, pruned over folds)")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="continue the study stored in this run")] = None,
    choose: Annotated[str | None, typer.Option("--choose", help="simplest (within one standard error) | best")] = None,
    preset: Annotated[str | None, typer.Option(help="quick | balanced | thorough | best (bagged, stacked, --choose best)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config; flags override it")] = None,
    seed: Annotated[int | None, typer.Option(help="one random_state for split, models and sampler")] = None,
    output_dir: Annotated[str | None, typer.Option("--output-dir", "-o")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel fits for folds (see train --workers)")] = None,
    tensorboard: Annotated[Path | None, typer.Option("--tensorboard", help="write the torch models' per-epoch curves "
                                                     "as TensorBoard event files under this folder")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store")] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="do not log this run to MLflow")] = False,
) -> None:
    """Search hyperparameters of the best model families on DATA, ensemble, choose, test once and save."""
    from trainwright.exceptions import ConfigError, Problem, check_data_file

    check_data_file(data)
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from trainwright import train
    from trainwright.cli._console import console, surfaced_warnings
    from trainwright.cli._epochs import epoch_bar
    from trainwright.cli.audit import print_findings
    from trainwright.cli.train import _Progress, _render, _split_names, budget_from_start
    from trainwright.config import load_config

    searched = _split_names(models)
    overrides: dict[str, Any] = {
        "target": target, "preset": preset, "time_budget": time_budget, "seed": seed, "output_dir": output_dir,
        "models": ("dummy", *[m for m in searched if m != "dummy"]) if searched else None,
        "search_models": searched, "sampler": sampler, "search_scheme": scheme, "resume_study": resume,
        "choose": choose, "workers": workers, "tensorboard": str(tensorboard) if tensorboard else None,
        "tracking_uri": tracking_uri, "tracking": False if no_tracking else None,
    }
    cfg = load_config(config, **overrides)
    n_trials = trials or cfg.search_trials or max(cfg.preset_settings.search_trials, DEFAULT_TRIALS)
    cfg = load_config(None, **{**cfg.to_dict(), "search_trials": n_trials})
    if cfg.resume_study and not (Path(cfg.output_dir) / cfg.resume_study / "study.journal").is_file():
        raise ConfigError(f"no stored search to resume in run {cfg.resume_study!r}", [Problem(
            "config.no_study", f"{Path(cfg.output_dir) / cfg.resume_study / 'study.journal'} does not exist",
            fix="pass the id of a run made by 'trainwright tune' (see 'trainwright runs')")])
    from trainwright.cli._paths import check_output_dir

    check_output_dir(cfg.output_dir, inputs=(data, *([config] if config is not None else ())))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task_id = progress.add_task("loading data", total=len(cfg.model_names))
        with surfaced_warnings(), epoch_bar(progress) as epochs:  # a line per epoch while a network trains
            result = train(data, config=budget_from_start(cfg), on_event=_progress(_Progress(progress, task_id, print_findings)),
                           listeners=(epochs,))
    _render(result)
    for key, text in result.schemes.items():
        if key.startswith("search"):
            console.print(f"[dim]{key}: {text}[/]", highlight=False)
    console.print(f"Study: {result.run_dir / 'study.journal'} (continue it with --resume {result.run_id})")


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_command)
