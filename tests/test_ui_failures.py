"""Every failure a user can meet shows a message in the window, and the app recovers from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import (
    FAKE_MIC,
    OTHER_MIC,
    ScriptedSource,
    make_window,
    sequence_factory,
    silence_factory,
    stall_then_recover_window,
)

pytestmark = pytest.mark.gui


TIMEOUT_MS = 5000
# Short enough to keep the suite fast; the default (2 s) is the same code path.


def listening(window) -> bool:  # type: ignore[no-untyped-def]
    return window.controller.worker is not None and window.controller.last_update is not None


def test_no_input_device_shows_message_and_retry_finds_a_new_one(qtbot, tmp_path, tone_model_path):
    devices: list = []
    window = make_window(
        qtbot, tmp_path, tone_model_path, silence_factory(), devices=lambda: devices
    )
    assert "No microphone found" in (window.banner.message or "")
    assert window.controller.worker is None
    assert window.words.tiles.words == ("low", "high")  # the rest of the window still works

    devices.append(FAKE_MIC)  # the user plugs one in
    window.banner.retry_button.click()
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    assert window.banner.message is None
    assert window.device_bar.device_combo.currentText().startswith(FAKE_MIC.name)


def test_device_refusing_the_rate_shows_message_and_another_device_works(
    qtbot, tmp_path, tone_model_path
):
    sources = iter(
        [
            lambda config: ScriptedSource(
                config, fail_on_start="input device 'Test microphone' refuses 16000 Hz mono"
            ),
            lambda config: ScriptedSource(config),
        ]
    )
    window = make_window(
        qtbot, tmp_path, tone_model_path, sequence_factory(sources), devices=[FAKE_MIC, OTHER_MIC]
    )
    qtbot.waitUntil(lambda: "refuses 16000 Hz" in (window.banner.message or ""), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.controller.worker is None, timeout=TIMEOUT_MS)
    assert window.device_bar.start_button.text() == "Start"

    window.device_bar.device_combo.setCurrentIndex(1)
    window.device_bar.device_combo.activated.emit(1)
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    assert window.banner.message is None


def test_unplugged_device_shows_message_and_retry_recovers(qtbot, tmp_path, tone_model_path):
    sources = iter(
        [
            lambda config: ScriptedSource(config, raise_after_blocks=5),
            lambda config: ScriptedSource(config),
        ]
    )
    window = make_window(qtbot, tmp_path, tone_model_path, sequence_factory(sources))
    qtbot.waitUntil(lambda: "disappeared" in (window.banner.message or ""), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.controller.worker is None, timeout=TIMEOUT_MS)
    window.banner.retry_button.click()
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    assert window.banner.message is None


def test_stalled_stream_shows_message_and_retry_recovers(qtbot, tmp_path, tone_model_path):
    window = stall_then_recover_window(
        qtbot,
        tmp_path,
        tone_model_path,
        lambda config: ScriptedSource(config, stall_after_blocks=3),
    )
    qtbot.waitUntil(lambda: "no audio from" in (window.banner.message or ""), timeout=TIMEOUT_MS)
    assert "0.3 s" in window.banner.message
    window.banner.retry_button.click()
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    assert window.banner.message is None


def truncated_copy(model: Path, target: Path) -> Path:
    data = model.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def test_truncated_model_shows_message_and_another_model_loads(qtbot, tmp_path, tone_model_path):
    broken = truncated_copy(tone_model_path, tmp_path / "broken.onnx")
    window = make_window(qtbot, tmp_path, broken, silence_factory())
    assert "Cannot load the model" in (window.banner.message or "")
    assert "broken.onnx" in window.banner.message
    assert window.banner.open_button.isVisible()
    assert not window.device_bar.start_button.isEnabled()
    assert window.controller.worker is None

    assert window.controller.open_model(tone_model_path)  # what File > Open model... does
    window.controller.start_listening()
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    assert window.banner.message is None
    assert window.words.tiles.words == ("low", "high")


def test_broken_model_while_listening_keeps_the_running_one(qtbot, tmp_path, tone_model_path):
    window = make_window(qtbot, tmp_path, tone_model_path, silence_factory())
    qtbot.waitUntil(lambda: listening(window), timeout=TIMEOUT_MS)
    worker = window.controller.worker
    broken = truncated_copy(tone_model_path, tmp_path / "broken.onnx")
    assert not window.controller.open_model(broken)
    assert "Cannot load the model" in (window.banner.message or "")
    assert window.controller.worker is worker and worker.isRunning()
    assert window.controller.settings.model_path == tone_model_path


def test_model_problem_first_then_the_missing_microphone(qtbot, tmp_path, tone_model_path):
    broken = truncated_copy(tone_model_path, tmp_path / "broken.onnx")
    window = make_window(qtbot, tmp_path, broken, silence_factory(), devices=lambda: [])
    assert "Cannot load the model" in (window.banner.message or "")
    window.controller.reopen_model(tone_model_path)  # File > Open model... with a good file
    assert "No microphone found" in (window.banner.message or "")
