"""Renders the window, offscreen, with a real detection on screen; the picture in the README.

`KWS_SCREENSHOT=docs/screenshot.png .venv/bin/pytest tests/test_ui_screenshot.py` refreshes the
committed screenshot. With the trained model and ../shared/data it shows spoken words; without
them, the tone model and tones.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, silence, tone
from ui_support import FAKE_MIC, TEST_RATE, make_window, replay_factory

from kws_app.audio.files import read_audio
from kws_app.inference.pipeline import is_command_label
from kws_app.paths import default_model_path

pytestmark = [pytest.mark.gui, pytest.mark.slow]

WINDOW_SIZE = (1280, 800)
SHOWN_WORDS = ("yes", "left", "go")
NOISE_FLOOR = 0.0007  # a quiet room, so the spectrogram is not pitch black between words
GAP_S = 0.8
TAIL_S = 3.0
LEAD_S = 2.5
AFTER_LAST_WORD_MS = 250
SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands"


def spoken_words(labels: tuple[str, ...]) -> list[np.ndarray] | None:
    words = [word for word in SHOWN_WORDS if word in labels] or [
        label for label in labels if is_command_label(label)
    ][: len(SHOWN_WORDS)]
    clips = []
    for word in words:
        paths = sorted((SPEECH / word).glob("*.flac"))
        if not paths:
            return None
        samples, rate = read_audio(paths[len(paths) // 2])
        if rate != TEST_RATE:
            return None
        clips.append(samples / max(1e-3, float(np.abs(samples).max())) * 0.5)
    return clips


def screenshot_audio(labels: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """The audio and how many words it holds; it goes on listening after the last one."""
    clips = spoken_words(labels) if default_model_path().exists() else None
    if clips is None:
        clips = [tone(LOW_TONE_HZ, 1.0), tone(HIGH_TONE_HZ, 1.0)]
    parts = [silence(LEAD_S)]
    for clip in clips:
        parts += [clip, silence(GAP_S)]
    parts.append(silence(TAIL_S))
    audio = np.concatenate(parts)
    noise = np.random.default_rng(0).normal(0.0, NOISE_FLOOR, audio.shape).astype(np.float32)
    return audio + noise, len(clips)


def test_screenshot_with_a_detection(qtbot, tmp_path, tone_model_path):
    model_path = default_model_path() if default_model_path().exists() else tone_model_path
    from kws_app.inference.model import OnnxModel

    labels = OnnxModel(model_path, prefer_gpu=False).labels
    audio, words = screenshot_audio(labels)
    window = make_window(
        qtbot,
        tmp_path,
        model_path,
        replay_factory(audio, TEST_RATE, realtime=True),
        devices=[FAKE_MIC],
    )
    window.resize(*WINDOW_SIZE)
    shown: list[str] = []
    window.word_shown.connect(lambda word, score, at: shown.append(word))
    qtbot.waitUntil(lambda: window.worker is not None)
    qtbot.waitUntil(
        lambda: len(shown) >= words or window.worker is None,
        timeout=int(audio.shape[0] / TEST_RATE * 2000),
    )
    assert len(shown) == words, f"detected {shown}"
    qtbot.wait(AFTER_LAST_WORD_MS)
    assert window.tiles.is_lit(shown[-1]) and window.worker is not None
    image = window.grab().toImage()
    assert (image.width(), image.height()) == WINDOW_SIZE
    path = tmp_path / "screenshot.png"
    assert image.save(str(path))
    target = os.environ.get("KWS_SCREENSHOT")
    if target:
        assert image.save(target)
