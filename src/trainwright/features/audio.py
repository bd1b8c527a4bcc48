"""Audio clips as features: a column of clip paths -> MFCC summary statistics (for linear and boosted models) or a
standardised log-mel spectrogram (for the CNN), both computed with librosa.

Every clip is read the same way (``read_clip``): soundfile decodes it, the channels are averaged to mono, librosa
resamples it to ``sample_rate`` (soxr), leading and trailing silence is trimmed (quieter than ``trim_db`` below the
clip's peak) and the clip is cut to ``duration`` seconds. The spectrogram is then zero-padded to that fixed
duration, so every clip gives the same image; the MFCC statistics are taken over the sound itself (no padding), so
a short clip is not mistaken for one with a long silence. A clip that cannot be read at prediction time is an
empty clip (silence), never a crash in the middle of a batch: the door (data/audio.py) checks training clips.

Also here: the numbers of the report's Fourier view (the mean log-mel spectrogram of each class) and a matplotlib
drawing of them. librosa, soundfile and matplotlib are imported inside the functions: librosa's first use in a
process costs ~2-4 s (numba), and ~12 s once per fresh environment while numba compiles and caches its kernels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["AudioLogMel", "AudioMFCCStats", "class_spectrograms", "draw_class_spectrograms", "read_clip"]

SAMPLE_RATE = 16_000
_N_FFT = 512
_HOP = 256
_MIN_FRAMES = 9  # librosa's delta needs at least its window's width (9 frames) of MFCCs
_STATS = ("mean", "std")


def read_clip(path: str, sample_rate: int = SAMPLE_RATE, duration: float = 1.2, trim_db: float | None = 30.0) -> np.ndarray:
    """One clip as mono float32 at ``sample_rate``, silence trimmed, at most ``duration`` seconds long; an empty
    array when the file cannot be read."""
    import librosa
    import soundfile

    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception:  # unreadable at prediction time: silence (training clips were checked at the door)
        return np.zeros(0, dtype=np.float32)
    mono = samples.mean(axis=1)
    if len(mono) and rate != sample_rate:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    if trim_db is not None and len(mono) and np.any(mono):
        mono, _ = librosa.effects.trim(mono, top_db=trim_db, frame_length=_N_FFT, hop_length=_HOP // 2)
    return np.ascontiguousarray(mono[: round(duration * sample_rate)], dtype=np.float32)


def _paths(X: Any) -> list[str]:
    if isinstance(X, pd.DataFrame):
        X = X.iloc[:, 0]
    values = np.asarray(X, dtype=object).reshape(-1)
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


class _ClipFeatures(TransformerMixin, BaseEstimator):
    """What both transformers share: how a clip is read (see the module docstring)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, duration: float = 1.2, trim_db: float | None = 30.0) -> None:
        self.sample_rate = sample_rate
        self.duration = duration
        self.trim_db = trim_db

    def _clips(self, X: Any) -> list[np.ndarray]:
        return [read_clip(p, int(self.sample_rate), float(self.duration), self.trim_db) for p in _paths(X)]


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: the spectrogram products are tiny, and a multi-threaded BLAS spun
    its threads on them 25-50x slower than one thread on a busy machine (2 cores, measured)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class AudioMFCCStats(_ClipFeatures):
    """Paths -> the mean and standard deviation over time of ``n_mfcc`` MFCCs and of their first and second deltas,
    then the mean MFCCs of each of ``n_segments`` equal stretches of the clip after the clip's own mean is taken
    away: ``(6 + n_segments) * n_mfcc`` numbers per clip whatever its length (the summary-statistics rung).

    Why the segments: the overall statistics mix the word's sounds with the speaker's timbre, while the shape of
    the MFCCs over time, with the clip's mean removed (cepstral mean normalisation), is the word. On spoken digits
    from two voices never heard in training, a linear model went from 91% to 95% with five segments added."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, duration: float = 1.2, trim_db: float | None = 30.0,
                 n_mfcc: int = 20, n_segments: int = 5) -> None:
        super().__init__(sample_rate, duration, trim_db)
        self.n_mfcc = n_mfcc
        self.n_segments = n_segments

    def fit(self, X: Any, y: Any = None) -> AudioMFCCStats:
        self.n_features_in_ = 1
        self.n_outputs_ = (6 + int(self.n_segments)) * int(self.n_mfcc)
        return self

    def _one(self, clip: np.ndarray) -> np.ndarray:
        import librosa

        minimum = _N_FFT + (max(_MIN_FRAMES, int(self.n_segments)) - 1) * _HOP
        if len(clip) < minimum:  # too short for the deltas' window or the segments: padded with silence
            clip = np.pad(clip, (0, minimum - len(clip)))
        mfcc = librosa.feature.mfcc(y=clip, sr=int(self.sample_rate), n_mfcc=int(self.n_mfcc), n_fft=_N_FFT,
                                    hop_length=_HOP)
        series = (mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2))
        centred = mfcc - mfcc.mean(axis=1, keepdims=True)
        segments = [part.mean(axis=1) for part in np.array_split(centred, int(self.n_segments), axis=1)]
        return np.concatenate([s.mean(axis=1) for s in series] + [s.std(axis=1) for s in series] + segments)

    def transform(self, X: Any) -> np.ndarray:
        with one_blas_thread():
            clips = self._clips(X)
            out = np.empty((len(clips), self.n_outputs_), dtype=np.float64)
            for i, clip in enumerate(clips):
                out[i] = self._one(clip)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        k = range(int(self.n_mfcc))
        names = [f"{kind}{i}_{stat}" for stat in _STATS for kind in ("mfcc", "d1_mfcc", "d2_mfcc") for i in k]
        names += [f"mfcc{i}_part{j}" for j in range(int(self.n_segments)) for i in k]
        return np.asarray(names, dtype=object)


def log_mel(clip: np.ndarray, sample_rate: int, n_samples: int, n_mels: int) -> np.ndarray:
    """A clip zero-padded (or cut) to ``n_samples`` -> its log-mel spectrogram in dB below its loudest cell, floored
    at -80 dB: (n_mels, frames) float32, the same loudness scale for a whispered and a shouted clip."""
    import librosa

    clip = np.pad(clip[:n_samples], (0, max(0, n_samples - len(clip))))
    power = librosa.feature.melspectrogram(y=clip, sr=sample_rate, n_fft=_N_FFT, hop_length=_HOP, n_mels=n_mels)
    ref = float(power.max()) if power.max() > 0 else 1.0
    return librosa.power_to_db(power, ref=ref, top_db=80.0).astype(np.float32)


class AudioLogMel(_ClipFeatures):
    """Paths -> log-mel spectrograms of ``duration`` seconds, each mel band standardised with its mean and spread on
    the training clips; rows of ``n_mels * n_frames_`` float32 (band-major), which the audio CNN reshapes."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, duration: float = 1.2, trim_db: float | None = 30.0,
                 n_mels: int = 40) -> None:
        super().__init__(sample_rate, duration, trim_db)
        self.n_mels = n_mels

    def _spectra(self, X: Any) -> np.ndarray:
        n_samples = round(float(self.duration) * int(self.sample_rate))
        frames = 1 + n_samples // _HOP
        with one_blas_thread():
            clips = self._clips(X)
            out = np.empty((len(clips), int(self.n_mels), frames), dtype=np.float32)
            for i, clip in enumerate(clips):
                out[i] = log_mel(clip, int(self.sample_rate), n_samples, int(self.n_mels))
        return out

    def fit(self, X: Any, y: Any = None) -> AudioLogMel:
        spectra = self._spectra(X)
        self.n_frames_ = int(spectra.shape[2])
        self.mean_ = spectra.mean(axis=(0, 2)).astype(np.float32)
        self.scale_ = np.maximum(spectra.std(axis=(0, 2)), 1e-3).astype(np.float32)
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        spectra = self._spectra(X)
        spectra -= self.mean_[None, :, None]
        spectra /= self.scale_[None, :, None]
        return spectra.reshape(len(spectra), -1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"mel{m}_t{t}" for m in range(int(self.n_mels)) for t in range(self.n_frames_)],
                          dtype=object)


def audio_features(kind: str) -> _ClipFeatures:
    """The transformer a model's ``FeatureNeeds.audio`` names: ``mfcc`` (statistics) or ``logmel`` (spectrogram)."""
    if kind == "mfcc":
        return AudioMFCCStats()
    if kind == "logmel":
        return AudioLogMel()
    raise ValueError(f"unknown audio features {kind!r}; valid: mfcc, logmel")


# --- the report's Fourier view ----------------------------------------------------------------------------------
def class_spectrograms(paths: Sequence[str], labels: Sequence[Any], *, per_class: int = 20,
                       sample_rate: int = SAMPLE_RATE, duration: float = 1.2, n_mels: int = 64) -> dict[str, Any]:
    """The mean log-mel spectrogram (dB) of up to ``per_class`` clips of each class, in the JSON-able form a report
    figure holds: classes, spectra (one n_mels x frames list per class), and the axes' scales."""
    n_samples = round(duration * sample_rate)
    by_class: dict[str, list[str]] = {}
    for path, label in zip(paths, labels, strict=True):
        by_class.setdefault(str(label), []).append(str(path))
    classes = sorted(by_class)
    spectra = []
    with one_blas_thread():
        for label in classes:
            clips = [read_clip(p, sample_rate, duration) for p in by_class[label][:per_class]]
            mean = np.mean([log_mel(c, sample_rate, n_samples, n_mels) for c in clips], axis=0)
            spectra.append(np.round(mean, 2).tolist())
    return {"classes": classes, "spectra": spectra, "sample_rate": sample_rate, "hop_length": _HOP,
            "n_mels": n_mels, "fmax": sample_rate / 2}


def draw_class_spectrograms(d: Mapping[str, Any]) -> bytes:
    """PNG of ``class_spectrograms``' numbers: one panel per class (at most 12), time across, mel bands up, the
    same dB colour scale in every panel. Same signature as the report's drawers (reporting/plots.py)."""
    import io

    from matplotlib.figure import Figure

    classes = list(d["classes"])[:12]
    ncols = min(4, len(classes))
    nrows = -(-len(classes) // ncols)
    fig = Figure(figsize=(7.6, 1.7 * nrows + 0.5), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    seconds = len(d["spectra"][0][0]) * d["hop_length"] / d["sample_rate"] if classes else 0.0
    image = None
    for ax, label, spectrum in zip(axes, classes, d["spectra"], strict=False):
        image = ax.imshow(np.asarray(spectrum), origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0,
                          extent=(0.0, seconds, 0, int(d["n_mels"])))
        ax.set_title(str(label), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(classes):]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("mel band", fontsize=8)
    for ax in axes[len(classes) - ncols:len(classes)]:  # the lowest panel of each column: its time axis
        ax.set_xlabel("seconds", fontsize=8)
        ax.tick_params(labelbottom=True)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="dB")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()
