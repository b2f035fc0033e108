"""The session layer without Qt: the vocabulary's bounded training, the listener's mailbox and the
recording taps that share its capture."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from ui_support import FAKE_MIC, ScriptedSource
from words_helpers import (
    HUM_HZ,
    RATE,
    TEST_DECODER,
    TEST_STREAM,
    WHISTLE_HZ,
    damage_recordings,
    examples,
)
from words_helpers import words_tone_model as make_words_tone_model

from kws_app.audio.devices import DeviceError, InputDevice
from kws_app.audio.sources import ArraySource, AudioSource
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.session.listener import Listener, ListenerUpdate
from kws_app.session.recording import RecordingTap, record
from kws_app.session.vocabulary import VocabularyJob, build_vocabulary
from kws_app.words.refresh import TrainingBudget
from kws_app.words.store import WordStore

# Hang detection for work on other threads, not a benchmark.
DEADLINE_S = 30.0


@pytest.fixture
def model(tmp_path: Path) -> OnnxModel:
    return OnnxModel(make_words_tone_model(tmp_path / "words_tone.onnx"), prefer_gpu=False)


@pytest.fixture
def store(tmp_path: Path) -> WordStore:
    store = WordStore(tmp_path / "words")
    store.add("whistle", examples(WHISTLE_HZ), RATE)
    store.add("hum", examples(HUM_HZ, seed=3), RATE)
    return store


def test_training_stops_at_the_word_limit_and_says_which_words_wait(model, store) -> None:  # type: ignore[no-untyped-def]
    vocabulary = build_vocabulary(model, store, TrainingBudget(max_words=1))
    assert vocabulary.words == ("whistle",)
    assert vocabulary.scorer.labels == (*model.labels, "whistle")
    assert vocabulary.messages == ("custom words not trained yet (training limit reached): 'hum'",)
    again = build_vocabulary(model, store, TrainingBudget(max_words=1))  # the next change
    assert again.words == ("whistle", "hum") and again.messages == ()


def test_a_word_that_cannot_train_is_skipped_with_one_line(model, store) -> None:  # type: ignore[no-untyped-def]
    damage_recordings(store, "hum")
    vocabulary = build_vocabulary(model, store)
    assert vocabulary.words == ("whistle",)
    (message,) = vocabulary.messages
    assert message.startswith("custom word 'hum' is not used: ") and "\n" not in message


def test_a_new_word_trains_first_and_words_past_the_limit_are_noted(model, store) -> None:  # type: ignore[no-untyped-def]
    vocabulary = build_vocabulary(model, store, TrainingBudget(max_words=1), new_word="hum")
    assert vocabulary.words == ("hum",) and vocabulary.new_word_problem is None
    assert vocabulary.notes() == {"whistle": "waiting (training limit reached)"}
    trainer = vocabulary.trainer
    again = build_vocabulary(model, store, trainer=trainer)  # the next change reuses it
    assert again.trainer is trainer and again.notes() == {}


def test_a_new_word_that_cannot_train_is_left_out_and_the_others_keep_their_heads(
    model, store
) -> None:  # type: ignore[no-untyped-def]
    build_vocabulary(model, store)
    whistle_head = (store.get("whistle").folder / "head.json").read_bytes()
    store.add("lamp", examples(WHISTLE_HZ, seed=8), RATE)
    damage_recordings(store, "lamp")
    vocabulary = build_vocabulary(model, store, new_word="lamp")
    assert vocabulary.words == ("whistle", "hum")
    assert vocabulary.new_word_problem is not None and "\n" not in vocabulary.new_word_problem
    assert "lamp" not in vocabulary.notes()  # the caller takes it out of the store
    assert (store.get("whistle").folder / "head.json").read_bytes() == whistle_head


def test_the_vocabulary_job_trains_off_the_calling_thread(model, store) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()
    results = []

    def on_done(vocabulary) -> None:  # type: ignore[no-untyped-def]
        results.append((vocabulary, threading.current_thread()))
        done.set()

    job = VocabularyJob(model, store, on_done)
    job.start()
    assert done.wait(DEADLINE_S)
    ((vocabulary, thread),) = results
    assert thread is not threading.main_thread()
    assert vocabulary.words == ("whistle", "hum") and vocabulary.base is model


def listen_in_background(listener: Listener) -> threading.Thread:
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    return thread


def test_decoder_settings_reach_a_running_listener_through_its_mailbox(model) -> None:  # type: ignore[no-untyped-def]
    updates: list[ListenerUpdate] = []
    seen = threading.Event()

    def on_update(update: ListenerUpdate) -> None:
        updates.append(update)
        if update.decoder_config.minimum_count == 7:
            seen.set()

    listener = Listener(
        lambda device, config: ScriptedSource(config),
        FAKE_MIC,
        TEST_STREAM,
        TEST_DECODER,
        model,
        on_update=on_update,
    )
    thread = listen_in_background(listener)
    listener.set_decoder_config(DecoderConfig(minimum_count=7))
    assert seen.wait(DEADLINE_S)
    listener.request_stop()
    thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert updates[0].labels == model.labels


def test_a_recording_taps_the_running_listener_instead_of_opening_the_device(model) -> None:  # type: ignore[no-untyped-def]
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), examples(WHISTLE_HZ)[0]])
    opened: list[InputDevice | None] = []

    def microphone(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        opened.append(device)
        return ArraySource(audio, RATE, config, name="Test microphone")

    started = threading.Event()
    listener = Listener(
        microphone,
        FAKE_MIC,
        TEST_STREAM,
        TEST_DECODER,
        model,
        on_started=lambda info: started.set(),
    )
    tap = RecordingTap(0.5)
    listener.add_tap(tap)  # before the start: it is attached once the source is open
    listen_in_background(listener).join(DEADLINE_S)
    assert tap.complete and tap.problem is None and tap.sample_rate == RATE
    np.testing.assert_array_equal(tap.samples(), audio[: RATE // 2])
    assert opened == [FAKE_MIC] and started.is_set()


def test_a_recording_without_a_listener_opens_the_device_off_the_calling_thread() -> None:
    audio = examples(WHISTLE_HZ)[0]
    threads: list[threading.Thread] = []

    def microphone(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        threads.append(threading.current_thread())
        return ArraySource(audio, RATE, config, name="Test microphone")

    tap = RecordingTap(0.25)
    listener = record(microphone, FAKE_MIC, TEST_STREAM, tap)
    assert listener.finished.wait(DEADLINE_S)  # it stops by itself once the tap is full
    assert tap.complete and tap.samples().size == RATE // 4
    assert threads and threads[0] is not threading.main_thread()


def test_a_device_that_fails_tells_the_recording_why() -> None:
    def unplugged(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        raise DeviceError("input device 'Test microphone' is unplugged")

    tap = RecordingTap(1.0)
    assert record(unplugged, FAKE_MIC, TEST_STREAM, tap).finished.wait(DEADLINE_S)
    assert tap.problem == "input device 'Test microphone' is unplugged"
    assert not tap.complete
