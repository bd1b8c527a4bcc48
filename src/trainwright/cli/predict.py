"""``trainwright predict``: score a file with a saved bundle, streaming, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["OUTPUT_SUFFIXES", "register"]

OUTPUT_SUFFIXES = (".csv", ".parquet", ".pq")  # what Model.predict_file writes: Parquet for these two, else CSV


def predict_command(
    bundle: Annotated[Path, typer.Argument(help="a model bundle: runs/<id>/model")],
    data: Annotated[Path, typer.Argument(help="rows to score (CSV/TSV, Parquet, JSON Lines), or a folder of images "
                                         "(one output row per file: path, prediction, probabilities)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write predictions: .csv, or .parquet/.pq "
                                         "(never one of the inputs)")],
    id_column: Annotated[str | None, typer.Option("--id-column", help="copy this input column into the output")] = None,
    chunksize: Annotated[int, typer.Option(min=1, help="rows per chunk (memory stays bounded)")] = 100_000,
) -> None:
    """Write predictions (and class probabilities) for every row of DATA."""
    from trainwright.cli._paths import check_output_file
    from trainwright.exceptions import check_bundle_dir, check_data_file

    check_bundle_dir(bundle)  # mistyped paths are refused before seconds of imports
    check_data_file(data)
    check_output_file(output, inputs=(bundle, data), suffixes=OUTPUT_SUFFIXES)
    from trainwright.bundle import load
    from trainwright.cli._console import console, surfaced_warnings

    with surfaced_warnings():
        model = load(bundle)
        n = model.predict_file(data, output, chunksize=chunksize, id_column=id_column)
    console.print(f"wrote {n} predictions to {output}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
