"""The command line's side of Parquet-shard datasets on Ray (``workflow/sharded.py``): ``train shards/ --backend
ray`` trains data-parallel; ``predict BUNDLE shards/ -o out/`` writes a directory of Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["predict_sharded", "train_sharded_command"]


def train_sharded_command(data: Path, cfg: Any) -> bool:
    """Train on ``data`` data-parallel when it is a directory (or glob) of Parquet files and the backend is Ray;
    False when it is not such a run (the in-memory workflow then reads it)."""
    from trainwright.data.shards import parquet_files

    if cfg.backend != "ray":
        return False
    files = parquet_files(data)
    if files is None:
        return False
    from trainwright.cli._console import console
    from trainwright.workflow.sharded import train_sharded

    result = train_sharded(files, cfg, log=lambda line: console.print(line, highlight=False, soft_wrap=True))
    metric = result.task.metric
    console.print(
        f"\n{result.task.kind.value} on {cfg.target!r}: {result.rows:,} rows in {len(files)} Parquet files; split by "
        f"hash into {result.parts['train']:,} train, {result.parts['validation']:,} validation, "
        f"{result.parts['test']:,} test rows\n"
        f"XGBoost on {result.workers} Ray workers ({', '.join(f'{n:,}' for n in result.rows_per_worker)} train rows "
        f"each), {result.rounds} rounds ({result.stopped})\n"
        f"test {metric}: {result.test_scores[metric]:.4f} (prior-only baseline {result.baseline_scores[metric]:.4f})\n"
        f"bundle: {result.bundle}", highlight=False, soft_wrap=True)
    return True


def predict_sharded(bundle: Path, data: Path, output: Path, address: str | None) -> bool:
    """Predict a directory (or glob) of Parquet files into the directory ``output`` on Ray; False when ``data`` is
    not such a dataset."""
    from trainwright.data.shards import parquet_files

    files = parquet_files(data) if data.is_dir() or any(ch in str(data) for ch in "*?[") else None
    if files is None:
        return False
    from trainwright.cli._console import console
    from trainwright.exceptions import ConfigError, Problem
    from trainwright.workflow.sharded import predict_shards

    if output.suffix:
        raise ConfigError(f"{data} is a directory of Parquet files: the predictions are one too", [Problem(
            "predict.output_not_directory", f"--output {output} names a file", column=str(output),
            fix="give a directory that does not exist yet, e.g. -o predictions/")])
    rows = predict_shards(bundle, files, output, address=address)
    console.print(f"wrote {rows:,} predictions to {output}/ ({len(files)} input files, in parallel on Ray)")
    return True
