"""A command word that fired on the wrong sound, given back by the user, learns a veto: it stops
firing on that sound and still hears the word as other people say it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ
from words_helpers import (
    RATE,
    WHISTLE_HZ,
    detected_labels,
    examples,
    heard_sound,
    high_with_hum,
    stream,
    words_tone_model,
    write_kept_strides,
)

from kws_app.cli import main
from kws_app.inference.model import OnnxModel
from kws_app.session.vocabulary import build_vocabulary
from kws_app.words.scorer import CustomWordScorer
from kws_app.words.store import (
    COMMAND_ALARMS_DIR,
    MAX_FALSE_ALARM_SECONDS,
    WordStore,
    WordStoreError,
)
from kws_app.words.trainer import WordTrainer, model_id_of
from kws_app.words.vetoes import (
    CommandVeto,
    KeptStridesError,
    VetoConfig,
    apply_vetoes,
    fit_veto,
    kept_labels,
    kept_strides_path,
    load_kept_strides,
    stride_windows,
)


@pytest.fixture
def model(tmp_path: Path) -> OnnxModel:
    return OnnxModel(words_tone_model(tmp_path / "words_tone.onnx"), prefer_gpu=False)


def test_a_command_word_given_back_stops_firing_on_that_sound_and_still_hears_the_word(
    model: OnnxModel,
) -> None:
    write_kept_strides(model)
    trainer = WordTrainer(model, model.path)
    assert trainer.kept is not None and trainer.kept.labels == ("high",)
    assert detected_labels(model, high_with_hum()) == ["high"]  # the false alarm
    veto = trainer.command_veto("high", ([heard_sound(high_with_hum())], RATE))
    assert veto is not None and veto.label == "high"
    scorer = trainer.scorer([], [veto])
    assert scorer.vetoed == ("high",) and scorer.word_names == ()
    assert detected_labels(scorer, high_with_hum(seed=2)) == []
    assert detected_labels(scorer, stream(HIGH_TONE_HZ, LOW_TONE_HZ)) == ["high", "low"]
    # A word the kept strides do not hold cannot learn a veto (there is nothing to keep).
    assert trainer.vetoable == ("high",)
    assert trainer.command_veto("low", ([heard_sound(high_with_hum())], RATE)) is None


def test_a_veto_fires_on_the_false_alarms_and_on_at_most_its_share_of_the_kept_strides() -> None:
    rng = np.random.default_rng(0)
    kept = rng.normal(0.0, 1.0, (400, 8)).astype(np.float32)
    alarms = rng.normal(0.0, 1.0, (30, 8)).astype(np.float32) + np.float32(4.0)
    config = VetoConfig(max_vetoed_share=0.02)
    veto = fit_veto("on", alarms, kept, config)
    assert veto.fires(alarms).all()
    assert veto.fires(kept).mean() <= config.max_vetoed_share
    with pytest.raises(ValueError, match="needs false alarms and kept strides"):
        fit_veto("on", alarms[:0], kept, config)


def test_the_users_own_takes_keep_a_veto_off_the_users_own_word() -> None:
    rng = np.random.default_rng(1)
    voice = np.float32(2.5)  # the user's voice moves every sound of theirs the same way
    kept = rng.normal(0.0, 1.0, (400, 8)).astype(np.float32)
    alarms = rng.normal(0.0, 1.0, (30, 8)).astype(np.float32) + np.float32(4.0) + voice
    own = rng.normal(0.0, 1.0, (40, 8)).astype(np.float32) + voice
    config = VetoConfig(max_vetoed_share=0.02)
    blind = fit_veto("on", alarms, kept, config)
    assert blind.fires(own).mean() > 0.5  # it learned the voice as much as the sound
    sounds = np.arange(len(alarms)) // 5  # five strides of each sound given back
    takes = np.arange(20) // 5
    spared = fit_veto("on", alarms, kept, config, own[:20], sounds, takes)
    assert spared.fires(own[20:]).mean() <= 0.1  # the user's other takes pass
    assert spared.fires(alarms).mean() >= 0.9  # and the false alarms are still stopped
    # A take is only a detection not given back: a false alarm the user missed among them
    # may not let the others through (at least half the sounds given back stay stopped).
    missed = alarms[:5] + rng.normal(0.0, 0.1, (5, 8)).astype(np.float32)
    loose = fit_veto(
        "on",
        alarms,
        kept,
        config,
        np.concatenate([own[:20], missed]),
        sounds,
        np.concatenate([takes, np.full(5, takes.max() + 1)]),
    )
    stopped = [loose.fires(alarms[sounds == i]).any() for i in np.unique(sounds)]
    assert np.mean(stopped) >= VetoConfig().min_stopped_share


@pytest.mark.parametrize("sounds_given_back", [1, 3, 5])
def test_takes_that_copy_the_false_alarms_still_leave_half_of_them_stopped(
    sounds_given_back: int,
) -> None:
    rng = np.random.default_rng(sounds_given_back)
    kept = rng.normal(0.0, 1.0, (300, 8)).astype(np.float32)
    alarms = rng.normal(4.0, 1.0, (5 * sounds_given_back, 8)).astype(np.float32)
    sounds = np.arange(len(alarms)) // 5
    # The worst case: every take the user kept was one of those false alarms, missed.
    copies = alarms + rng.normal(0.0, 0.05, alarms.shape).astype(np.float32)
    veto = fit_veto("on", alarms, kept, VetoConfig(), copies, sounds, sounds)
    stopped = sum(veto.fires(alarms[sounds == i]).any() for i in range(sounds_given_back))
    assert stopped >= np.ceil(VetoConfig().min_stopped_share * sounds_given_back)


def test_a_veto_moves_the_word_to_unknown_where_it_fires_and_nowhere_else() -> None:
    labels = ("_silence_", "_unknown_", "on", "off")
    veto = CommandVeto(
        "on",
        weights=np.array([1.0], np.float32),
        bias=0.0,
        mean=np.zeros(1, np.float32),
        scale=np.ones(1, np.float32),
        threshold=0.5,
    )
    rows = np.array([[0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.7, 0.1]], np.float32)
    embeddings = np.array([[1.0], [0.0]], np.float32)  # the veto fires on the first row only
    out = apply_vetoes(rows, embeddings, labels, [veto])
    np.testing.assert_allclose(out[0], [0.1, 0.8, 0.0, 0.1])
    np.testing.assert_allclose(out[1], rows[1])
    np.testing.assert_allclose(out.sum(axis=1), rows.sum(axis=1))


def test_a_false_alarm_is_embedded_as_the_clips_the_pipeline_scored_over_it(
    model: OnnxModel,
) -> None:
    frontend = model.frontend
    clip = frontend.clip_samples
    stride = 50 * RATE // 1000
    sound = np.arange(clip + 3 * stride + 7, dtype=np.float32)
    windows = stride_windows(sound, frontend, 50)
    assert len(windows) == 4 and all(window.size == clip for window in windows)
    np.testing.assert_array_equal(windows[-1], sound[-clip:])  # the latest ends with the sound
    np.testing.assert_array_equal(windows[-2], sound[-clip - stride : -stride])
    assert stride_windows(sound[: clip - 1], frontend, 50) == []


def test_kept_strides_are_used_only_with_the_model_they_were_made_for(
    model: OnnxModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_kept_strides(model)
    model_id = model_id_of(model.path)
    kept = load_kept_strides(path, model_id, WordTrainer(model, model.path).embedding_size)
    assert kept is not None and kept.labels == ("high",)
    assert kept_labels(path, model_id) == ("high",)
    assert kept_labels(path, "another model") == ()
    assert load_kept_strides(path, "another model", 1) is None
    assert load_kept_strides(tmp_path / "missing.npz", model_id, 1) is None
    with pytest.raises(KeptStridesError, match="does not fit"):
        load_kept_strides(path, model_id, 3)
    # A damaged file costs the vetoes, with one warning, never the custom words.
    whole = path.read_bytes()
    for damaged in (b"PK, but not an archive", whole[: len(whole) // 2]):  # a partial copy too
        path.write_bytes(damaged)
        with pytest.raises(KeptStridesError, match="cannot be read"):
            load_kept_strides(path, model_id, 1)
        assert kept_labels(path, model_id) == ()
        with caplog.at_level(logging.WARNING):
            trainer = WordTrainer(model, model.path)
        assert trainer.kept is None and "command words cannot learn false alarms" in caplog.text
        store = WordStore(tmp_path / f"words-{len(damaged)}")
        store.add("whistle", examples(WHISTLE_HZ), RATE)
        store.add_command_alarm("high", heard_sound(high_with_hum()), RATE, RATE)
        vocabulary = build_vocabulary(model, store)
        assert vocabulary.words == ("whistle",) and vocabulary.vetoed == ()
        assert any("'high' cannot learn" in message for message in vocabulary.messages)


def test_command_word_false_alarms_keep_the_newest_seconds_beside_the_words(
    tmp_path: Path,
) -> None:
    store = WordStore(tmp_path / "words")
    assert store.command_alarm_seconds(["on", "off"]) == {}
    chunk_s = 4.0
    for index in range(int(MAX_FALSE_ALARM_SECONDS / chunk_s) + 2):
        sound = np.full(int(chunk_s * 48000), 0.01 * (index + 1), np.float32)
        kept_s = store.add_command_alarm("on", sound, 48000, RATE)  # the capture's rate
    assert kept_s == pytest.approx(MAX_FALSE_ALARM_SECONDS)
    kept = store.command_alarms("on").read()
    assert kept is not None and kept[1] == RATE
    assert float(np.median(kept[0][-RATE:])) == pytest.approx(0.01 * (index + 1), abs=1e-3)
    assert store.command_alarm_seconds(["on", "off"]) == {"on": pytest.approx(30.0)}
    # They live in a folder of their own that is never taken for a word.
    assert (store.root / COMMAND_ALARMS_DIR).is_dir() and store.words() == []
    store.add("whistle", [stream(WHISTLE_HZ)[:RATE]] * 5, RATE)
    assert [word.name for word in store.words()] == ["whistle"]
    store.add_command_take("on", sound, 48000, RATE)
    assert store.command_takes("on").seconds() == pytest.approx(chunk_s)
    assert store.command_takes("on").max_seconds < MAX_FALSE_ALARM_SECONDS
    assert store.forget_command_alarms("on")  # the takes go with the false alarms
    assert store.command_takes("on").seconds() == 0
    assert not store.forget_command_alarms("on")
    assert store.command_alarm_seconds(["on"]) == {}


def test_each_false_alarm_is_kept_apart_so_no_clip_spans_two_of_them(tmp_path: Path) -> None:
    store = WordStore(tmp_path / "words")
    first, second = np.full(RATE, 0.1, np.float32), np.full(2 * RATE, 0.2, np.float32)
    store.add_command_alarm("on", first, RATE, RATE)
    store.add_command_alarm("on", second, RATE, RATE)
    alarms = store.command_alarms("on")
    parts = alarms.parts()
    assert parts is not None and [part.size for part in parts[0]] == [RATE, 2 * RATE]
    np.testing.assert_allclose(parts[0][1], second, atol=1e-4)
    # Past the limit the oldest audio goes, and the lengths follow.
    for _ in range(int(MAX_FALSE_ALARM_SECONDS / 2)):
        store.add_command_alarm("on", second, RATE, RATE)
    parts = alarms.parts()
    assert (
        parts is not None and sum(part.size for part in parts[0]) == MAX_FALSE_ALARM_SECONDS * RATE
    )
    assert all(part.size == 2 * RATE for part in parts[0])
    # Lengths that do not add up (a crash between the two writes): the file is one sound.
    alarms.lengths_path.write_text('{"lengths": [5, 7]}')
    parts = alarms.parts()
    assert parts is not None and len(parts[0]) == 1
    assert alarms.forget() and not alarms.lengths_path.exists()


def test_the_vocabulary_carries_a_veto_for_each_command_word_given_back(
    model: OnnxModel, tmp_path: Path
) -> None:
    store = WordStore(tmp_path / "words")
    # No kept strides beside the model: its command words cannot learn vetoes.
    plain = build_vocabulary(model, store)
    assert plain.scorer is model and plain.vetoable == () and plain.vetoed == ()
    write_kept_strides(model)
    ready = build_vocabulary(model, store)
    # Nothing given back yet: the model alone listens (no embedding to compute per stride).
    assert ready.scorer is model and ready.vetoable == ("high",) and ready.vetoed == ()
    store.add_command_alarm("high", heard_sound(high_with_hum()), RATE, RATE)
    vetoed = build_vocabulary(model, store)
    assert vetoed.vetoable == ("high",) and vetoed.vetoed == ("high",) and vetoed.words == ()
    assert isinstance(vetoed.scorer, CustomWordScorer)
    assert detected_labels(vetoed.scorer, high_with_hum(seed=3)) == []
    assert detected_labels(vetoed.scorer, stream(HIGH_TONE_HZ)) == ["high"]
    (veto,) = vetoed.scorer.vetoes
    # Built again with nothing changed, the trainer's veto is reused; a take of the user's
    # kept since is learned from.
    same = build_vocabulary(model, store, trainer=vetoed.trainer).scorer
    assert isinstance(same, CustomWordScorer) and same.vetoes == (veto,)
    store.add_command_take("high", heard_sound(stream(HIGH_TONE_HZ)), RATE, RATE)
    with_take = build_vocabulary(model, store, trainer=vetoed.trainer).scorer
    assert isinstance(with_take, CustomWordScorer) and with_take.vetoes[0] is not veto
    assert detected_labels(with_take, high_with_hum(seed=3)) == []
    assert detected_labels(with_take, stream(HIGH_TONE_HZ)) == ["high"]
    # Forgotten: the word is heard as the model hears it again, and its takes are gone.
    store.forget_command_alarms("high")
    assert build_vocabulary(model, store).scorer is model
    assert store.command_takes("high").seconds() == 0
    with pytest.raises(WordStoreError, match="no false alarms"):  # nothing stored before one
        store.add_command_take("high", heard_sound(stream(HIGH_TONE_HZ)), RATE, RATE)


def test_the_command_line_lists_and_forgets_a_command_words_false_alarms(
    model: OnnxModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = WordStore(tmp_path / "words")
    store.add_command_alarm("high", heard_sound(high_with_hum()), RATE, RATE)
    common = ["words", "--store", str(store.root), "--model", str(model.path)]
    assert main([*common, "list"]) == 0
    out = capsys.readouterr().out
    assert "high\tcommand word, 1.5 s of false alarms" in out and "no custom words" in out
    assert main([*common, "forget-alarms", "high"]) == 0
    assert "'high' forgot its false alarms" in capsys.readouterr().out
    assert store.command_alarm_seconds(["high"]) == {}
    assert main([*common, "forget-alarms", "high"]) == 0
    assert "'high' has no false alarms" in capsys.readouterr().out
    assert main([*common, "forget-alarms", "hgih"]) == 2  # a typo: one line, no traceback
    captured = capsys.readouterr()
    assert "no custom word or command word named 'hgih'" in captured.err
    assert "Traceback" not in captured.err


def test_the_shipped_command_words_can_learn_vetoes() -> None:
    from kws_app.paths import default_model_path
    from kws_app.words.embedder import PairedModel, identity_paths, words_model

    model_path = default_model_path()
    if not model_path.is_file():
        pytest.skip("no shipped model in assets/")
    model, problem = words_model(OnnxModel(model_path, prefer_gpu=False))
    assert problem is None and isinstance(model, PairedModel)
    path = kept_strides_path(model_path)
    commands = sorted(label for label in model.labels if not label.startswith("_"))
    assert sorted(kept_labels(path, model_id_of(identity_paths(model)))) == commands, (
        f"{path.name} was made for another model: rerun bench/command_kept.py"
    )
    size = model.embedder.info.embedding_size
    assert size is not None
    kept = load_kept_strides(path, model_id_of(identity_paths(model)), size)
    assert kept is not None and sorted(kept.labels) == commands
