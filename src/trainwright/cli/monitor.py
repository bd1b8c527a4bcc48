"""``trainwright monitor``: drift of new data against the bundle's training data; non-zero exit on drift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def _summary(result: object) -> None:
    from rich.table import Table

    from trainwright.cli._console import console
    from trainwright.drift import PREDICTION

    report = result.report  # type: ignore[attr-defined]
    table = Table(title=f"Drift: {report.n_rows} new rows", title_justify="left")
    for col in ("column", "kind", "PSI", "KS p", "chi2 p", "missing", "verdict"):
        table.add_column(col)
    rows = [*report.columns, *([report.prediction] if report.prediction is not None else [])]
    for c in rows:
        fmt = lambda v: "" if v != v else f"{v:.3g}"  # noqa: E731  (NaN -> blank)
        table.add_row("prediction" if c.name == PREDICTION else c.name, c.kind, fmt(c.psi), fmt(c.ks_pvalue), fmt(c.chi2_pvalue),
                      f"{c.missing_rate_reference:.1%} -> {c.missing_rate_current:.1%}",
                      "[red]drift[/]" if c.drifted else "ok")
    console.print(table)
    if report.metric is not None:
        m = report.metric
        console.print(f"{m.metric}: test {m.reference:.4f} -> new {m.current:.4f}"
                      + (" [red](degraded)[/]" if m.degraded else ""))


def monitor_command(
    bundle: Annotated[Path, typer.Argument(help="a model bundle: runs/<id>/model")],
    data: Annotated[Path, typer.Argument(help="new rows (CSV/TSV, Parquet, JSON Lines); the target column is optional")],
    threshold: Annotated[float, typer.Option(help="PSI at or above which a column has drifted")] = 0.2,
    ks_pvalue: Annotated[float, typer.Option("--ks-pvalue", help="KS / chi-square significance level")] = 0.01,
    missing_rate: Annotated[float, typer.Option("--missing-rate", help="missing-rate change that counts as drift")] = 0.1,
    metric_tolerance: Annotated[float, typer.Option("--metric-tolerance", help="metric drop that counts (labels)")] = 0.05,
    output: Annotated[Path, typer.Option("--output", "-o", help="directory for drift.html and drift.json")] = Path(
        "drift-report"),
) -> None:
    """Report drift of DATA against BUNDLE's reference profile; exit code 6 when drift crosses a threshold."""
    from trainwright.cli._options import check_range
    from trainwright.cli._paths import check_output_dir
    from trainwright.exceptions import check_bundle_dir, check_data_file

    # an invalid threshold is a usage error (2), refused before any work, never read as drift found (6)
    check_range("--threshold", threshold, above=0)
    check_range("--ks-pvalue", ks_pvalue, above=0, below=1)
    check_range("--missing-rate", missing_rate, above=0, at_most=1)
    check_range("--metric-tolerance", metric_tolerance, at_least=0)
    check_bundle_dir(bundle)  # mistyped paths are refused before seconds of imports
    check_data_file(data)
    check_output_dir(output, inputs=(bundle, data), files=("drift.json", "drift.html"))
    from trainwright.cli._console import console, surfaced_warnings
    from trainwright.drift import Thresholds
    from trainwright.monitoring import gate, monitor, write_reports

    thresholds = Thresholds(psi=threshold, ks_pvalue=ks_pvalue, chi2_pvalue=ks_pvalue, missing_rate=missing_rate,
                            metric_tolerance=metric_tolerance)
    with surfaced_warnings():
        result = monitor(bundle, data, thresholds)
        json_path, html_path = write_reports(result, output)
    _summary(result)
    console.print(f"reports: {html_path} {json_path}", highlight=False)
    gate(result)
    console.print("no drift above the thresholds")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
