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
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, TONE_DECODER, TONE_STREAM, silence, tone
from scipy.signal import resample_poly
from test_ui_virtual_mic import detected_alone
from ui_support import TEST_RATE, make_window

from kws_app.audio.devices import InputDevice
from kws_app.audio.files import read_audio
from kws_app.audio.sources import ArraySource, AudioSource
from kws_app.config import StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import is_command_label
from kws_app.paths import default_model_path

pytestmark = [pytest.mark.gui, pytest.mark.slow]

WINDOW_SIZE = (1280, 800)
# A typical USB microphone: 48 kHz, so the status bar shows the resampling to the model's rate.
MICROPHONE = InputDevice(0, "USB Audio Device: Microphone", "ALSA", 1, 48000, True)
SHOWN_WORDS = ("yes", "left", "go")
NOISE_FLOOR = 0.0007  # a quiet room, so the spectrogram is not pitch black between words
GAP_S = 1.0
CLIPS_TRIED_PER_WORD = 20
TAIL_S = 3.0
LEAD_S = 2.5
AFTER_LAST_WORD_MS = 250
SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands"


def spoken_words(model: OnnxModel) -> list[np.ndarray] | None:
    """A clip per shown word that the model recognizes on its own (a wrong word would mislead)."""
    labels = model.labels
    words = [word for word in SHOWN_WORDS if word in labels] or [
        label for label in labels if is_command_label(label)
    ][: len(SHOWN_WORDS)]
    clips = []
    for word in words:
        paths = sorted((SPEECH / word).glob("*.flac"))
        for path in paths[len(paths) // 2 :][:CLIPS_TRIED_PER_WORD]:
            samples, rate = read_audio(path)
            if rate == TEST_RATE and detected_alone(model, with_noise(samples), rate) == [word]:
                clips.append(samples)
                break
        else:
            return None
    return clips


def screenshot_audio(model: OnnxModel) -> tuple[np.ndarray, int] | None:
    """The audio and how many words it holds (it goes on listening after the last one); None
    without recordings the model recognizes."""
    clips = spoken_words(model)
    if clips is None:
        return None
    return _with_gaps(clips), len(clips)


def tone_audio() -> tuple[np.ndarray, int]:
    clips = [tone(LOW_TONE_HZ, 1.0), tone(HIGH_TONE_HZ, 1.0)]
    return _with_gaps(clips), len(clips)


def _with_gaps(clips: list[np.ndarray]) -> np.ndarray:
    parts = [silence(LEAD_S)]
    for clip in clips:
        parts += [clip, silence(GAP_S)]
    parts.append(silence(TAIL_S))
    return with_noise(np.concatenate(parts))


def with_noise(audio: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0.0, NOISE_FLOOR, audio.shape).astype(np.float32)
    return audio + noise


def test_screenshot_with_a_detection(qtbot, tmp_path, tone_model_path):
    # The shipped model hearing real speech when both are at hand, else the tone words.
    model_path, spoken = default_model_path(), None
    if model_path.exists():
        spoken = screenshot_audio(OnnxModel(model_path, prefer_gpu=False))
    if spoken is None:
        model_path = tone_model_path
    audio, words = spoken if spoken is not None else tone_audio()
    microphone_audio = resample_poly(audio, MICROPHONE.default_rate // TEST_RATE, 1)

    def microphone(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        return ArraySource(
            microphone_audio, MICROPHONE.default_rate, config, realtime=True, name=MICROPHONE.name
        )

    # The shipped model runs with the app's own decoder defaults, as a user sees it.
    shipped = model_path == default_model_path()
    window = make_window(
        qtbot,
        tmp_path,
        model_path,
        microphone,
        devices=[MICROPHONE],
        stream_config=None if shipped else TONE_STREAM,
        decoder_config=None if shipped else TONE_DECODER,
    )
    window.resize(*WINDOW_SIZE)
    shown: list[str] = []
    window.word_shown.connect(lambda word, score, at: shown.append(word))
    qtbot.waitUntil(lambda: window.controller.worker is not None)
    qtbot.waitUntil(
        lambda: len(shown) >= words or window.controller.worker is None,
        timeout=int(audio.shape[0] / TEST_RATE * 2000),
    )
    assert len(shown) == words, f"detected {shown}"
    qtbot.wait(AFTER_LAST_WORD_MS)
    assert window.words.tiles.is_lit(shown[-1]) and window.controller.worker is not None
    image = window.grab().toImage()
    assert (image.width(), image.height()) == WINDOW_SIZE
    path = tmp_path / "screenshot.png"
    assert image.save(str(path))
    target = os.environ.get("KWS_SCREENSHOT")
    if target:
        assert image.save(target)
