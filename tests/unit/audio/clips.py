"""Spoken digits for the audio tests, made with espeak-ng (a Debian package: ``make test`` installs it).

Each clip is one digit word said by one voice (a language voice plus a voice variant: a different timbre and
accent), at a speed and a pitch, with white noise added at a random signal-to-noise ratio. Tests hold out whole
voices: a model is judged on voices it never heard.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# language voice + variant: accents (American, British, Scottish, Caribbean, RP, New York) and timbres
VOICES = ("en-us+m1", "en-gb+f2", "en-gb-scotland+m3", "en-029+f4", "en-gb-x-rp+m4", "en-us-nyc+f1",
          "en-gb-x-gbclan+m7", "en-us+f3", "en-gb+m2", "en-gb-x-gbcwmd+f5")


@dataclass(frozen=True)
class Clip:
    path: Path
    digit: str
    voice: str


def espeak() -> str:
    """The espeak-ng executable, or a test failure that says how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed: `make test` installs it (apt-get install espeak-ng)")
    return exe


def say(text: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of ``text`` as float32 samples and their rate."""
    import soundfile

    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "clip.wav"
        subprocess.run([espeak(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
                       check=True, capture_output=True, timeout=30)
        samples, rate = soundfile.read(wav, dtype="float32")
    return samples, int(rate)


def with_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise added at ``snr_db`` below the clip's mean power."""
    power = float(np.mean(samples**2)) or 1e-6
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), size=samples.shape)
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


def write_digits(root: Path, voices: Sequence[str], *, digits: Sequence[str] = DIGITS,
                 speeds: Iterable[int] = (150,), pitches: Iterable[int] = (50,), snr_db: tuple[float, float] = (15, 30),
                 flat: bool = False, suffix: str = ".wav", seed: int = 0) -> list[Clip]:
    """A clip per (voice, digit, speed, pitch) under ``root``: ``root/<digit>/<voice>_<speed>_<pitch>.wav`` (class
    folders), or ``root/<digit>_<voice>_<speed>_<pitch>.wav`` with ``flat``."""
    import soundfile

    rng = np.random.default_rng(seed)
    clips = []
    for voice in voices:
        for digit in digits:
            for speed in speeds:
                for pitch in pitches:
                    samples, rate = say(digit, voice, speed, pitch)
                    name = f"{voice}_{speed}_{pitch}{suffix}".replace("+", "-")
                    path = root / f"{digit}_{name}" if flat else root / digit / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    soundfile.write(path, with_noise(samples, float(rng.uniform(*snr_db)), rng), rate)
                    clips.append(Clip(path, digit, voice))
    return clips
