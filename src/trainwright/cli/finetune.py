"""``trainwright finetune BUNDLE new_data``: carry a saved model on to new labelled rows (``workflow/finetune.py``).

Same labels: the model continues from what it learned and is compared with the original on the new rows' held-out
part by the regression gate; the verdict is printed, and the exit code is 6 when the fine-tuned model is
significantly worse (its bundle is still written, for a look). New labels: a network's body is kept under a new
head; the schedule is printed. Exit code 2 for data or a model that cannot be fine-tuned, 4 for a broken bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]


def _render(result: Any) -> None:
    from rich.table import Table

    from trainwright.cli._console import console

    console.print(f"fine-tuned {result.model} from {result.parent} ({result.mode}): {result.method}", highlight=False,
                  soft_wrap=True)
    rows = result.rows
    console.print(f"rows: {rows['train']} train, {rows['validation']} validation (early stopping), "
                  f"{rows['held_out']} held out", highlight=False)
    if result.schedule:
        table = Table(title="schedule", title_justify="left")
        keys = list(dict.fromkeys(k for phase in result.schedule for k in phase))
        for key in keys:
            table.add_column(key, no_wrap=True)
        for phase in result.schedule:
            table.add_row(*(_cell(phase.get(k)) for k in keys))
        console.print(table)
    scores = ", ".join(f"{k} {v:.4f}" for k, v in result.held_out_scores.items() if isinstance(v, float))
    console.print(f"held-out {result.metric}: {result.held_out_scores.get(result.metric, float('nan')):.4f} "
                  f"({scores})", highlight=False, soft_wrap=True)
    if result.comparison is not None:
        console.print(f"against the original: {result.comparison.summary()}", highlight=False, soft_wrap=True)
        console.print(f"[bold]verdict:[/] {result.comparison.verdict}")
    console.print(f"bundle: {result.bundle}", highlight=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def finetune_command(
    bundle: Annotated[Path, typer.Argument(help="the model bundle to carry on: runs/<id>/model")],
    data: Annotated[Path, typer.Argument(help="new labelled rows (CSV, Parquet, JSONL) or a folder of class folders "
                                         "of images")],
    target: Annotated[str | None, typer.Option("--target", help="target column (default: the model's)")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="where the new run folder goes")] = Path("runs"),
    held_out: Annotated[float, typer.Option("--held-out", help="share of the new rows kept for the verdict")] = 0.2,
    lr_scale: Annotated[float, typer.Option("--lr-scale", help="learning rate of continued or unfrozen training, "
                                            "as a share of the model's own")] = 0.3,
    time_budget: Annotated[float, typer.Option("--time-budget", help="seconds for training")] = 600.0,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="bootstrap resamples of the verdict")] = 1000,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random_state of the split and the fits")] = 0,
    device: Annotated[str, typer.Option(help="where a network trains: auto, cpu, cuda")] = "auto",
) -> None:
    """Carry the model in BUNDLE on to the labelled rows of DATA; a new bundle records where it came from."""
    from trainwright.cli._options import check_range
    from trainwright.cli._paths import check_output_dir
    from trainwright.exceptions import check_bundle_dir, check_data_file

    check_range("--held-out", held_out, above=0.0, below=0.6)
    check_range("--lr-scale", lr_scale, above=0.0, at_most=1.0)
    check_range("--time-budget", time_budget, above=0.0)
    check_bundle_dir(bundle)  # mistyped paths are refused before seconds of imports
    check_data_file(data)
    check_output_dir(output_dir, inputs=(bundle, data))
    from trainwright.cli._console import surfaced_warnings
    from trainwright.exceptions import GateFailed, Problem
    from trainwright.workflow.finetune import finetune

    with surfaced_warnings():
        result = finetune(bundle, data, target=target, output_dir=output_dir, seed=seed, time_budget=time_budget,
                          held_out=held_out, lr_scale=lr_scale, device=device, n_boot=n_boot)
    _render(result)
    if result.comparison is not None and result.comparison.worse:
        raise GateFailed("the fine-tuned model is significantly worse than the original on the held-out rows", [
            Problem("gate.worse", result.comparison.summary(), column=str(result.bundle),
                    fix="keep the original; the fine-tuned bundle was written for a look")])


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune_command)
