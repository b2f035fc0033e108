"""A sound a custom word fired on, given back by the user, becomes one it does not fire on."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from words_helpers import RATE, WHISTLE_HZ, detected_labels, examples, stream, words_tone_model

from kws_app.cli import main
from kws_app.inference.model import OnnxModel
from kws_app.session.recent_audio import RecentAudio
from kws_app.words.archive import export_words
from kws_app.words.refresh import learn, train_words
from kws_app.words.store import (
    FALSE_ALARMS_FILE,
    HEAD_FILE,
    MAX_FALSE_ALARM_SECONDS,
    WordStore,
    WordStoreError,
)
from kws_app.words.trainer import WordTrainer

NEAR_WHISTLE_HZ = 2400.0  # close enough to the whistle that its head fires on it


@pytest.fixture
def model(tmp_path: Path) -> OnnxModel:
    return OnnxModel(words_tone_model(tmp_path / "words_tone.onnx"), prefer_gpu=False)


def test_a_false_alarm_given_back_stops_the_word_firing_on_it_and_keeps_the_word(
    model: OnnxModel, tmp_path: Path
) -> None:
    store = WordStore(tmp_path / "words")
    trainer = WordTrainer(model, model.path)
    heads = learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE).heads
    near = stream(NEAR_WHISTLE_HZ)
    assert detected_labels(trainer.scorer(heads), near) == ["whistle"]
    word = store.get("whistle")
    before = (word.folder / HEAD_FILE).read_bytes()
    store.add_false_alarm(word, near[RATE // 2 : RATE // 2 + int(2.6 * RATE)], RATE)
    # The word keeps its head (it listens with it meanwhile) but trains again on next use.
    assert (word.folder / HEAD_FILE).read_bytes() == before
    refresh = train_words(trainer, store)
    assert refresh.trained == ("whistle",)
    assert detected_labels(trainer.scorer(refresh.heads), near) == []
    assert detected_labels(trainer.scorer(refresh.heads), stream(WHISTLE_HZ)) == ["whistle"]
    assert train_words(trainer, store).trained == ()  # now current: nothing to train


def test_false_alarms_keep_the_newest_seconds_at_the_words_rate_and_stay_on_this_machine(
    model: OnnxModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = WordStore(tmp_path / "words")
    word = store.add("whistle", examples(WHISTLE_HZ), RATE)
    assert store.false_alarms(word) is None
    chunk_s = 4.0
    for index in range(int(MAX_FALSE_ALARM_SECONDS / chunk_s) + 2):
        sound = np.full(int(chunk_s * 48000), 0.01 * (index + 1), np.float32)
        kept_s = store.add_false_alarm(word, sound, 48000)  # the capture's rate, not the word's
    assert kept_s == pytest.approx(MAX_FALSE_ALARM_SECONDS)
    kept = store.false_alarms(word)
    assert kept is not None and kept[1] == RATE
    newest = float(np.median(kept[0][-RATE:]))
    assert newest == pytest.approx(0.01 * (index + 1), abs=1e-3)  # the newest are kept
    with pytest.raises(WordStoreError, match="no audio"):
        store.add_false_alarm(word, np.zeros(0, np.float32), RATE)
    # A word file carries the word, not the sounds of this user's room.
    exported = tmp_path / "whistle.kwswords"
    export_words(store, ["whistle"], exported)
    with zipfile.ZipFile(exported) as archive:
        assert not any(FALSE_ALARMS_FILE in name for name in archive.namelist())
    renamed = store.rename("whistle", "lamp")
    assert store.false_alarms(renamed) is not None
    assert main(["words", "--store", str(store.root), "list"]) == 0
    assert f"{MAX_FALSE_ALARM_SECONDS:.1f} s of false alarms" in capsys.readouterr().out
    # One given back by mistake would teach the word to miss itself: they can be forgotten.
    common = ["words", "--store", str(store.root), "--model", str(model.path)]
    assert main([*common, "forget-alarms", "lamp"]) == 0
    assert "'lamp' forgot its false alarms; words: lamp" in capsys.readouterr().out
    assert store.false_alarms(store.get("lamp")) is None
    assert main([*common, "forget-alarms", "lamp"]) == 0
    assert "'lamp' has no false alarms" in capsys.readouterr().out


def test_a_damaged_false_alarms_file_is_skipped_with_a_warning(
    model: OnnxModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = WordStore(tmp_path / "words")
    word = store.add("whistle", examples(WHISTLE_HZ), RATE)
    (word.folder / FALSE_ALARMS_FILE).write_bytes(b"RIFF, but not a wave file")
    with caplog.at_level(logging.WARNING):
        assert store.false_alarms(word) is None
    assert "ignoring false-alarms.wav" in caplog.text
    ((name, _),) = train_words(WordTrainer(model, model.path), store).heads
    assert name == "whistle"


def test_recent_audio_cuts_the_sound_before_a_time_on_the_pipelines_clock() -> None:
    recent = RecentAudio(seconds=2.0)
    assert recent.before(1000, 500) is None
    rate = 1000  # one sample a millisecond
    recent.attach(rate)
    for start in range(0, 5000, 100):
        assert recent.feed(np.arange(start, start + 100, dtype=np.float32)) is False
    sound = recent.before(4500, 300)
    assert sound is not None and sound[1] == rate
    np.testing.assert_array_equal(sound[0], np.arange(4200, 4500))
    oldest = recent.before(4000, 10_000)  # only the last two seconds are held: from 3000 on
    assert oldest is not None
    np.testing.assert_array_equal(oldest[0], np.arange(3000, 4000))
    assert recent.before(1000, 500) is None  # long gone
    recent.attach(rate)  # a new stream starts its clock again
    assert recent.before(4500, 300) is None
