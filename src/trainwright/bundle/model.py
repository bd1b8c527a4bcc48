"""A loaded model: schema checks at the door, predictions with class probabilities, atomic file output."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.bundle._format import read_json, read_pipeline, verify_manifest
from trainwright.data import Role, Schema, Task, coerce_frame, iter_table
from trainwright.data.images import IMAGE_COLUMN, LABEL_COLUMN
from trainwright.drift import ReferenceProfile as Profile
from trainwright.exceptions import SchemaMismatchError
from trainwright.fileio import atomic_output
from trainwright.models.predict import probabilities

__all__ = ["ExtraColumnsWarning", "Model", "atomic_output", "load"]


class ExtraColumnsWarning(UserWarning):
    """Columns the model does not use were present and ignored."""


class Model:
    """A trained pipeline with the schema and task it was trained for."""

    def __init__(self, path: Path, pipeline: Any, schema: Schema, task: Task, metadata: dict[str, Any],
                 metrics: dict[str, Any], profile: Profile | None = None) -> None:
        self.path = path
        self.profile = profile  # the training data's reference distributions (None for bundles without one)
        self.pipeline = pipeline
        self.schema = schema
        self.task = task
        self.metadata = metadata
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"Model({self.metadata.get('model', '?')}, task={self.task.kind.value}, path={self.path})"

    @property
    def fine_tuned_from(self) -> dict[str, Any] | None:
        """The bundle this one was fine-tuned from and the data it saw then (``lineage.parent_lineage``), or None
        for a model trained from scratch."""
        parent = self.metadata.get("fine_tuned_from")
        return dict(parent) if isinstance(parent, dict) else None

    @property
    def output_columns(self) -> list[str]:
        return ["prediction", *[f"proba_{c}" for c in self.task.classes]]

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check and coerce incoming columns: missing ones refused by name, extra ones ignored with a warning."""
        if not isinstance(frame, pd.DataFrame):
            raise SchemaMismatchError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        known = {c.name for c in self.schema.columns} | {self.schema.target}
        extra = [c for c in frame.columns if c not in known]
        if extra:
            warnings.warn(f"ignoring {len(extra)} column(s) the model does not use: {', '.join(map(str, extra[:10]))}",
                          ExtraColumnsWarning, stacklevel=3)
        return coerce_frame(frame, self.schema, strict=True)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A frame with ``prediction`` (and ``proba_<class>`` per class for classifiers), same index as the input."""
        return self.predict_detail(frame)[0]

    def predict_detail(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        """(predictions frame, the coerced features, the raw output: probabilities (n, K) or values (n,))."""
        X = self.prepare(frame)
        if len(X) == 0:  # a header-only file: no rows to score (scikit-learn refuses empty input)
            empty = np.zeros((0, len(self.task.classes))) if self.task.is_classification else np.zeros(0)
            return pd.DataFrame({c: pd.Series(dtype=float) for c in self.output_columns}, index=frame.index), X, empty
        if not self.task.is_classification:
            values = np.asarray(self.pipeline.predict(X), dtype=float)
            return pd.DataFrame({"prediction": values}, index=frame.index), X, values
        proba = self.predict_proba_array(X)
        out = pd.DataFrame({"prediction": self.task.decode(self.task.decide(proba))}, index=frame.index)
        for i, c in enumerate(self.task.classes):
            out[f"proba_{c}"] = proba[:, i]
        return out, X, proba

    def predict_proba_array(self, X: pd.DataFrame) -> np.ndarray:
        return probabilities(self.pipeline, X, len(self.task.classes))

    def _folder_columns(self, source: str | Path) -> tuple[str, str]:
        """(the column a folder of files fills, the model's column it stands for): a folder of audio clips fills
        AUDIO_COLUMN (data/audio.py), a folder of images IMAGE_COLUMN (data/images.py); the model must read one."""
        from trainwright.data.audio import AUDIO_COLUMN, is_audio_folder

        audio = is_audio_folder(source)
        role, column, noun = (Role.AUDIO, AUDIO_COLUMN, "audio clips") if audio else (Role.IMAGE, IMAGE_COLUMN, "images")
        names = self.schema.names(role)
        if len(names) != 1:
            raise SchemaMismatchError(f"a folder of {noun} can only be scored by a model trained on one {role.value} "
                                      f"column (this one has {len(names)}); pass a table instead")
        return column, names[0]

    def predict_chunks(self, source: str | Path, *, chunksize: int = 100_000, id_column: str | None = None) -> Iterator[pd.DataFrame]:
        known = {c.name for c in self.schema.columns}
        folder = self._folder_columns(source) if Path(source).is_dir() else None
        for i, chunk in enumerate(iter_table(source, chunksize=chunksize)):
            if folder is not None:  # one row per file: its path first, then the predictions
                chunk = chunk.rename(columns={folder[0]: folder[1]})
                out = self.predict(chunk.drop(columns=[LABEL_COLUMN], errors="ignore"))
                out.insert(0, "path", chunk[folder[1]].to_numpy())
                yield out
                continue
            if id_column is not None and id_column not in chunk.columns:
                raise SchemaMismatchError(f"id column {id_column!r} is not in {source}")
            features = chunk.drop(columns=[id_column]) if id_column is not None and id_column not in known else chunk
            with warnings.catch_warnings():
                if i:  # the extra-columns warning once per file, not once per chunk
                    warnings.simplefilter("ignore", ExtraColumnsWarning)
                out = self.predict(features)
            if id_column is not None:
                out.insert(0, id_column, chunk[id_column].to_numpy())
            yield out

    def predict_file(self, source: str | Path, output: str | Path, *, chunksize: int = 100_000,
                     id_column: str | None = None) -> int:
        """Score a file chunk by chunk into ``output`` (CSV or Parquet), written atomically. Returns rows written."""
        output = Path(output)
        n = 0
        with atomic_output(output) as tmp:
            if output.suffix.lower() in {".parquet", ".pq"}:
                import pyarrow as pa
                import pyarrow.parquet as pq

                writer = None
                try:
                    for out in self.predict_chunks(source, chunksize=chunksize, id_column=id_column):
                        table = pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False)
                        writer = writer or pq.ParquetWriter(tmp, table.schema)
                        writer.write_table(table)
                        n += len(out)
                finally:
                    if writer is not None:
                        writer.close()
            else:
                with tmp.open("w", encoding="utf-8", newline="") as handle:
                    for i, out in enumerate(self.predict_chunks(source, chunksize=chunksize, id_column=id_column)):
                        out.to_csv(handle, index=False, header=i == 0)
                        n += len(out)
        return n


def load(path: str | Path) -> Model:
    """Load a bundle directory (checked against its manifest and the type allowlist)."""
    path = Path(path)
    verify_manifest(path)
    pipeline = read_pipeline(path)
    schema = Schema.from_dict(read_json(path, "schema"))
    task = Task.from_dict(read_json(path, "task"))
    profile = Profile.from_dict(read_json(path, "profile")) if (path / "profile.json").is_file() else None
    return Model(path, pipeline, schema, task, read_json(path, "metadata"), read_json(path, "metrics"), profile)
