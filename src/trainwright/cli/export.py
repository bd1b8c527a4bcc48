"""``trainwright export``: a bundle as ONNX (checked against the pipeline) or as an MLflow pyfunc model."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


class ExportFormat(StrEnum):
    ONNX = "onnx"
    MLFLOW = "mlflow"


def export_command(
    bundle: Annotated[Path, typer.Argument(help="a model bundle: runs/<id>/model")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="onnx | mlflow")] = ExportFormat.ONNX,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="directory to write (default: beside the "
                                                "bundle, <run>/export-<format>)")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="rows to check the ONNX model on (default: rows drawn "
                                              "from the bundle's reference profile)")] = None,
) -> None:
    """Export BUNDLE. ONNX is written only when it reproduces the pipeline within 1e-5."""
    from trainwright.bundle.export import export_mlflow, export_onnx
    from trainwright.cli._console import console, surfaced_warnings

    target = output or Path(bundle).resolve().parent / f"export-{format.value}"
    with surfaced_warnings():
        if format is ExportFormat.MLFLOW:
            path = export_mlflow(bundle, target)
            console.print(f"wrote MLflow pyfunc model to {path} (serve: mlflow models serve -m {path} "
                          "--env-manager local)", soft_wrap=True, highlight=False)
            return
        from trainwright.data import load_table

        rows = load_table(data) if data is not None else None
        result = export_onnx(bundle, target, rows=rows)
    console.print(f"wrote {result.path}: matches the pipeline on {result.n_checked} rows (largest difference "
                  f"{result.max_abs_difference:.2g})", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
