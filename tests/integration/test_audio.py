"""Audio end to end on spoken digits made with espeak-ng: a folder of class folders of clips trained from the CLI,
``predict`` on a flat folder writing one row per clip, unreadable clips named in one clean error, and the audio CNN
carried through a bundle with identical predictions. The quality bar (voices never heard in training) is ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.integration.cli import assert_clean_failure, run_cli
from tests.unit.audio.clips import DIGITS, VOICES, write_digits
from trainwright.bundle import load, write_bundle
from trainwright.config import load_config
from trainwright.data import Role
from trainwright.data.audio import LABEL_COLUMN, read_audio_folder
from trainwright.models import get_spec
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import prepare

FEW = DIGITS[:4]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_train_on_clip_folders_then_predict_a_flat_folder(tmp_path: Path) -> None:
    write_digits(tmp_path / "clips", VOICES[:4], digits=FEW, speeds=(140, 190), pitches=(40, 60))
    new = write_digits(tmp_path / "new", VOICES[:2], digits=FEW, speeds=(165,), pitches=(50,), flat=True, seed=1)
    proc = run_cli("train", tmp_path / "clips", "--models", "dummy,linear", "--preset", "quick", "--no-tracking",
                   "-o", tmp_path / "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "linear" in proc.stdout
    (bundle,) = (tmp_path / "runs").glob("*/model")
    report = json.loads((bundle.parent / "report.json").read_text())
    figures = [f for s in report["sections"] if s["key"] == "audio" for f in s["figures"]]
    assert [f["kind"] for f in figures] == ["spectrograms"]  # the Fourier view: one panel per class
    assert sorted(figures[0]["data"]["classes"]) == sorted(str(d) for d in FEW)
    schema = json.loads((bundle.parent / "model" / "schema.json").read_text())
    assert [c["role"] for c in schema["columns"]] == [Role.AUDIO.value]
    proc = run_cli("predict", bundle, tmp_path / "new", "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["path", "prediction", *[f"proba_{d}" for d in sorted(FEW)]]
    assert sorted(out["path"]) == sorted(str(c.path.resolve()) for c in new)
    truth = {str(c.path.resolve()): c.digit for c in new}
    accuracy = float(np.mean([truth[p] == d for p, d in zip(out["path"], out["prediction"], strict=True)]))
    assert accuracy >= 0.75, out[["path", "prediction"]]


def test_unreadable_clips_are_named_in_one_clean_error(tmp_path: Path) -> None:
    write_digits(tmp_path / "clips", VOICES[:1], digits=FEW[:2])
    (tmp_path / "clips" / "zero" / "broken.wav").write_bytes(b"RIFF....WAVEfmt nothing after the header")
    (tmp_path / "clips" / "one" / "noise.flac").write_bytes(np.random.default_rng(0).bytes(2000))
    proc = run_cli("train", tmp_path / "clips", "--no-tracking", cwd=tmp_path)
    assert_clean_failure(proc, 2, "2 audio file(s)", "broken.wav", "noise.flac")


def test_the_audio_cnn_survives_a_bundle_with_identical_predictions(tmp_path: Path) -> None:
    write_digits(tmp_path / "clips", VOICES[:3], digits=FEW[:3], speeds=(150, 190))
    frame = read_audio_folder(tmp_path / "clips")
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    spec = get_spec("audio_cnn")
    params = spec.params({"n_estimators": 2, "width": 4, "stages": 2, "batch_size": 8})
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    pipeline, best, _ = fit_pipeline(spec, ctx, prep.X.iloc[:12], prep.y[:12], params,
                                     X_val=prep.X.iloc[12:], y_val=prep.y[12:])
    assert best is not None and 1 <= best <= 2
    proba = predict_matrix(pipeline, prep.X, prep.task)
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "audio_cnn"},
                 "metrics": {}}
    model = load(write_bundle(tmp_path / "model", pipeline, documents))
    native = json.loads((tmp_path / "model" / "native.json").read_text())
    assert native["serializer"] == "audio_cnn" and native["model"]["architecture"]["kind"] == "audio_cnn"
    assert (tmp_path / "model" / "audio_cnn.safetensors").is_file()
    assert not [p for p in (tmp_path / "model").rglob("*") if p.suffix in {".pkl", ".pickle", ".pt"}]
    back = model.predict(frame.drop(columns=[LABEL_COLUMN]))
    np.testing.assert_array_equal(back[[f"proba_{d}" for d in prep.task.classes]].to_numpy(), proba)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_spoken_digits_from_voices_never_heard_in_training(tmp_path: Path) -> None:
    """The quality bar: the default audio ladder, trained on eight voices, names the digits said by two others."""
    import trainwright as tw

    held_out = VOICES[-2:]
    write_digits(tmp_path / "train", VOICES[:-2], speeds=(120, 160, 200), pitches=(35, 65), seed=1)
    clips = write_digits(tmp_path / "held_out", held_out, speeds=(130, 170, 210), pitches=(45, 60), flat=True, seed=2)
    result = tw.train(tmp_path / "train", target=LABEL_COLUMN, preset="quick", time_budget=1800, tracking=False,
                      output_dir=str(tmp_path / "runs"))
    scores = pd.read_csv(result.run_dir / "leaderboard.csv")
    status = dict(zip(scores["model"], scores["status"], strict=True))
    assert status["linear"] == "ok" and status["audio_cnn"] == "ok", status
    out = load(result.bundle).predict(read_audio_folder(tmp_path / "held_out"))
    truth = np.array([c.digit for c in sorted(clips, key=lambda c: c.path.name)])
    accuracy = float(np.mean(out["prediction"].to_numpy() == truth))
    print(f"\nchosen {result.choice.chosen}: {accuracy:.3f} accuracy on {len(truth)} clips of {', '.join(held_out)}")
    print(scores.iloc[:, :8].to_string())
    assert accuracy >= 0.90
