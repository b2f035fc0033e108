"""What the sentences of a negatives stream say, so that a bench can tell a word heard where it
was said from a word heard where nobody said it.

A stream's ground-truth CSV (bench/stream_benchmark.py writes it beside the wav) says where each
recording lies; the speech folder's manifest says what each recording says.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from words_data import SPEECH_NEGATIVES, speaker_name

from training.speech_negatives import SpeechNegativesError, read_manifest
from training.stream_data import read_ground_truth
from training.stream_eval import DEFAULT_TOLERANCE_MS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpokenSpan:
    """Where a transcribed recording lies in a negatives stream, what it says and who says it."""

    start_ms: int
    end_ms: int
    transcript: str
    speaker: str = ""  # as bench/words_data.speaker_name names the speakers of cut words


def spoken_spans(labels: Path, data_dir: Path) -> list[SpokenSpan]:
    """Each transcribed recording of a negatives stream, with or without command words. A source
    is matched by its path inside the speech folder, since streams are built from other folders."""
    if not labels.is_file():
        return []
    folder = data_dir / SPEECH_NEGATIVES
    try:
        recordings = read_manifest(folder) + read_manifest(folder, saying_commands=True)
    except SpeechNegativesError as error:
        logger.warning("no transcripts for the negatives stream: %s", error)
        return []
    transcribed = {r.path.relative_to(folder).as_posix(): r for r in recordings if r.transcript}
    spans = []
    for placed in read_ground_truth(labels):
        parts = Path(placed.source).parts
        inside = (PurePosixPath(*parts[k:]).as_posix() for k in range(len(parts)))
        found = next((transcribed[key] for key in inside if key in transcribed), None)
        if found is not None:
            spans.append(
                SpokenSpan(
                    placed.start_ms, placed.end_ms, found.transcript, speaker_name(found.speaker)
                )
            )
    if not spans:
        logger.warning("no recording of %s has a transcript in %s", labels, data_dir)
    return spans


def says(transcript: str, word: str) -> bool:
    """Whether a transcript holds the word or its plural."""
    return re.search(rf"\b{re.escape(word)}(?:e?s)?\b", transcript, re.IGNORECASE) is not None


def said_intervals(spans: list[SpokenSpan], word: str) -> list[tuple[int, int]]:
    """The stretches (ms) of the stream whose recordings say `word`, merged where they touch.

    Each is extended by the streaming benchmark's matching tolerance, since the decoder reports a
    word after it ends."""
    said: list[list[int]] = []
    for span in sorted(spans, key=lambda s: s.start_ms):
        if not says(span.transcript, word):
            continue
        start, end = span.start_ms, span.end_ms + DEFAULT_TOLERANCE_MS
        if said and start <= said[-1][1]:
            said[-1][1] = max(said[-1][1], end)
        else:
            said.append([start, end])
    return [(start, end) for start, end in said]


def within(time_ms: int, intervals: list[tuple[int, int]]) -> bool:
    """Whether a detection at `time_ms` falls in one of `said_intervals`' stretches."""
    return any(start <= time_ms <= end for start, end in intervals)


def speaker_spans(spans: list[SpokenSpan], speaker: str, word: str) -> list[tuple[int, int]]:
    """The stretches (ms) where `speaker` talks without saying `word`: where a word learned from
    that voice would fire on its owner's own speech."""
    return [
        (span.start_ms, span.end_ms)
        for span in spans
        if span.speaker == speaker and not says(span.transcript, word)
    ]
