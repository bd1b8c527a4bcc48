"""The audio CNN as a scikit-learn estimator: its augmentation checked against a hand-made shift, a real (tiny)
training run through the shared loop, and its architecture read from the spectrogram rows."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from trainwright.models import get_spec
from trainwright.models.audio import AudioCNNClassifier, AudioCNNRegressor, shift_and_noise

N_MELS, N_FRAMES = 8, 12


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_the_time_shift_moves_frames_and_fills_with_the_silence_floor() -> None:
    x = torch.randn(5, N_MELS * N_FRAMES)
    out = shift_and_noise(N_MELS, N_FRAMES, time_shift=0.25, noise=0.0)(x, torch.Generator().manual_seed(3))
    shifts = torch.randint(-3, 4, (5, 1), generator=torch.Generator().manual_seed(3)).numpy().ravel()
    assert len(set(shifts.tolist())) > 1  # the seed draws different shifts for different clips
    spectra, moved = x.view(5, N_MELS, N_FRAMES).numpy(), out.view(5, N_MELS, N_FRAMES).numpy()
    for clip, shift in enumerate(shifts):
        expected = np.repeat(spectra[clip].min(axis=1, keepdims=True), N_FRAMES, axis=1)
        for t in range(N_FRAMES):
            if 0 <= t - shift < N_FRAMES:
                expected[:, t] = spectra[clip][:, t - shift]
        np.testing.assert_array_equal(moved[clip], expected)


def test_the_band_shift_moves_bands_and_fills_with_the_quietest_value() -> None:
    x = torch.randn(6, N_MELS * N_FRAMES)
    out = shift_and_noise(N_MELS, N_FRAMES, time_shift=0.0, noise=0.0, band_shift=2)(x, torch.Generator().manual_seed(1))
    shifts = torch.randint(-2, 3, (6, 1), generator=torch.Generator().manual_seed(1)).numpy().ravel()
    assert len(set(shifts.tolist())) > 1
    spectra, moved = x.view(6, N_MELS, N_FRAMES).numpy(), out.view(6, N_MELS, N_FRAMES).numpy()
    for clip, shift in enumerate(shifts):
        expected = np.full_like(spectra[clip], spectra[clip].min())
        for band in range(N_MELS):
            if 0 <= band - shift < N_MELS:
                expected[band] = spectra[clip][band - shift]
        np.testing.assert_array_equal(moved[clip], expected)


def test_the_noise_has_a_random_strength_per_clip_within_the_bound() -> None:
    x = torch.zeros(64, N_MELS * N_FRAMES)
    out = shift_and_noise(N_MELS, N_FRAMES, time_shift=0.0, noise=0.5)(x, torch.Generator().manual_seed(0))
    spread = out.std(dim=1).numpy()
    assert spread.max() < 0.6 and spread.min() < 0.1 < spread.max() and np.ptp(spread) > 0.2


def _bands(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectrogram-like rows: class 1 lights the top mel bands, class 0 the bottom ones, at a random time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.3, (n, N_MELS, N_FRAMES)).astype(np.float32)
    for i, label in enumerate(y):
        start = rng.integers(0, N_FRAMES - 4)
        rows = slice(N_MELS // 2, N_MELS) if label else slice(0, N_MELS // 2)
        X[i, rows, start:start + 4] += 2.0
    return X.reshape(n, -1), np.where(y == 1, "high", "low")


def test_a_tiny_audio_cnn_trains_and_predicts() -> None:
    X, y = _bands(96, 0)
    Xv, yv = _bands(32, 1)
    est = AudioCNNClassifier(n_mels=N_MELS, width=4, stages=2, max_epochs=2, batch_size=16, n_jobs=1, device="cpu")
    est.fit(X, y, eval_set=(Xv, yv))
    assert est.architecture() == {"kind": "audio_cnn", "n_mels": N_MELS, "n_frames": N_FRAMES, "n_out": 2,
                                  "width": 4, "stages": 2, "dropout": 0.2}
    proba = est.predict_proba(Xv)
    assert proba.shape == (32, 2) and np.allclose(proba.sum(axis=1), 1.0) and 1 <= est.best_epoch_ <= 2
    assert set(est.predict(Xv)) <= {"high", "low"} and len(est.history_) >= 1
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(Xv), proba)  # the trainer sizes it
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "module_")
    np.testing.assert_array_equal(twin.fit(X, y, eval_set=(Xv, yv)).predict_proba(Xv), proba)  # seeded


def test_the_regressor_predicts_in_the_targets_units() -> None:
    X, labels = _bands(64, 2)
    y = np.where(labels == "high", 100.0, 50.0)
    est = AudioCNNRegressor(n_mels=N_MELS, width=4, stages=2, max_epochs=1, batch_size=16, n_jobs=1).fit(X, y)
    assert est.predict(X).shape == (64,) and 40 < float(est.predict(X).mean()) < 110


def test_rows_that_are_not_spectrograms_are_refused() -> None:
    est = AudioCNNClassifier(n_mels=7, max_epochs=1, n_jobs=1)
    with pytest.raises(ValueError, match="not a log-mel spectrogram of 7 bands"):
        est.fit(np.zeros((8, 20), np.float32), np.arange(8) % 2)


def test_the_rung_reads_log_mel_spectrograms() -> None:
    spec = get_spec("audio_cnn")
    assert spec.needs.audio == "logmel" and spec.early_stopping is not None and "audio_only" in spec.tags
