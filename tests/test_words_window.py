"""Words menu in the running window: a new word joins the live vocabulary; removing it leaves."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from test_words_dialog import SimulatedMicrophone
from ui_support import FAKE_MIC, TEST_RATE, temp_settings, tone_model_loader
from words_helpers import TEST_DECODER, TEST_STREAM, WHISTLE_HZ, examples, stream, words_tone_model

from kws_app.audio.devices import InputDevice
from kws_app.audio.sources import ArraySource, AudioSource
from kws_app.config import MS_PER_SECOND, StreamConfig
from kws_app.ui.main_window import MainWindow
from kws_app.ui.words_menu import WordsMenu
from kws_app.words.store import WordStore

pytestmark = pytest.mark.gui

TIMEOUT_MS = 30000


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    """A tone model whose `_unknown_` fires on loud sounds outside its word bands."""
    return words_tone_model(tmp_path / "words_tone.onnx")


class GatedSource(ArraySource):
    """A real-time microphone that hears a quiet room until the gate opens, then `samples`."""

    def __init__(self, samples: np.ndarray, config: StreamConfig, gate: threading.Event) -> None:
        super().__init__(samples, TEST_RATE, config, realtime=True, name="Test microphone")
        self._gate = gate
        self._quiet_block = np.zeros(TEST_RATE * config.block_ms // MS_PER_SECOND, np.float32)

    def read(self, timeout_s: float) -> npt.NDArray[np.float32] | None:
        if not self._gate.is_set():
            threading.Event().wait(self._quiet_block.size / TEST_RATE)
            self.start()  # the replay starts when the gate opens
            return self._quiet_block.copy()
        return super().read(timeout_s)


def test_word_joins_and_leaves_the_running_window(qtbot, tmp_path, words_model_path) -> None:  # type: ignore[no-untyped-def]
    gate = threading.Event()

    def main_microphone(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        return GatedSource(stream(WHISTLE_HZ), config, gate)

    window = MainWindow(
        settings=temp_settings(tmp_path),
        model_loader=tone_model_loader,
        model_path=words_model_path,
        stream_config=TEST_STREAM,
        decoder_config=TEST_DECODER,
        source_factory=main_microphone,
        device_lister=lambda: [FAKE_MIC],
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.worker is not None and window.last_update is not None)
    worker = window.worker
    dialog_microphone = SimulatedMicrophone()
    dialog_microphone.queue += examples(WHISTLE_HZ)
    menu = WordsMenu(
        window, WordStore(tmp_path / "words"), dialog_microphone.factory, countdown_s=0
    )
    dialog = menu.open_add_dialog()
    assert dialog is not None
    dialog.name_edit.setText("whistle")
    for count in range(1, 6):
        dialog.record_button.click()
        qtbot.waitUntil(lambda count=count: len(dialog.rows) == count, timeout=5000)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: "whistle" in window.tiles.words, timeout=TIMEOUT_MS)
    assert window.worker is worker  # the stream was never restarted
    qtbot.waitUntil(lambda: "whistle" in window.last_update.labels, timeout=5000)

    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "whistle"
    ):
        gate.set()

    manager = menu.open_manager()
    assert manager is not None and manager.word_list.count() == 1
    # Each word is listed with the threshold it was calibrated to when it was trained.
    assert manager.selected() == "whistle"
    assert "threshold 0." in manager.word_list.item(0).text()
    manager.remove("whistle")
    assert "whistle" not in window.tiles.words
    qtbot.waitUntil(lambda: "whistle" not in window.last_update.labels, timeout=5000)
    manager.accept()
