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
    fmt: Annotated[str, typer.Option("--format", help="detection bundles: csv (one row per box: file, label, score, "
                                     "x, y, width, height) | coco (COCO result JSON)")] = "csv",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="a directory of Parquet files is scored on "
                                                    "this Ray cluster (default: a Ray of its own on loopback)")] = None,
    score_threshold: Annotated[float | None, typer.Option("--score-threshold", min=0.0, max=1.0,
                                                          help="detection: leave out boxes scored below this "
                                                          "(default 0.3)")] = None,
) -> None:
    """Write predictions (and class probabilities) for every row of DATA; for a detection bundle one row per box,
    for a segmentation bundle one mask PNG per image into the folder OUTPUT."""
    from trainwright.cli._paths import check_output_file
    from trainwright.exceptions import check_bundle_dir, check_data_file

    check_bundle_dir(bundle)  # mistyped paths are refused before seconds of imports
    check_data_file(data)
    if (bundle / "dense.json").is_file():  # detection or segmentation: models/_dense_predict.py
        from trainwright.cli._console import console
        from trainwright.models._dense_predict import write_predictions

        if fmt not in ("csv", "coco"):
            raise typer.BadParameter(f"--format {fmt!r}: choose csv or coco")
        n = write_predictions(bundle, data, output, fmt=fmt, threshold=score_threshold)
        console.print(f"wrote predictions for {n} images to {output}")
        return
    from trainwright.cli._sharded import predict_sharded

    if predict_sharded(bundle, data, output, ray_address):  # a directory of Parquet files -> a directory, on Ray
        return
    check_output_file(output, inputs=(bundle, data), suffixes=OUTPUT_SUFFIXES)
    from trainwright.bundle import load
    from trainwright.cli._console import console, surfaced_warnings

    with surfaced_warnings():
        model = load(bundle)
        n = model.predict_file(data, output, chunksize=chunksize, id_column=id_column)
    console.print(f"wrote {n} predictions to {output}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
