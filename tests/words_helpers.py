"""Tone "words" for custom-word tests: tones at frequencies the tone model has no label for.

The tone model's embedding is the mean log-mel over the clip, so a tone at a new frequency lands
somewhere no base label looks, exactly like a new spoken word for a real model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from model_factory import silence, tone

from kws_app.words.wavio import write_wav

RATE = 16000
WHISTLE_HZ = 2000.0
HUM_HZ = 500.0
OTHER_HZ = 3000.0
LOW_HZ = 1000.0
NOISE_RMS = 0.003


def tone_word(frequency_hz: float, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    """One 1-second "recording": the tone somewhere in the middle, at a random level, in noise."""
    lead = rng.uniform(0.15, 0.35)
    wave = np.concatenate(
        (
            silence(lead),
            tone(frequency_hz, seconds, amplitude=rng.uniform(0.2, 0.6)),
            silence(1.0 - lead - seconds),
        )
    )
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def examples(frequency_hz: float, count: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [tone_word(frequency_hz, rng) for _ in range(count)]


def write_examples(folder: Path, frequency_hz: float, count: int = 5, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, wave in enumerate(examples(frequency_hz, count, seed)):
        write_wav(folder / f"take{index}.wav", wave, RATE)
    return folder


def stream(*frequencies: float, seed: int = 1) -> np.ndarray:
    """1 s of quiet, then each tone (0.6 s) followed by 1.5 s of quiet, in low noise."""
    rng = np.random.default_rng(seed)
    parts = [silence(1.0)]
    for frequency in frequencies:
        parts += [tone(frequency, 0.6, amplitude=0.4), silence(1.5)]
    wave = np.concatenate(parts)
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def detected_labels(scorer, audio: np.ndarray) -> list[str]:  # type: ignore[no-untyped-def]
    from kws_app.inference.pipeline import StreamingPipeline, replay

    pipeline = StreamingPipeline(scorer, RATE)
    return [detection.label for detection in replay(pipeline, audio, RATE // 10)]
