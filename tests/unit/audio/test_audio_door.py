"""Audio at the door: folders of class folders of clips and CSVs of clip paths become tables of (path, label), the
path column's role is inferred from its suffixes, and unreadable clips are named together in one error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from trainwright.config import load_config
from trainwright.data import Role, coerce_frame, infer_schema, load_table
from trainwright.data.audio import AUDIO_COLUMN, LABEL_COLUMN, is_audio_folder, read_audio_folder
from trainwright.exceptions import DataError, check_data_file
from trainwright.workflow import prepare

RATE = 8000


def tone(path: Path, hz: float, seconds: float = 0.3, rate: int = RATE) -> Path:
    """A sine tone written with soundfile (format from the suffix)."""
    t = np.arange(int(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
    return path


def tone_folders(root: Path, n: int = 2) -> Path:
    for label, hz in (("low", 220.0), ("high", 1760.0)):
        for i in range(n):
            tone(root / label / f"{i}.wav", hz * (1 + 0.02 * i))
    return root


def test_a_folder_of_class_folders_of_clips_becomes_a_table(tmp_path: Path) -> None:
    tone_folders(tmp_path / "clips", 3)
    tone(tmp_path / "clips" / "high" / "x.flac", 1700.0)
    (tmp_path / "clips" / "high" / "notes.txt").write_text("not a clip")
    check_data_file(tmp_path / "clips")  # the CLI's door check accepts a folder of clips
    assert is_audio_folder(tmp_path / "clips")
    frame = load_table(tmp_path / "clips")
    assert list(frame.columns) == [AUDIO_COLUMN, LABEL_COLUMN] and len(frame) == 7
    assert frame[LABEL_COLUMN].value_counts().to_dict() == {"high": 4, "low": 3}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame[AUDIO_COLUMN])
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    assert prep.schema.column(AUDIO_COLUMN).role is Role.AUDIO and prep.task.kind.value == "binary"


def test_a_flat_folder_of_clips_has_the_path_column_only(tmp_path: Path) -> None:
    for i, suffix in enumerate((".wav", ".flac", ".ogg")):
        tone(tmp_path / "flat" / f"c{i}{suffix}", 440.0)
    frame = read_audio_folder(tmp_path / "flat")
    assert list(frame.columns) == [AUDIO_COLUMN] and [Path(p).name for p in frame[AUDIO_COLUMN]] == [
        "c0.wav", "c1.flac", "c2.ogg"]


def test_a_csv_of_relative_clip_paths_is_resolved_and_typed(tmp_path: Path) -> None:
    tone_folders(tmp_path / "clips", 2)
    rows = [(f"clips/{label}/{i}.wav", label, float(i)) for label in ("low", "high") for i in range(2)]
    pd.DataFrame(rows, columns=["file", "pitch", "take"]).to_csv(tmp_path / "table.csv", index=False)
    frame = load_table(tmp_path / "table.csv")
    assert frame["file"].iloc[0] == str((tmp_path / "clips" / "low" / "0.wav").resolve())
    schema = infer_schema(frame, "pitch")
    assert schema.column("file").role is Role.AUDIO and schema.column("file").reason.startswith("paths of audio")
    assert schema.column("take").role is Role.NUMERIC
    coerced = coerce_frame(frame.assign(file=[None, *frame["file"].iloc[1:]]), schema)
    assert coerced["file"].iloc[0] == ""  # a missing path reads as an empty clip, never NaN in a path column


def test_unreadable_and_empty_clips_are_named_in_one_error(tmp_path: Path) -> None:
    tone_folders(tmp_path / "clips", 2)
    (tmp_path / "clips" / "low" / "broken.wav").write_bytes(b"RIFF but not really a wave file")
    soundfile.write(tmp_path / "clips" / "high" / "silent.wav", np.zeros(0, dtype=np.float32), RATE)
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "clips")
    error = info.value
    assert "2 audio file(s)" in str(error)
    named = {Path(p.column or "").name: p for p in error.problems}
    assert set(named) == {"broken.wav", "silent.wav"}
    assert "no samples" in named["silent.wav"].message and named["broken.wav"].code == "data.unreadable_audio"


def test_a_folder_with_more_images_than_clips_stays_an_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "mixed" / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4), 40 * i, dtype=np.uint8), "L").save(tmp_path / "mixed" / label / f"{i}.png")
    tone(tmp_path / "mixed" / "a" / "stray.wav", 300.0)
    assert not is_audio_folder(tmp_path / "mixed")
    assert "image" in load_table(tmp_path / "mixed").columns
