"""Tiny datasets in the Speech Commands layout, generated in a test's tmp_path.

Each word is a tone at its own pitch (plus a little noise), so a small network can learn them in a
few steps, and files are named `<speaker>_nohash_<n>.wav` like the real dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
WORD_TONES_HZ = {"yes": 440.0, "no": 880.0, "up": 1320.0}
OTHER_WORD_TONES_HZ = {"cat": 2200.0, "dog": 3000.0}


def speaker_id(index: int) -> str:
    return hashlib.sha1(f"speaker-{index}".encode()).hexdigest()[:8]


def tone(frequency: float, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    time = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    envelope = np.hanning(time.size)
    wave = 0.5 * envelope * np.sin(2 * np.pi * frequency * time)
    return (wave + 0.01 * rng.standard_normal(time.size)).astype(np.float32)


def make_dataset(
    root: Path,
    speakers: int = 10,
    clips_per_speaker: int = 1,
    words: dict[str, float] | None = None,
    other_words: dict[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Word folders, `_background_noise_/` and `_silence_/`, no list files (hash split)."""
    rng = np.random.default_rng(seed)
    for word, frequency in {
        **(words or WORD_TONES_HZ),
        **(other_words or OTHER_WORD_TONES_HZ),
    }.items():
        folder = root / word
        folder.mkdir(parents=True, exist_ok=True)
        for speaker in range(speakers):
            for n in range(clips_per_speaker):
                path = folder / f"{speaker_id(speaker)}_nohash_{n}.wav"
                sf.write(path, tone(frequency, rng), SAMPLE_RATE)
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir(exist_ok=True)
    sf.write(noise_dir / "white.wav", 0.3 * rng.standard_normal(3 * SAMPLE_RATE), SAMPLE_RATE)
    silence_dir = root / "_silence_"
    silence_dir.mkdir(exist_ok=True)
    for n in range(4):
        sf.write(silence_dir / f"{n}.wav", 0.01 * rng.standard_normal(SAMPLE_RATE), SAMPLE_RATE)
    return root


EpochFunction = Callable[[Any, int], tuple[float, float]]


def interrupted_at(epoch: int, real_epoch: EpochFunction) -> EpochFunction:
    """`train_epoch` as if the user pressed Ctrl-C at the start of `epoch` (counted from 0)."""

    def run(plan: Any, current: int) -> tuple[float, float]:
        if current == epoch:
            raise KeyboardInterrupt
        return real_epoch(plan, current)

    return run
