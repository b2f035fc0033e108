"""Words menu in the running window: a new word joins the live vocabulary; removing it leaves."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from ui_support import TEST_RATE, make_window
from words_helpers import (
    NOISE_RMS,
    TEST_DECODER,
    TEST_STREAM,
    WHISTLE_HZ,
    examples,
    stream,
    words_tone_model,
)

from kws_app.audio.devices import InputDevice
from kws_app.audio.sources import AudioSource
from kws_app.config import MS_PER_SECOND, StreamConfig
from kws_app.ui.add_word_dialog import TAKE_SECONDS
from kws_app.ui.words_menu import WordsMenu
from kws_app.words.store import WordStore

pytestmark = pytest.mark.gui

TIMEOUT_MS = 30000


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    """A tone model whose `_unknown_` fires on loud sounds outside its word bands."""
    return words_tone_model(tmp_path / "words_tone.onnx")


class LiveMicrophone:
    """The one microphone of the window and its dialogs: a quiet room in real time, and what the
    test says heard as fast as it is read (so a take or a stream takes no wall time)."""

    name = "Test microphone"
    sample_rate = TEST_RATE
    overflows = 0
    drops = 0
    ended = False

    def __init__(self) -> None:
        self.opened = 0
        self._lock = threading.Lock()
        self._said = np.zeros(0, np.float32)
        self._rng = np.random.default_rng(3)
        self._block = TEST_RATE * TEST_STREAM.block_ms // MS_PER_SECOND

    def factory(self, device: InputDevice | None, config: StreamConfig) -> AudioSource:
        self.opened += 1
        return self

    def say(self, samples: np.ndarray) -> None:
        """Heard from now on (what was left of the last saying is cut off), then the room."""
        room = self._rng.normal(0.0, NOISE_RMS, int(TAKE_SECONDS * TEST_RATE))
        with self._lock:
            self._said = np.concatenate((samples, room)).astype(np.float32)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def read(self, timeout_s: float) -> npt.NDArray[np.float32] | None:
        with self._lock:
            block, self._said = self._said[: self._block], self._said[self._block :]
        if block.size:
            return block
        time.sleep(self._block / TEST_RATE)
        return self._rng.normal(0.0, NOISE_RMS, self._block).astype(np.float32)


def test_word_joins_and_leaves_the_running_window(qtbot, tmp_path, words_model_path) -> None:  # type: ignore[no-untyped-def]
    microphone = LiveMicrophone()
    store = WordStore(tmp_path / "words")
    window = make_window(
        qtbot,
        tmp_path,
        words_model_path,
        microphone.factory,
        stream_config=TEST_STREAM,
        decoder_config=TEST_DECODER,
        store=store,
    )
    controller = window.controller
    qtbot.waitUntil(lambda: controller.last_update is not None)
    worker = controller.worker
    menu = WordsMenu(controller, store, window, countdown_s=0)
    dialog = menu.open_add_dialog()
    assert dialog is not None
    dialog.name_edit.setText("whistle")
    for count, example in enumerate(examples(WHISTLE_HZ), start=1):
        dialog.record_button.click()
        microphone.say(example)
        qtbot.waitUntil(lambda count=count: len(dialog.rows) == count, timeout=5000)
    assert microphone.opened == 1  # the dialog recorded from the window's running capture
    dialog.train_button.click()
    qtbot.waitUntil(lambda: "whistle" in window.words.tiles.words, timeout=TIMEOUT_MS)
    assert controller.worker is worker  # the stream was never restarted
    qtbot.waitUntil(lambda: "whistle" in controller.last_update.labels, timeout=5000)

    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "whistle"
    ):
        microphone.say(stream(WHISTLE_HZ))

    manager = menu.open_manager()
    assert manager is not None and manager.word_list.count() == 1
    # Each word is listed with the threshold it was calibrated to when it was trained.
    assert manager.selected() == "whistle"
    assert "threshold 0." in manager.word_list.item(0).text()
    manager.remove("whistle")
    qtbot.waitUntil(lambda: "whistle" not in window.words.tiles.words, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "whistle" not in controller.last_update.labels, timeout=5000)
    manager.accept()


def test_closing_a_dialog_without_a_change_leaves_the_vocabulary_alone(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    store = WordStore(tmp_path / "words")
    window = make_window(qtbot, tmp_path, words_model_path, LiveMicrophone().factory, store=store)
    controller = window.controller
    qtbot.waitUntil(lambda: not controller.training_words)
    rebuilt: list[object] = []
    controller.vocabulary_changed.connect(rebuilt.append)
    menu = WordsMenu(controller, store, window, countdown_s=0)
    for dialog in (menu.open_add_dialog(), menu.open_manager()):
        assert dialog is not None
        dialog.reject()
        assert not controller.training_words  # no rebuild was even started
    assert rebuilt == []


def test_stored_words_train_in_the_background_while_the_window_listens(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    """An untrained stored word (say, just imported) never holds up the window: it opens with the
    model's own words and listens, and the word joins once trained."""
    store = WordStore(tmp_path / "words")
    store.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    window = make_window(qtbot, tmp_path, words_model_path, LiveMicrophone().factory, store=store)
    controller = window.controller
    assert controller.training_words
    assert window.words.tiles.words == ("low", "high")
    qtbot.waitUntil(lambda: "whistle" in window.words.tiles.words, timeout=TIMEOUT_MS)
    assert store.head(store.get("whistle")) is not None
    qtbot.waitUntil(lambda: controller.last_update is not None)
    qtbot.waitUntil(lambda: "whistle" in controller.last_update.labels)
