"""``trainwright audit``: data checks and exploratory plots, nothing trained. Writes an HTML and a JSON report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["print_findings", "register"]

_STYLE = {"blocking": "bold red", "warning": "yellow", "info": "cyan"}


def print_findings(audit: Any, limit: int = 5) -> None:
    """The top findings, one line each (the rest are in the report)."""
    from trainwright.cli._console import console

    if audit is None or not audit.findings:
        return
    counts = audit.counts()
    console.print(f"[bold]Data checks:[/] {counts['blocking']} blocking, {counts['warning']} warnings, "
                  f"{counts['info']} notes", soft_wrap=True)
    for f in audit.top(limit):
        console.print(f"  [{_STYLE[f.severity]}]{f.severity:<8}[/] {f.title}" + (f" [dim]-> {f.fix}[/]" if f.fix else ""),
                      soft_wrap=True, highlight=False)
    if len(audit.findings) > limit:
        console.print(f"  [dim]... and {len(audit.findings) - limit} more in the report[/]")


def audit_command(
    data: Annotated[Path, typer.Argument(help="CSV/TSV, Parquet or JSON Lines file, or a folder of class folders of "
                                              "images")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="column to predict (a folder of class "
                                                                      "folders: 'label', the folder's name)")] = None,
    time_column: Annotated[str | None, typer.Option("--time-column", help="check whether the target drifts over it")] = None,
    fix: Annotated[bool, typer.Option("--fix", help="write <name>.clean.<ext> without real duplicates (not identical "
                                                    "rows chance explains), constant and identifier columns, with "
                                                    "infinite values made missing (the original is never modified)")] = False,
    allow_drop_rows: Annotated[bool, typer.Option("--allow-drop-rows", help="let --fix remove more than 3% of the "
                                                                            "rows (refused otherwise, exit code 2)")] = False,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="folder for the reports")] = Path("reports"),
    label_model: Annotated[str, typer.Option("--label-model", help="logistic | lightgbm: the out-of-fold model "
                                                                   "for the label-noise check")] = "logistic",
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random_state for sampling and the split")] = 0,
) -> None:
    """Check DATA before training: duplicates, label noise, leakage, column problems, imbalance, drift, twins.
    Exits 2 when a finding is blocking (``train`` would refuse the data)."""
    from trainwright.cli._paths import check_output_dir
    from trainwright.exceptions import ConfigError, Problem, check_data_file

    if label_model not in {"logistic", "lightgbm"}:
        raise ConfigError("unknown --label-model", [Problem("config.invalid", f"'{label_model}'", fix="use logistic or lightgbm")])
    check_data_file(data)  # a mistyped path is refused before seconds of imports
    if target is None and not data.is_dir():
        raise typer.BadParameter("--target is required (the column to predict)")
    target = target or "label"  # a folder of class folders: the label is the sub-folder's name
    stem = f"{data.name.split('.')[0]}.audit"  # the report's files: <output_dir>/<stem>.{html,md,json}
    check_output_dir(output_dir, inputs=(data,), files=[f"{stem}.{ext}" for ext in ("html", "md", "json")])
    import trainwright
    from trainwright.cli._console import console

    with console.status("auditing"):
        result = trainwright.audit(data, target, time_column=time_column, fix=fix, output_dir=output_dir,
                                   label_model=label_model, random_state=seed, allow_drop_rows=allow_drop_rows)
    print_findings(result.audit, limit=10)
    console.print(f"Report: {result.files['html']}\nJSON: {result.files['json']}")
    if result.fix is not None:
        fixed = result.fix
        console.print(f"Cleaned file: {fixed.cleaned} ({fixed.n_rows_before} -> {fixed.n_rows_after} rows: "
                      f"{fixed.n_rows_removed} removed; {len(fixed.changes)} changes recorded, every removed row with "
                      f"its number and reason, in {fixed.changes_file}); {data} is unchanged", soft_wrap=True)
    _fail_on_blocking(result.audit, data)


def _fail_on_blocking(audit: Any, data: Path) -> None:
    """A blocking finding is a data problem: the exit code says so (``train`` would refuse the data the same way)."""
    from trainwright.exceptions import DataError

    n = audit.counts()["blocking"] if audit is not None else 0
    if n:
        raise DataError(f"{n} blocking finding{'s' if n > 1 else ''} in {data}: 'train' would refuse it; fix "
                        f"{'them' if n > 1 else 'it'} first (listed above and in the report)")


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
