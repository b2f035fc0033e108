"""The custom-word benchmark does not count a word heard where a negatives sentence says it
("how big is your house") as a false accept: those recordings, their time and the detections in
them are left out of the second false-accept rate."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from words_fewshot import (  # noqa: E402
    CachedStream,
    SpokenSpan,
    says,
    spoken_spans,
    unsaid_false_accepts,
)

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
    labels = tmp_path / "neg.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("label", "time_ms", "start_ms", "end_ms", "source"))
        # Built from another folder: the source is matched by its path inside the speech folder.
        writer.writerow(("_unknown_", 3000, 1000, 3000, "../../x/negatives/speech/lib/a.opus"))
        writer.writerow(("_unknown_", 6000, 4000, 6000, "../../x/negatives/speech/lib/b.opus"))
        writer.writerow(("_unknown_", 9000, 7000, 9000, "../precise/not-wake-words/c.wav"))
    assert spoken_spans(labels, tmp_path / "data") == [
        SpokenSpan(1000, 3000, "how big is your house")
    ]
    assert spoken_spans(tmp_path / "missing.csv", tmp_path / "data") == []
