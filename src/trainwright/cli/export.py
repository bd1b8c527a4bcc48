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
    from trainwright.cli._paths import check_output_dir
    from trainwright.exceptions import check_bundle_dir, check_data_file

    check_bundle_dir(bundle)  # mistyped paths and unusable output folders are refused before seconds of imports
    if data is not None:
        check_data_file(data)
    target = output or Path(bundle).resolve().parent / f"export-{format.value}"
    inputs = (bundle, *([data] if data is not None else []))
    if format is ExportFormat.MLFLOW:  # MLflow writes only into a new (or empty) folder
        check_output_dir(target, inputs=inputs, empty=True)
    else:
        check_output_dir(target, inputs=inputs, files=("model.onnx", "onnx.json"))
    from trainwright.bundle.export import export_mlflow, export_onnx
    from trainwright.cli._console import console, surfaced_warnings

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
