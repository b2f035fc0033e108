"""The main window, offscreen: model vocabulary, threshold slider, replay, history, settings."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import soundfile
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, silence, tone
from ui_support import (
    FAKE_MIC,
    OTHER_MIC,
    TEST_RATE,
    make_window,
    replay_factory,
    silence_factory,
    temp_settings,
)

from kws_app.audio.files import read_audio
from kws_app.paths import default_model_path
from kws_app.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


LISTEN_TIMEOUT_MS = 5000
# A few spectrogram redraw periods (kws_app.ui.spectrogram_panel.SPECTROGRAM_DRAW_RATE_HZ).
SPECTROGRAM_WAIT_MS = 1000


def tone_sequence() -> np.ndarray:
    """low, high, low: each tone long enough to fill most of a clip, silence in between."""
    gap = silence(1.5)
    return np.concatenate(
        [
            gap,
            tone(LOW_TONE_HZ, 1.0),
            gap,
            tone(HIGH_TONE_HZ, 1.0),
            gap,
            tone(LOW_TONE_HZ, 1.0),
            gap,
        ]
    )


def wait_listening(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: window.controller.worker is not None and window.controller.last_update is not None,
        timeout=LISTEN_TIMEOUT_MS,
    )


def test_window_shows_vocabulary_and_slider_sets_running_threshold(
    qtbot, tmp_path, tone_model_path
):
    window = make_window(qtbot, tmp_path, tone_model_path, silence_factory())
    assert window.words.tiles.words == ("low", "high")
    assert window.banner.message is None
    wait_listening(qtbot, window)
    assert (
        "CPU" in window.status.provider_label.text()
        or "CUDA" in window.status.provider_label.text()
    )
    assert "tone.onnx" in window.status.model_label.text()

    window.probabilities.threshold_slider.setValue(35)
    assert window.probabilities.threshold_label.text() == "0.35"
    qtbot.waitUntil(
        lambda: (
            window.controller.last_update.decoder_config.detection_threshold == pytest.approx(0.35)
        )
    )

    window.probabilities.average_window_spin.setValue(800)
    qtbot.waitUntil(lambda: window.controller.last_update.decoder_config.average_window_ms == 800)
    qtbot.waitUntil(lambda: "input: 16000 Hz" in window.status.rate_label.text())
    qtbot.waitUntil(lambda: "ms" in window.status.stride_label.text())


@pytest.mark.skipif(
    not default_model_path().exists(), reason=f"{default_model_path()} is not trained yet"
)
def test_window_opens_with_the_default_model(qtbot, tmp_path):
    from kws_app.cli import build_parser
    from kws_app.ui.app import create_window

    args = build_parser().parse_args(
        ["--provider", "cpu", "--words-store", str(tmp_path / "words")]
    )
    window = create_window(
        args,
        temp_settings(tmp_path),
        source_factory=silence_factory(),
        device_lister=lambda: [FAKE_MIC],
    )
    qtbot.addWidget(window)
    window.show()
    words = [label for label in window.controller.model.labels if not label.startswith("_")]
    assert window.words.tiles.words == tuple(words) and len(words) >= 2
    # The Advanced panel says what the shipped thresholds were calibrated for.
    assert "calibrated per word for 1 false accept per hour" in (
        window.probabilities.word_thresholds_label.text()
    )
    wait_listening(qtbot, window)
    window.probabilities.threshold_slider.setValue(90)
    qtbot.waitUntil(
        lambda: (
            window.controller.last_update.decoder_config.detection_threshold == pytest.approx(0.9)
        )
    )


def test_replayed_wav_lights_tiles_and_fills_history_in_order(qtbot, tmp_path, tone_model_path):
    wav = tmp_path / "commands.wav"
    soundfile.write(wav, tone_sequence(), TEST_RATE)
    samples, rate = read_audio(wav)
    window = make_window(qtbot, tmp_path, tone_model_path, replay_factory(samples, rate))
    shown: list[str] = []
    window.word_shown.connect(lambda word, score, at: shown.append(word))
    qtbot.waitUntil(
        lambda: len(shown) == 3 and window.controller.worker is None, timeout=LISTEN_TIMEOUT_MS
    )
    assert shown == ["low", "high", "low"]
    assert [entry.word for entry in window.history.history.entries] == ["low", "high", "low"]
    assert window.history.history.rowCount() == 3
    assert window.words.tiles.is_lit("low")
    assert window.words.last_word_label.text() == "low"
    # The tones are on the spectrogram once it next redraws (at its own, lower rate).
    qtbot.waitUntil(lambda: window.spectrogram.view.image.max() > 0, timeout=SPECTROGRAM_WAIT_MS)

    saved = tmp_path / "history.csv"
    window.history.history.save_csv(saved)
    with saved.open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["word"] for row in rows] == ["low", "high", "low"]
    window.history.clear_button.click()
    assert window.history.history.rowCount() == 0


def test_settings_persist_between_runs(qtbot, tmp_path, tone_model_path):
    settings = temp_settings(tmp_path)
    devices = [FAKE_MIC, OTHER_MIC]
    window = make_window(
        qtbot, tmp_path, tone_model_path, silence_factory(), devices=devices, settings=settings
    )
    window.probabilities.threshold_slider.setValue(55)
    window.probabilities.suppression_spin.setValue(1500)
    window.device_bar.device_combo.setCurrentIndex(1)
    window.device_bar.device_combo.activated.emit(1)
    window.close()

    again = make_window(
        qtbot,
        tmp_path,
        tone_model_path,
        silence_factory(),
        devices=devices,
        settings=temp_settings(tmp_path),
        autostart=False,
        decoder_config=None,  # the saved values, as a real launch uses
    )
    assert again.probabilities.threshold_slider.value() == 55
    assert again.controller.decoder_config.suppression_ms == 1500
    assert again.controller.selected_device == OTHER_MIC
    assert again.controller.settings.model_path == tone_model_path


def test_closing_stops_everything_within_a_second(qtbot, tmp_path, tone_model_path):
    window = make_window(qtbot, tmp_path, tone_model_path, silence_factory())
    wait_listening(qtbot, window)
    worker = window.controller.worker
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.0
    assert worker.isFinished()
