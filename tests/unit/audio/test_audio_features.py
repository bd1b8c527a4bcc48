"""Clip reading (mono, resampled, trimmed, cut), the MFCC statistics and the log-mel spectrogram, checked against
librosa called directly and against what a sine tone must give; the Fourier view's numbers and drawing."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile

from tests.unit.audio.test_audio_door import tone
from trainwright.data import Role, Schema
from trainwright.data.schema import ColumnInfo
from trainwright.features import FeatureNeeds, build_preprocessor
from trainwright.features.audio import (
    AudioLogMel,
    AudioMFCCStats,
    class_spectrograms,
    draw_class_spectrograms,
    read_clip,
)


def test_a_clip_is_read_mono_resampled_and_cut(tmp_path: Path) -> None:
    rate = 8000
    t = np.arange(rate * 2) / rate  # 2 s of a 440 Hz tone, in stereo (one channel silent)
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(tmp_path / "st.wav", np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32), rate)
    clip = read_clip(str(tmp_path / "st.wav"), sample_rate=16_000, duration=1.0)
    assert clip.dtype == np.float32 and clip.shape == (16_000,)  # cut to 1 s at the new rate
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.fft.rfftfreq(len(clip), 1 / 16_000)[spectrum.argmax()] - 440) <= 2
    assert abs(float(np.sqrt(np.mean(clip**2))) - 0.25 / np.sqrt(2)) < 0.01  # channels averaged: half the amplitude
    assert read_clip(str(tmp_path / "missing.wav")).shape == (0,)  # unreadable at prediction time: silence


def test_silence_around_the_sound_is_trimmed(tmp_path: Path) -> None:
    rate = 16_000
    sound = (0.5 * np.sin(2 * np.pi * 300 * np.arange(rate // 2) / rate)).astype(np.float32)
    padded = np.concatenate([np.zeros(rate // 4, np.float32), sound, np.zeros(rate, np.float32)])
    soundfile.write(tmp_path / "padded.wav", padded, rate)
    soundfile.write(tmp_path / "bare.wav", sound, rate)
    trimmed = read_clip(str(tmp_path / "padded.wav"), duration=2.0)
    assert abs(len(trimmed) - len(sound)) < 0.05 * rate
    both = [str(tmp_path / "padded.wav"), str(tmp_path / "bare.wav")]
    trimmed_stats = AudioMFCCStats().fit([]).transform(both)
    kept_stats = AudioMFCCStats(trim_db=None).fit([]).transform(both)
    np.testing.assert_allclose(trimmed_stats[0, :20], trimmed_stats[1, :20], rtol=0.1, atol=1.0)  # silence ignored
    gap = lambda stats: float(np.abs(stats[0, :20] - stats[1, :20]).max())  # noqa: E731
    assert gap(trimmed_stats) < 0.1 * gap(kept_stats)


def test_mfcc_statistics_match_librosa(tmp_path: Path) -> None:
    path = str(tone(tmp_path / "a.wav", 500.0, seconds=0.8, rate=16_000))
    features = AudioMFCCStats(n_mfcc=13, n_segments=4, trim_db=None)
    out = features.fit([path]).transform(pd.Series([path]))
    assert out.shape == (1, 10 * 13) and len(features.get_feature_names_out()) == 10 * 13
    y, _ = soundfile.read(path, dtype="float32")
    mfcc = librosa.feature.mfcc(y=y, sr=16_000, n_mfcc=13, n_fft=512, hop_length=256)
    d2 = librosa.feature.delta(mfcc, order=2)
    close = {"rtol": 1e-4, "atol": 1e-3}
    np.testing.assert_allclose(out[0, :13], mfcc.mean(axis=1), **close)
    np.testing.assert_allclose(out[0, 39:52], mfcc.std(axis=1), **close)
    np.testing.assert_allclose(out[0, 65:78], d2.std(axis=1), **close)
    frames = mfcc.shape[1]  # the last segment: the final quarter of the frames, less the clip's mean
    last = mfcc[:, frames - frames // 4:] if frames % 4 == 0 else np.array_split(mfcc, 4, axis=1)[3]
    np.testing.assert_allclose(out[0, 117:], last.mean(axis=1) - mfcc.mean(axis=1), **close)


def test_log_mel_spectrograms_have_a_fixed_shape_and_are_standardised(tmp_path: Path) -> None:
    paths = [str(tone(tmp_path / f"{i}.wav", 200.0 * (i + 1), seconds=0.2 + 0.4 * i, rate=22_050)) for i in range(3)]
    features = AudioLogMel(n_mels=32, duration=1.0).fit(paths)
    out = features.transform([*paths, str(tmp_path / "gone.wav")])
    assert features.n_frames_ == 1 + 16_000 // 256 and out.shape == (4, 32 * features.n_frames_)
    assert out.dtype == np.float32 and abs(float(out[:3].mean())) < 1e-3
    spectra = out.reshape(4, 32, -1)
    loudest = [int(s.mean(axis=1).argmax()) for s in spectra[:3]]
    assert loudest == sorted(loudest) and len(set(loudest)) == 3  # a higher tone lights a higher mel band
    assert np.ptp(spectra[3], axis=1).max() < 1e-3  # an unreadable clip is silence: one value per band


def test_the_preprocessor_picks_the_features_the_model_asks_for(tmp_path: Path) -> None:
    paths = [str(tone(tmp_path / f"{i}.wav", 300.0 + 100 * i, rate=16_000)) for i in range(4)]
    schema = Schema("y", (ColumnInfo("clip", Role.AUDIO, "object", "test", 4, 0.0),
                          ColumnInfo("gain", Role.NUMERIC, "float64", "test", 4, 0.0)))
    X = pd.DataFrame({"clip": paths, "gain": [0.1, 0.2, 0.3, 0.4]})
    scaled = build_preprocessor(schema, FeatureNeeds(scale=True), X).fit_transform(X)
    assert scaled.shape == (4, 1 + 220) and abs(float(scaled[:, 1:].mean())) < 1e-6  # MFCC statistics, scaled
    spectra = build_preprocessor(schema, FeatureNeeds(audio="logmel"), X).fit_transform(X)
    assert spectra.shape == (4, 1 + 40 * (1 + round(1.2 * 16_000) // 256))


def test_the_fourier_view_has_one_spectrogram_per_class(tmp_path: Path) -> None:
    paths = [str(tone(tmp_path / f"{i}.wav", hz, rate=16_000)) for i, hz in enumerate((250.0, 260.0, 3000.0))]
    data = class_spectrograms(paths, ["low", "low", "high"], n_mels=24, duration=0.5)
    assert data["classes"] == ["high", "low"] and np.asarray(data["spectra"]).shape == (2, 24, 1 + 8000 // 256)
    high, low = (np.asarray(s).mean(axis=1).argmax() for s in data["spectra"])
    assert high > low
    png = draw_class_spectrograms(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
