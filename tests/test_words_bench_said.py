"""The benchmarks do not count a word heard where a negatives sentence says it ("how big is your
house") as a false accept: for custom words those recordings, their time and the detections in
them are left out of the second false-accept rate; for command words said inside running speech
the streaming benchmark tells the detections of a said word from the rest."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from transcripts import (  # noqa: E402
    SpokenSpan,
    said_intervals,
    says,
    speaker_spans,
    spoken_spans,
    within,
)
from words_data import speaker_name  # noqa: E402
from words_fewshot import CachedStream, false_alarm_audio, unsaid_false_accepts  # noqa: E402

from training.speech_negatives import TESTING, SpeechSplit, speech_negatives  # noqa: E402
from training.stream_eval import DEFAULT_TOLERANCE_MS  # noqa: E402

MANIFEST_COLUMNS = ("path", "corpus", "speaker", "duration_s", "transcript", "has_command_word")


def _stream(seconds: float, spoken: list[SpokenSpan]) -> CachedStream:
    empty = np.zeros(0)
    return CachedStream(empty, empty, empty, [], seconds, spoken)


def test_a_transcript_says_the_word_or_its_plural_and_nothing_longer() -> None:
    assert says("how big is your house", "house")
    assert says("two new HOUSES", "house")
    assert says("beneath the trees", "tree")
    assert not says("the housekeeper came", "house")
    assert not says("a street", "tree")


def test_detections_where_the_word_is_said_are_not_false_accepts() -> None:
    spoken = [
        SpokenSpan(1_000, 3_000, "how big is your house"),
        SpokenSpan(5_000, 7_000, "nothing to see here"),
    ]
    stream = _stream(20.0, spoken)
    detections = [
        (2_000, "house"),  # inside the sentence that says it
        (3_000 + DEFAULT_TOLERANCE_MS, "house"),  # reported just after it ends
        (6_000, "house"),  # another sentence: a false accept
        (15_000, "house"),  # noise: a false accept
    ]
    count, seconds = unsaid_false_accepts(detections, stream, "house")
    assert count == 2
    said_s = (3_000 + DEFAULT_TOLERANCE_MS - 1_000) / 1000
    assert np.isclose(seconds, 20.0 - said_s)


def test_false_accepts_are_counted_within_a_part_of_the_stream() -> None:
    spoken = [SpokenSpan(9_000, 11_000, "how big is your house")]
    stream = _stream(20.0, spoken)
    detections = [(4_000, "house"), (10_500, "house"), (15_000, "house")]
    count, seconds = unsaid_false_accepts(detections, stream, "house", (10_000, 20_000))
    assert count == 1  # 10.5 s is said, 4 s is outside the part
    said_s = (11_000 + DEFAULT_TOLERANCE_MS - 10_000) / 1000
    assert np.isclose(seconds, 10.0 - said_s)


def test_false_alarms_are_cut_from_the_first_half_only_and_where_the_word_is_not_said() -> None:
    rate = 16_000
    audio = np.arange(20 * rate, dtype=np.float32)
    stream = _stream(20.0, [SpokenSpan(2_000, 3_000, "my house")])
    detections = [(2_500, "house"), (4_000, "house"), (6_000, "house"), (12_000, "house")]
    cuts = false_alarm_audio(detections, stream, "house", audio, count=5, seconds=1.5)
    assert [cut[-1] + 1 for cut in cuts] == [4 * rate, 6 * rate]  # each ends at its detection
    assert all(cut.size == int(1.5 * rate) for cut in cuts)
    assert len(false_alarm_audio(detections, stream, "house", audio, count=1, seconds=1.5)) == 1


def test_overlapping_spans_are_counted_once() -> None:
    spoken = [SpokenSpan(1_000, 2_000, "my house"), SpokenSpan(2_100, 3_000, "your house")]
    count, seconds = unsaid_false_accepts([], _stream(10.0, spoken), "house")
    assert count == 0
    assert np.isclose(seconds, 10.0 - (3_000 + DEFAULT_TOLERANCE_MS - 1_000) / 1000)


def test_spans_come_from_the_streams_csv_and_the_manifest_from_any_folder(
    tmp_path: Path,
) -> None:
    speech = tmp_path / "data" / "negatives" / "speech"
    speech.mkdir(parents=True)
    with (speech / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerow(("lib/a.opus", "lib", "s1", "2.0", "how big is your house", "no"))
        writer.writerow(("lib/b.opus", "lib", "s2", "2.0", "", "no"))
        writer.writerow(("cmd/d.opus", "cmd", "s3", "2.0", "turn it on now", "yes"))
    labels = tmp_path / "neg.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("label", "time_ms", "start_ms", "end_ms", "source"))
        # Built from another folder: the source is matched by its path inside the speech folder.
        writer.writerow(("_unknown_", 3000, 1000, 3000, "../../x/negatives/speech/lib/a.opus"))
        writer.writerow(("_unknown_", 6000, 4000, 6000, "../../x/negatives/speech/lib/b.opus"))
        writer.writerow(("_unknown_", 9000, 7000, 9000, "../precise/not-wake-words/c.wav"))
        writer.writerow(("_unknown_", 12000, 10000, 12000, "../../x/negatives/speech/cmd/d.opus"))
    assert spoken_spans(labels, tmp_path / "data") == [
        SpokenSpan(1000, 3000, "how big is your house", speaker_name("s1")),
        SpokenSpan(10000, 12000, "turn it on now", speaker_name("s3")),
    ]
    assert spoken_spans(tmp_path / "missing.csv", tmp_path / "data") == []


def test_a_command_word_heard_in_the_sentence_that_says_it_is_told_apart() -> None:
    spoken = [SpokenSpan(1_000, 3_000, "turn it on now"), SpokenSpan(4_000, 6_000, "left alone")]
    on, left = said_intervals(spoken, "on"), said_intervals(spoken, "left")
    assert within(2_500, on)
    assert within(3_000 + DEFAULT_TOLERANCE_MS, on)
    assert not within(5_000, on)  # "left alone" does not say "on"
    assert within(5_000, left)
    assert not within(9_000, left)


def test_sentences_that_say_a_command_word_are_read_only_on_request(tmp_path: Path) -> None:
    speech = tmp_path / "speech"
    speech.mkdir()
    split = SpeechSplit()
    speaker = next(f"s{i}" for i in range(1000) if split.split_of(f"s{i}") == TESTING)
    with (speech / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerow(("a.opus", "lib", speaker, "2.0", "a quiet evening", "no"))
        writer.writerow(("b.opus", "lib", speaker, "2.0", "go on then", "yes"))
    for name in ("a.opus", "b.opus"):
        (speech / name).write_bytes(b"")
    plain = speech_negatives(speech, TESTING)
    saying = speech_negatives(speech, TESTING, saying_commands=True)
    assert [r.path.name for r in plain] == ["a.opus"]
    assert [(r.path.name, r.transcript) for r in saying] == [("b.opus", "go on then")]


def test_a_speakers_own_talk_is_their_recordings_that_do_not_say_the_word() -> None:
    spoken = [
        SpokenSpan(1_000, 3_000, "a house by the sea", "reader"),
        SpokenSpan(4_000, 6_000, "the sea was calm", "reader"),
        SpokenSpan(7_000, 9_000, "the sea was calm", "other"),
    ]
    assert speaker_spans(spoken, "reader", "house") == [(4_000, 6_000)]
    assert speaker_spans(spoken, "nobody", "house") == []
