"""The "Add word..." dialog under pytest-qt, with a simulated microphone (arrays, not PortAudio),
on a real controller (no window, never listening) that learns the word in its vocabulary job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_factory import silence, tone, tone_model
from ui_support import make_controller
from words_helpers import (
    NOISE_RMS,
    RATE,
    WHISTLE_HZ,
    detected_labels,
    examples,
    stream,
    words_tone_model,
)

from kws_app.audio.devices import DeviceError, InputDevice
from kws_app.audio.sources import ArraySource, AudioSource
from kws_app.config import StreamConfig
from kws_app.session.recording import TapOpener, recorder
from kws_app.ui.add_word_dialog import TAKE_SECONDS, AddWordDialog
from kws_app.ui.controller import AppController
from kws_app.words.store import WordStore
from kws_app.words.synthetic import SYNTHETIC_TAKES_KEY, SyntheticVoicesConfig, find_espeak
from kws_app.words.takes import TRIM_MARGIN_SECONDS
from kws_app.words.trainer import to_rate

pytestmark = pytest.mark.gui

MIC_RATE = 48000
TRAIN_TIMEOUT_MS = 30000
# A microphone keeps delivering the room after the queued sound, so no take ends early.
ROOM_TAIL_SECONDS = 12.0
TONE_WORD_SECONDS = 0.5  # words_helpers.tone_word's tone


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    """A tone model whose `_unknown_` fires on loud sounds outside its word bands."""
    return words_tone_model(tmp_path / "words_tone.onnx")


class SimulatedMicrophone:
    """Each time the dialog opens the microphone it hears the next queued sound, then the room."""

    def __init__(self) -> None:
        self.queue: list[np.ndarray] = []
        self.opened = 0
        self._rng = np.random.default_rng(11)

    def factory(self, device: InputDevice | None, config: StreamConfig) -> AudioSource:
        self.opened += 1
        if not self.queue:
            raise DeviceError("input device 'Simulated' is unplugged")
        room = self._rng.normal(0.0, NOISE_RMS, int(ROOM_TAIL_SECONDS * RATE)).astype(np.float32)
        samples = to_rate(np.concatenate((self.queue.pop(0), room)), RATE, MIC_RATE)
        return ArraySource(samples, MIC_RATE, config, realtime=False, name="Simulated")

    def recorder(self) -> TapOpener:
        """What the dialog records through without a window: the device opened per take."""
        return recorder(self.factory, None, StreamConfig())


@pytest.fixture
def controller(tmp_path: Path, words_model_path: Path) -> AppController:
    """The window's controller with the tone model and an empty word store, not listening."""
    mic = SimulatedMicrophone()
    controller = make_controller(tmp_path, mic.factory, store=WordStore(tmp_path / "words"))
    assert controller.open_model(words_model_path)
    return controller


# The dialog records SPEECH_SECONDS of the user talking; the tests ask for less.
USER_SPEECH_TEST_SECONDS = 2


def _dialog(qtbot, controller: AppController, mic: SimulatedMicrophone, **kwargs):  # type: ignore[no-untyped-def]
    dialog = AddWordDialog(controller, mic.recorder(), countdown_s=0, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _record(qtbot, dialog: AddWordDialog, count: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        before = len(dialog.rows)
        dialog.record_button.click()
        qtbot.waitUntil(lambda before=before: len(dialog.rows) == before + 1, timeout=5000)


def test_record_play_delete_train_and_detect(qtbot, controller) -> None:  # type: ignore[no-untyped-def]
    mic = SimulatedMicrophone()
    played: list[tuple[int, int]] = []
    dialog = _dialog(
        qtbot,
        controller,
        mic,
        player=lambda s, r: played.append((s.size, r)),
        speech_seconds=USER_SPEECH_TEST_SECONDS,
    )
    assert not dialog.train_button.isEnabled()
    dialog.name_edit.setText("whistle")
    mic.queue += examples(WHISTLE_HZ, count=6)
    _record(qtbot, dialog, 5)
    row = dialog.rows[0]
    bands, frames = row.image.shape  # what the model sees: mel bands x frames, a clip at least
    assert bands == 40 and frames >= 98
    # A whole take from a 48 kHz microphone at the model's rate, trimmed to the word and margins.
    assert row.take.recorded.samples.size == TAKE_SECONDS * RATE
    assert row.take.samples.size <= (TONE_WORD_SECONDS + 2 * TRIM_MARGIN_SECONDS + 0.05) * RATE
    assert row.take.recorded.level_db > -20.0
    assert dialog.level_meter.level_db > -60.0  # the meter followed the microphone
    row.play_button.click()
    assert played == [(row.take.samples.size, RATE)]  # what is played is what is stored
    dialog.rows[2].delete_button.click()
    assert len(dialog.rows) == 4 and not dialog.train_button.isEnabled()
    assert [r.title.text() for r in dialog.rows] == ["#1", "#2", "#3", "#4"]
    _record(qtbot, dialog, 1)

    # The optional step: the user reads a shown text aloud; it becomes the word's negatives.
    rng = np.random.default_rng(5)
    mic.queue.append((0.01 * rng.standard_normal(10 * RATE)).astype(np.float32))
    dialog.background_button.click()
    assert not dialog.read_aloud_label.isHidden()
    qtbot.waitUntil(lambda: dialog.background is not None, timeout=5000)
    assert dialog.read_aloud_label.isHidden()
    assert dialog.background.samples.size == USER_SPEECH_TEST_SECONDS * RATE
    assert dialog.train_button.isEnabled()

    dialog.train_button.click()
    assert dialog.training is not None  # the controller trains in its job; the dialog stays live
    assert controller.training_words
    assert not dialog.record_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.learned is not None, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.result() == AddWordDialog.DialogCode.Accepted
    word = dialog.store.get("whistle")
    assert word.record.background == "background.wav"
    assert len(word.record.examples) == 5
    stored = [samples for samples, _ in dialog.store.examples(word)]
    assert [s.size for s in stored] == [r.take.samples.size for r in dialog.rows]
    assert controller.scorer.labels[-1] == "whistle"
    assert detected_labels(controller.scorer, stream(WHISTLE_HZ)) == ["whistle"]


def test_countdown_then_recording(qtbot, controller) -> None:  # type: ignore[no-untyped-def]
    mic = SimulatedMicrophone()
    mic.queue += examples(WHISTLE_HZ, count=1)
    dialog = AddWordDialog(controller, mic.recorder(), countdown_s=1)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.recorder.countdown, timeout=1000) as first:
        dialog.record_button.click()
    assert first.args == [1] and dialog.countdown_label.text() == "1"
    assert mic.opened == 0  # nothing is recorded during the countdown
    qtbot.waitUntil(lambda: len(dialog.rows) == 1, timeout=5000)
    assert mic.opened == 1


def test_broken_microphone_and_speaker_are_messages(qtbot, controller) -> None:  # type: ignore[no-untyped-def]
    mic = SimulatedMicrophone()  # nothing queued: opening it fails like an unplugged device

    def no_speaker(samples: np.ndarray, rate: int) -> None:
        raise DeviceError("cannot play audio: no output device")

    dialog = _dialog(qtbot, controller, mic, player=no_speaker)
    dialog.name_edit.setText("whistle")
    dialog.record_button.click()
    qtbot.waitUntil(lambda: "unplugged" in dialog.status_label.text(), timeout=2000)
    assert dialog.record_button.isEnabled() and dialog.rows == []
    mic.queue += examples(WHISTLE_HZ, count=1)
    _record(qtbot, dialog, 1)
    dialog.rows[0].play_button.click()
    assert "no output device" in dialog.status_label.text()


def test_names_the_model_or_store_already_has_are_refused(qtbot, controller) -> None:  # type: ignore[no-untyped-def]
    mic = SimulatedMicrophone()
    mic.queue += examples(WHISTLE_HZ, count=5)
    dialog = _dialog(qtbot, controller, mic)
    _record(qtbot, dialog, 5)
    for name, message in (("low", "already a word of the model"), ("_x", "not a valid")):
        dialog.name_edit.setText(name)
        assert message in dialog.status_label.text()
        assert not dialog.train_button.isEnabled()
    dialog.name_edit.setText("whistle")
    assert dialog.train_button.isEnabled()


def _said_twice() -> np.ndarray:
    rng = np.random.default_rng(9)
    parts = [silence(0.3), tone(WHISTLE_HZ, 0.4, amplitude=0.4), silence(1.0)]
    parts += [tone(WHISTLE_HZ, 0.4, amplitude=0.4), silence(0.9)]
    wave = np.concatenate(parts)
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def test_a_refused_take_says_why_next_to_it_and_is_not_trained(qtbot, controller) -> None:  # type: ignore[no-untyped-def]
    mic = SimulatedMicrophone()
    dialog = _dialog(qtbot, controller, mic)
    dialog.name_edit.setText("whistle")
    good = examples(WHISTLE_HZ, count=5)
    mic.queue += [*good[:2], _said_twice(), *good[2:]]
    _record(qtbot, dialog, 3)
    refused = dialog.rows[2]
    message = "take 3 holds two utterances: record the word once per take"
    assert refused.problem_label.text() == message and not refused.problem_label.isHidden()
    assert dialog.status_label.text() == message
    assert dialog.rows[0].problem_label.isHidden()
    assert len(dialog.examples) == 2
    _record(qtbot, dialog, 3)
    assert len(dialog.examples) == 5 and dialog.train_button.isEnabled()
    assert "refused takes are left out" in dialog.status_label.text()
    dialog.rows[0].delete_button.click()
    assert refused.problem_label.text().startswith("take 2 holds two utterances")
    assert not dialog.train_button.isEnabled()  # four usable takes are not enough


def test_a_word_that_cannot_be_trained_is_taken_out_again_and_the_dialog_says_why(
    qtbot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A model without an embedding cannot learn words: the controller stores the word, its job
    fails to train it, and the word leaves the store again; the dialog stays open with why."""
    path = tone_model(tmp_path / "no_embedding.onnx", with_embedding=False)
    mic = SimulatedMicrophone()
    controller = make_controller(tmp_path, mic.factory, store=WordStore(tmp_path / "words"))
    assert controller.open_model(path)
    dialog = _dialog(qtbot, controller, mic)
    dialog.name_edit.setText("whistle")
    mic.queue += examples(WHISTLE_HZ, count=5)
    _record(qtbot, dialog, 5)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.training is None, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.status_label.text().startswith("could not learn the word: ")
    assert "embedding" in dialog.status_label.text()
    assert dialog.learned is None and dialog.isVisible() and dialog.train_button.isEnabled()
    assert controller.store is not None and controller.store.words() == []
    assert controller.scorer is controller.model


def test_the_word_is_also_taught_by_synthetic_voices_saying_its_spelling(  # type: ignore[no-untyped-def]
    qtbot, controller
) -> None:
    mic = SimulatedMicrophone()
    dialog = _dialog(qtbot, controller, mic, synthetic_voices=True)
    assert dialog.voices_check.isEnabled() and not dialog.voices_check.isChecked(), "opt-in"
    assert not dialog.spelling_edit.isEnabled()
    dialog.voices_check.setChecked(True)
    assert dialog.spelling_edit.isEnabled()
    dialog.name_edit.setText("Whistle")
    assert dialog.spelling_edit.text() == "Whistle", "the spelling follows the name"
    qtbot.keyClicks(dialog.spelling_edit, "-ing")  # the user's own spelling stays theirs
    dialog.name_edit.setText("whistle")
    assert dialog.spelling == "Whistle-ing"
    dialog.voices_check.setChecked(False)
    assert dialog.spelling is None and not dialog.spelling_edit.isEnabled()
    dialog.voices_check.setChecked(True)

    mic.queue += examples(WHISTLE_HZ, count=5)
    _record(qtbot, dialog, 5)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.learned is not None, timeout=TRAIN_TIMEOUT_MS)
    word = dialog.store.get("whistle")
    assert word.record.spelling == "Whistle-ing"
    # The app's own training job heard the synthetic voices too (where espeak-ng is installed).
    head = dialog.store.head(word)
    assert head is not None
    expected = SyntheticVoicesConfig().takes if find_espeak() is not None else 0
    assert head.details[SYNTHETIC_TAKES_KEY] == expected


def test_without_espeak_the_word_learns_from_the_users_takes_alone(  # type: ignore[no-untyped-def]
    qtbot, controller
) -> None:
    mic = SimulatedMicrophone()
    dialog = _dialog(qtbot, controller, mic, synthetic_voices=False)
    assert not dialog.voices_check.isChecked() and not dialog.voices_check.isEnabled()
    assert "install espeak-ng" in dialog.voices_check.toolTip()
    dialog.name_edit.setText("whistle")
    assert dialog.spelling is None
    mic.queue += examples(WHISTLE_HZ, count=5)
    _record(qtbot, dialog, 5)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.learned is not None, timeout=TRAIN_TIMEOUT_MS)
    word = dialog.store.get("whistle")
    assert word.record.spelling is None
    head = dialog.store.head(word)
    assert head is not None and head.details[SYNTHETIC_TAKES_KEY] == 0
