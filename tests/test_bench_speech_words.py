"""`bench/cut_speech_words.py` finds where each word of a transcript lies in a recording (espeak-ng
templates laid on it by dynamic time warping), and writes only words the benchmark never uses,
spread over many speakers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from cut_speech_words import (  # noqa: E402
    COMMAND_HOMOPHONES,
    AlignedWord,
    Templates,
    align,
    excluded_words,
    keep,
    spread_over_speakers,
    transcribed,
    warp,
    words_of,
)
from make_near_miss import speak  # noqa: E402
from words_data import read_word_dir, speaker_name  # noqa: E402
from words_fewshot import EXAMPLES, example_sets, own_speech  # noqa: E402

from kws_app.audio.files import read_audio_at  # noqa: E402
from kws_app.config import FrontendConfig  # noqa: E402
from kws_app.words.trainer import word_span  # noqa: E402
from training.speech_negatives import (  # noqa: E402
    TRAINING,
    VALIDATION,
    SpeechRecording,
    SpeechSplit,
)


def test_a_transcript_gives_its_words_in_lower_case_without_punctuation() -> None:
    assert words_of("Hello, WORLD! It's P I T T.") == ["hello", "world", "it's", "p", "i", "t", "t"]


def test_the_warp_of_a_sequence_onto_itself_is_the_diagonal() -> None:
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((50, 3))
    cost = np.linalg.norm(frames[:, None] - frames[None, :], axis=2).astype(np.float32)
    assert np.array_equal(warp(cost), np.arange(50))


def test_the_warp_follows_a_recording_said_more_slowly() -> None:
    rng = np.random.default_rng(1)
    template = rng.standard_normal((40, 3))
    repeats = np.tile([2, 1], 20)  # every other frame said twice as long
    recording = np.repeat(template, repeats, axis=0)
    cost = np.linalg.norm(recording[:, None] - template[None, :], axis=2).astype(np.float32)
    first_row = warp(cost)
    assert np.all(np.diff(first_row) >= 0)
    said_at = np.concatenate([[0], np.cumsum(repeats)[:-1]])
    assert np.abs(first_row - said_at).max() <= 1


def test_benchmark_words_and_their_plurals_are_never_kept() -> None:
    excluded = {"bird", "house", "left"}
    assert not keep("birds", excluded)
    assert not keep("house", excluded)
    assert not keep("left", excluded)
    assert not keep("the", excluded)  # too short to be a word a user would teach
    assert keep("window", excluded)


def test_short_words_are_kept_when_asked_but_never_a_command_words_homophone() -> None:
    excluded = {"no", "right"} | COMMAND_HOMOPHONES
    assert keep("so", excluded, min_letters=2)
    assert not keep("so", excluded)
    assert not keep("no", excluded, min_letters=2)
    assert not keep("know", excluded, min_letters=2)
    assert not keep("write", excluded, min_letters=2)


def test_every_word_of_the_dataset_is_excluded(shared_data: Path) -> None:
    excluded = excluded_words(shared_data)
    assert {"yes", "marvin", "sheila", "bird", "forward"} <= excluded
    assert COMMAND_HOMOPHONES <= excluded


def test_a_word_is_spread_over_speakers_best_aligned_first() -> None:
    def take(speaker: str, cost: float) -> tuple[AlignedWord, str, Path]:
        return AlignedWord("window", 0, 1, cost), speaker, Path(f"{speaker}.wav")

    takes = [take("a", 0.1), take("a", 0.2), take("a", 0.3), take("b", 0.5), take("c", 0.4)]
    chosen = spread_over_speakers(takes, per_speaker=2)
    assert [(t[1], t[0].cost) for t in chosen] == [("a", 0.1), ("c", 0.4), ("b", 0.5), ("a", 0.2)]


def test_words_said_by_another_voice_are_found_where_they_were_said(tmp_path: Path) -> None:
    """A recording made of three words in a British voice with pauses between them, aligned with
    the American templates: each word's aligned span must cover where it was really said."""
    from make_near_miss import find_espeak

    espeak = find_espeak()
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    frontend = FrontendConfig()
    rate = frontend.sample_rate
    words = ["window", "basket", "elephant"]
    pieces, truth = [np.zeros(rate // 4, dtype=np.float32)], []
    for n, word in enumerate(words):
        speak(espeak, word, "en-gb+m3", 140, 40, tmp_path / f"{n}.wav")
        wave = read_audio_at(tmp_path / f"{n}.wav", rate)
        start, end = word_span(wave, rate)
        offset = sum(p.shape[0] for p in pieces)
        truth.append((offset + (end - start) / 2) / rate)
        pieces += [wave[start:end], np.zeros(rate // 5, dtype=np.float32)]
    recording = np.concatenate(pieces)
    recording += 1e-4 * np.random.default_rng(0).standard_normal(recording.shape[0]).astype(
        np.float32
    )
    aligned = align(recording, words, Templates(espeak, frontend, tmp_path), frontend)
    assert [a.word for a in aligned] == words
    for word, middle in zip(aligned, truth, strict=True):
        assert word.start / rate < middle < word.end / rate


def speakers_in(part: str, count: int, split: SpeechSplit) -> list[str]:
    names = (f"speaker{n}" for n in range(10_000))
    return [name for name in names if split.split_of(name) == part][:count]


def test_only_the_asked_parts_english_transcribed_recordings_are_cut(tmp_path: Path) -> None:
    split = SpeechSplit()
    held_out = speakers_in(VALIDATION, 2, split)
    trained = speakers_in(TRAINING, 1, split)
    rows = [
        ("librispeech/a.opus", "librispeech", held_out[0], "a quiet evening", "no"),
        ("an4/b.opus", "an4", held_out[1], "seven left", "yes"),
        ("commonvoice_nonenglish/c.opus", "commonvoice_nonenglish", held_out[0], "bonjour", "no"),
        ("librispeech/d.opus", "librispeech", held_out[1], "", "no"),
        ("librispeech/e.opus", "librispeech", trained[0], "a quiet morning", "no"),
    ]
    lines = ["path,corpus,source,license,speaker,duration_s,transcript,has_command_word"]
    lines += [f"{p},{c},src,lic,{s},1.0,{t},{y}" for p, c, s, t, y in rows]
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")

    validation = transcribed(tmp_path, VALIDATION, split)
    training = transcribed(tmp_path, TRAINING, split)

    assert sorted(r.path.name for r in validation) == ["a.opus", "b.opus"]
    assert [r.path.name for r in training] == ["e.opus"]


def test_a_cut_folder_gives_one_speaker_sets_where_a_speaker_said_the_word_five_times(
    tmp_path: Path,
) -> None:
    rate = FrontendConfig().sample_rate
    clip = np.zeros(rate // 10, dtype=np.float32)
    folder = tmp_path / "moment"
    folder.mkdir()
    for speaker, takes in (("reader", EXAMPLES), ("visitor", 2), ("guest", 1)):
        for n in range(takes):
            sf.write(folder / f"{speaker}_nohash_{n}.wav", clip, rate)

    clips = read_word_dir(tmp_path)
    sets = example_sets(clips, 0, np.random.default_rng(0))

    assert {c.label for c in clips} == {"moment"}
    assert {c.speaker for c in clips} == {"reader", "visitor", "guest"}
    assert [(condition, {c.speaker for c in chosen}) for condition, chosen in sets] == [
        ("1 speaker", {"reader"})
    ]


def test_a_speakers_own_speech_is_their_sentences_that_do_not_say_the_word(tmp_path: Path) -> None:
    rate = FrontendConfig().sample_rate
    recordings = []
    for n, (speaker, transcript, level) in enumerate(
        (
            ("reader-163", "Turn it ON before the moment passes", 0.1),
            ("reader-163", "Go left at the MOMENTS of doubt", 0.2),
            ("other-9", "Stop there for now", 0.3),
            ("reader-163", "Switch it off again", 0.4),
            ("reader-163", "Say no more", 0.5),
        )
    ):
        path = tmp_path / f"{n}.wav"
        sf.write(path, np.full(rate, level, dtype=np.float32), rate)
        recordings.append(SpeechRecording(path, speaker, 1.0, "librispeech", transcript))

    speech = own_speech(recordings, speaker_name("reader-163"), "moment", seconds=1.5)

    assert speech is not None and speech.size == int(1.5 * rate)
    assert np.allclose(speech[:rate], 0.4, atol=1e-3) and np.allclose(
        speech[rate:], 0.5, atol=1e-3
    ), "only the speaker's sentences without the word (or its plural), in order, cut to length"
    assert own_speech(recordings, speaker_name("nobody"), "moment", seconds=1.5) is None
