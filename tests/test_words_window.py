"""Words menu in the running window: a new word joins the live vocabulary; removing it leaves."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from model_factory import HIGH_TONE_HZ
from ui_support import TEST_RATE, make_window
from words_helpers import (
    HUM_HZ,
    LOW_HZ,
    NOISE_RMS,
    OTHER_HZ,
    TEST_DECODER,
    TEST_STREAM,
    WHISTLE_HZ,
    damage_recordings,
    examples,
    high_with_hum,
    stream,
    words_tone_model,
    write_kept_strides,
)

from kws_app.audio.devices import InputDevice
from kws_app.audio.sources import AudioSource
from kws_app.config import MS_PER_SECOND, StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.ui.add_word_dialog import TAKE_SECONDS
from kws_app.ui.main_window import MainWindow
from kws_app.words import trainer as trainer_module
from kws_app.words.archive import export_words
from kws_app.words.calibration import WordCalibrationConfig
from kws_app.words.refresh import TrainingBudget
from kws_app.words.store import WordStore
from kws_app.words.trainer import FALSE_ALARMS_KEY

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


def words_window(
    qtbot,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    model_path: Path,
    store: WordStore,
    microphone: LiveMicrophone | None = None,
    training_budget: TrainingBudget | None = None,
) -> MainWindow:
    """The window on `microphone` (a quiet room unless the test speaks into it) with `store`."""
    return make_window(
        qtbot,
        tmp_path,
        model_path,
        (microphone or LiveMicrophone()).factory,
        stream_config=TEST_STREAM,
        decoder_config=TEST_DECODER,
        store=store,
        training_budget=training_budget,
    )


def _say_takes(qtbot, dialog, microphone: LiveMicrophone) -> None:  # type: ignore[no-untyped-def]
    """Record one take per whistle example through the dialog, speaking into the live microphone."""
    for count, example in enumerate(examples(WHISTLE_HZ), start=1):
        dialog.record_button.click()
        microphone.say(example)
        qtbot.waitUntil(lambda count=count: len(dialog.rows) == count, timeout=5000)


def test_word_joins_and_leaves_the_running_window(qtbot, tmp_path, words_model_path) -> None:  # type: ignore[no-untyped-def]
    microphone = LiveMicrophone()
    store = WordStore(tmp_path / "words")
    window = words_window(qtbot, tmp_path, words_model_path, store, microphone)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.last_update is not None)
    worker = controller.worker
    menu = window.add_words_menu(countdown_s=0)
    dialog = menu.open_add_dialog()
    assert dialog is not None
    dialog.name_edit.setText("whistle")
    _say_takes(qtbot, dialog, microphone)
    assert microphone.opened == 1  # the dialog recorded from the window's running capture
    dialog.train_button.click()
    qtbot.waitUntil(lambda: "whistle" in window.words.tiles.words, timeout=TIMEOUT_MS)
    assert controller.worker is worker  # the stream was never restarted
    qtbot.waitUntil(lambda: "whistle" in controller.last_update.labels, timeout=5000)
    # The Advanced panel lists the word with its own threshold and its own averaging window.
    own_window = f"over {WordCalibrationConfig().average_window_ms} ms"
    assert own_window in window.probabilities.word_thresholds_label.text()

    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "whistle"
    ):
        microphone.say(stream(WHISTLE_HZ))

    manager = menu.open_manager()
    assert manager is not None and manager.word_list.count() == 1
    # Each word is listed with the threshold it was calibrated to when it was trained.
    assert manager.selected() == "whistle"
    assert "threshold 0." in manager.word_list.item(0).text()
    assert "averaged over" in manager.word_list.item(0).text()
    manager.remove("whistle")
    qtbot.waitUntil(lambda: "whistle" not in window.words.tiles.words, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "whistle" not in controller.last_update.labels, timeout=5000)
    manager.accept()


def test_closing_a_dialog_without_a_change_leaves_the_vocabulary_alone(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    store = WordStore(tmp_path / "words")
    window = words_window(qtbot, tmp_path, words_model_path, store)
    controller = window.controller
    qtbot.waitUntil(lambda: not controller.training_words)
    rebuilt: list[object] = []
    controller.vocabulary_changed.connect(rebuilt.append)
    menu = window.add_words_menu(countdown_s=0)
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
    window = words_window(qtbot, tmp_path, words_model_path, store)
    controller = window.controller
    assert controller.training_words
    assert window.words.tiles.words == ("low", "high")
    qtbot.waitUntil(lambda: "whistle" in window.words.tiles.words, timeout=TIMEOUT_MS)
    assert store.head(store.get("whistle")) is not None
    qtbot.waitUntil(lambda: controller.last_update is not None)
    qtbot.waitUntil(lambda: "whistle" in controller.last_update.labels)


def _trained(window, names: set[str]) -> bool:  # type: ignore[no-untyped-def]
    return names <= set(window.words.tiles.words)


def test_a_word_file_is_checked_in_the_background_and_closing_the_manager_loses_nothing(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    elsewhere = WordStore(tmp_path / "elsewhere")
    elsewhere.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    elsewhere.add("hum", examples(HUM_HZ, seed=3), TEST_RATE)
    path = tmp_path / "two.kwswords"
    export_words(elsewhere, [], path)
    store = WordStore(tmp_path / "words")
    window = words_window(qtbot, tmp_path, words_model_path, store)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.last_update is not None)
    worker = controller.worker
    manager = window.add_words_menu(countdown_s=0).open_manager()
    assert manager is not None
    manager.import_file(path)
    # The slot is back before the file is checked: the dialog says so and waits, buttons off.
    assert manager.status_label.text() == "checking two.kwswords..."
    assert not manager.import_button.isEnabled()
    assert controller.importing == path
    manager.reject()  # closed (and gone) while the check runs
    manager.deleteLater()
    qtbot.waitUntil(lambda: _trained(window, {"whistle", "hum"}), timeout=TIMEOUT_MS)
    assert controller.importing is None
    assert sorted(word.name for word in store.words()) == ["hum", "whistle"]
    assert all(len(store.examples(word)) == 5 for word in store.words())
    assert controller.worker is worker  # the stream was never restarted


def test_opening_the_words_dialogs_never_hashes_the_model_on_the_gui_thread(
    qtbot, tmp_path, words_model_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    hashed_on: list[threading.Thread] = []
    model_id_of = trainer_module.model_id_of

    def hash_and_note_the_thread(path: Path) -> str:
        hashed_on.append(threading.current_thread())
        return model_id_of(path)

    monkeypatch.setattr(trainer_module, "model_id_of", hash_and_note_the_thread)
    store = WordStore(tmp_path / "words")
    store.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    window = words_window(qtbot, tmp_path, words_model_path, store)
    menu = window.add_words_menu(countdown_s=0)
    for dialog in (menu.open_add_dialog(), menu.open_manager()):
        assert dialog is not None
        dialog.reject()
    qtbot.waitUntil(lambda: _trained(window, {"whistle"}), timeout=TIMEOUT_MS)
    manager = menu.open_manager()
    assert manager is not None
    manager.rename("whistle", "tweet")
    qtbot.waitUntil(lambda: _trained(window, {"tweet"}), timeout=TIMEOUT_MS)
    manager.accept()
    assert hashed_on and threading.main_thread() not in hashed_on
    assert len(hashed_on) == 1  # the trainer the start-up built served the rename's rebuild


def test_a_new_word_trains_first_within_the_vocabulary_limit(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    """Train goes through the bounded vocabulary job: with a limit of one word, the new word
    trains and the stored one keeps the head it had, instead of every word retraining."""
    microphone = LiveMicrophone()
    store = WordStore(tmp_path / "words")
    store.add("hum", examples(HUM_HZ, seed=3), TEST_RATE)
    window = words_window(
        qtbot, tmp_path, words_model_path, store, microphone, TrainingBudget(max_words=1)
    )
    controller = window.controller
    qtbot.waitUntil(lambda: _trained(window, {"hum"}), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.last_update is not None)
    worker = controller.worker
    hum_head = (store.get("hum").folder / "head.json").read_bytes()
    dialog = window.add_words_menu(countdown_s=0).open_add_dialog()
    assert dialog is not None
    dialog.name_edit.setText("whistle")
    _say_takes(qtbot, dialog, microphone)
    dialog.train_button.click()
    assert controller.training_words
    qtbot.waitUntil(lambda: dialog.learned == "whistle", timeout=TIMEOUT_MS)
    assert window.words.tiles.words == ("low", "high", "hum", "whistle")
    assert (store.get("hum").folder / "head.json").read_bytes() == hum_head
    assert controller.word_notes == {}  # hum listens with its head; nothing waits
    assert controller.worker is worker


def test_words_that_wait_or_cannot_train_say_so_next_to_the_word_until_that_changes(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    store = WordStore(tmp_path / "words")
    store.add("broken", examples(OTHER_HZ, seed=5), TEST_RATE)
    damage_recordings(store, "broken")
    store.add("hum", examples(HUM_HZ, seed=3), TEST_RATE)
    store.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    window = words_window(
        qtbot, tmp_path, words_model_path, store, training_budget=TrainingBudget(max_words=2)
    )
    controller = window.controller
    qtbot.waitUntil(lambda: not controller.training_words, timeout=TIMEOUT_MS)
    assert window.words.tiles.words == ("low", "high", "hum")
    notes = window.words.notes_label
    assert not notes.isHidden()
    lines = notes.text().splitlines()
    assert "whistle: waiting (training limit reached)" in lines
    (broken,) = [line for line in lines if line.startswith("broken: could not train: ")]
    manager = window.add_words_menu(countdown_s=0).open_manager()
    assert manager is not None
    listed = [manager.word_list.item(row).text() for row in range(manager.word_list.count())]
    assert "whistle    waiting (training limit reached)" in listed
    assert f"broken    {broken.removeprefix('broken: ')}" in listed

    manager.remove("broken")  # the situation changes: the next build trains the waiting word
    qtbot.waitUntil(lambda: _trained(window, {"hum", "whistle"}), timeout=TIMEOUT_MS)
    assert notes.isHidden() and controller.word_notes == {}
    listed = [manager.word_list.item(row).text() for row in range(manager.word_list.count())]
    assert len(listed) == 2 and all("threshold 0." in line for line in listed)
    manager.accept()


def _trained_with_its_false_alarms(store: WordStore, name: str) -> bool:
    """Whether the word's head was trained with the false alarms it holds now (or none)."""
    word = store.get(name)
    head = store.head(word)
    return head is not None and head.details.get(FALSE_ALARMS_KEY, 0) == store.false_alarms_id(word)


def test_a_custom_word_heard_by_mistake_is_given_back_from_the_history(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    microphone = LiveMicrophone()
    store = WordStore(tmp_path / "words")
    store.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    window = words_window(qtbot, tmp_path, words_model_path, store, microphone)
    controller = window.controller
    qtbot.waitUntil(lambda: "whistle" in window.words.tiles.words, timeout=TIMEOUT_MS)
    button = window.history.not_word_button
    assert button.isVisible()  # shown only while there are custom words
    assert not button.isEnabled() and button.text() == "Not my word"

    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "whistle"
    ):
        microphone.say(stream(WHISTLE_HZ))
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    assert button.text() == "Not 'whistle'"
    heard = controller.heard
    assert heard is not None and heard.word == "whistle" and heard.sample_rate == TEST_RATE
    # The sound the word was heard in: the model's clip and the word's averaging window before
    # the detection, with the tone in it (the room alone is far quieter).
    span_ms = 1000 + WordCalibrationConfig().average_window_ms
    assert heard.samples.size == span_ms * TEST_RATE // MS_PER_SECOND
    assert np.sqrt(np.mean(heard.samples**2)) > 10 * NOISE_RMS

    button.click()
    assert not button.isEnabled() and button.text() == "Not my word"
    kept = store.false_alarms(store.get("whistle"))
    assert kept is not None
    np.testing.assert_allclose(kept[0], heard.samples, atol=1e-4)  # as 16-bit PCM keeps it
    # The word trains again with that sound among its negatives, and listens on.
    qtbot.waitUntil(lambda: _trained_with_its_false_alarms(store, "whistle"), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not controller.training_words, timeout=TIMEOUT_MS)
    assert "whistle" in window.words.tiles.words

    # Given back by mistake? Manage words lists it and forgets it, and the word trains again.
    manager = window.add_words_menu(countdown_s=0).open_manager()
    assert manager is not None and manager.selected() == "whistle"
    assert "s of false alarms" in manager.word_list.item(0).text()
    assert manager.forget_button.isEnabled()
    manager.forget_button.click()
    assert store.false_alarms(store.get("whistle")) is None
    assert not manager.forget_button.isEnabled()
    qtbot.waitUntil(lambda: _trained_with_its_false_alarms(store, "whistle"), timeout=TIMEOUT_MS)
    manager.accept()
    # A word removed after it was heard leaves nothing to give back.
    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "whistle"
    ):
        microphone.say(stream(WHISTLE_HZ))
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    store.remove("whistle")
    controller.words_changed()
    qtbot.waitUntil(lambda: not button.isEnabled(), timeout=TIMEOUT_MS)
    assert controller.heard is None and button.text() == "Not my word"
    assert not button.isVisible()  # no custom word left


def test_a_retraining_of_every_word_cut_short_by_another_change_still_retrains_them_all(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    store = WordStore(tmp_path / "words")
    store.add("whistle", examples(WHISTLE_HZ), TEST_RATE)
    store.add("hum", examples(HUM_HZ, seed=3), TEST_RATE)
    window = words_window(qtbot, tmp_path, words_model_path, store)
    controller = window.controller
    qtbot.waitUntil(lambda: _trained(window, {"whistle", "hum"}), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not controller.training_words, timeout=TIMEOUT_MS)
    heads = [store.get(name).folder / "head.json" for name in ("whistle", "hum")]
    written = [head.stat().st_mtime_ns for head in heads]
    controller.words_changed(retrain_all=True)  # e.g. an import: every word learns the new one
    controller.words_changed()  # another change (a false alarm given back) before it finished
    qtbot.waitUntil(lambda: not controller.training_words, timeout=TIMEOUT_MS)
    rewritten = [head.stat().st_mtime_ns for head in heads]
    assert all(now > before for now, before in zip(rewritten, written, strict=True))


def vetoes_window(
    qtbot, tmp_path: Path, model_path: Path
) -> tuple[MainWindow, LiveMicrophone, WordStore]:  # type: ignore[no-untyped-def]
    """The window on a tone model with kept strides beside it ("high" can learn a veto), no
    custom words."""
    write_kept_strides(OnnxModel(model_path, prefer_gpu=False))
    microphone = LiveMicrophone()
    store = WordStore(tmp_path / "words")
    return words_window(qtbot, tmp_path, model_path, store, microphone), microphone, store


def test_a_command_word_heard_by_mistake_is_given_back_and_learns_a_veto(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    window, microphone, store = vetoes_window(qtbot, tmp_path, words_model_path)
    controller = window.controller
    button = window.history.not_word_button
    # No custom word, but the model's words can learn vetoes (kept strides beside it).
    qtbot.waitUntil(button.isVisible, timeout=TIMEOUT_MS)
    assert controller.vetoable == ("high",) and not button.isEnabled()

    # The word said, and not given back: the user's own take, held in memory only. (The
    # microphone plays faster than real time: the take is long enough before the false alarm.)
    controller.false_alarm_burst_s = 0.0
    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "high"
    ):
        microphone.say(stream(HIGH_TONE_HZ))
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    own_take = controller.heard
    assert own_take is not None
    with qtbot.waitSignal(
        window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "high"
    ):
        microphone.say(high_with_hum())
    qtbot.waitUntil(lambda: controller.heard is not own_take, timeout=5000)
    assert button.text() == "Not 'high'"
    assert store.command_takes("high").seconds() == 0  # nothing of the voice stored yet
    heard = controller.heard
    assert heard is not None and heard.word == "high"
    # The model's clip and the decoder's averaging window before the detection.
    span_ms = 1000 + TEST_DECODER.average_window_ms
    assert heard.samples.size == span_ms * TEST_RATE // MS_PER_SECOND

    button.click()
    kept = store.command_alarms("high").read()
    assert kept is not None
    np.testing.assert_allclose(kept[0], heard.samples, atol=1e-4)
    # Given back: the take kept before is stored with it, so the veto spares the user's word.
    takes = store.command_takes("high").read()
    assert takes is not None
    np.testing.assert_allclose(takes[0], own_take.samples, atol=1e-4)
    assert own_take.heard_at_s < heard.heard_at_s
    qtbot.waitUntil(lambda: controller.vetoed == ("high",), timeout=TIMEOUT_MS)
    # The same kind of sound no longer shows "high"; the word itself still does.
    shown: list[str] = []
    window.word_shown.connect(lambda word, *_: shown.append(word))
    microphone.say(
        np.concatenate([high_with_hum(seed=2), stream(HIGH_TONE_HZ, LOW_HZ, HIGH_TONE_HZ)])
    )
    qtbot.waitUntil(lambda: len(shown) == 3, timeout=TIMEOUT_MS)
    assert shown == ["high", "low", "high"]
    # The first "high", not given back before the next one came, is another take of the user's
    # ("low" cannot be given back here: the kept strides hold "high" alone).
    assert store.command_takes("high").seconds() == pytest.approx(2 * span_ms / MS_PER_SECOND)

    # Manage words lists it beside the custom words, and forgets it.
    manager = window.add_words_menu(countdown_s=0).open_manager()
    assert manager is not None and manager.command_list.count() == 1
    assert manager.command_list.item(0).text().startswith("high    1.5 s of false alarms")
    manager.forget_command_button.click()
    assert store.command_alarm_seconds(["high"]) == {}
    assert store.command_takes("high").seconds() == 0  # forgotten with them
    qtbot.waitUntil(lambda: controller.vetoed == (), timeout=TIMEOUT_MS)
    assert manager.command_list.count() == 0 and not manager.command_list.isVisible()
    manager.accept()
    # The same model opened from a folder without kept strides: nothing can be given back.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = Path(shutil.copy(words_model_path, elsewhere / words_model_path.name))
    assert controller.open_model(copy)
    assert controller.vetoable == () and not button.isVisible()
    qtbot.waitUntil(lambda: not controller.training_words, timeout=TIMEOUT_MS)
    assert controller.vetoable == () and not button.isVisible()


def test_a_take_heard_just_before_a_false_alarm_given_back_is_not_kept_as_the_users(
    qtbot, tmp_path, words_model_path
) -> None:  # type: ignore[no-untyped-def]
    window, microphone, store = vetoes_window(qtbot, tmp_path, words_model_path)
    controller = window.controller
    qtbot.waitUntil(window.history.not_word_button.isVisible, timeout=TIMEOUT_MS)
    for sound in (stream(HIGH_TONE_HZ), high_with_hum()):  # within seconds: false alarms
        before = controller.heard  # come in bursts, so the first may be one missed
        with qtbot.waitSignal(
            window.word_shown, timeout=TIMEOUT_MS, check_params_cb=lambda word, *_: word == "high"
        ):
            microphone.say(sound)
        qtbot.waitUntil(lambda before=before: controller.heard is not before, timeout=5000)
    window.history.not_word_button.click()
    assert store.command_alarm_seconds(["high"]) and store.command_takes("high").seconds() == 0
