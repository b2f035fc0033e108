"""Synthetic scored streams for the calibration tests: a command stream and a negatives stream
whose per-stride scores are background `_unknown_` with bumps where a word (or a look-alike) is."""

from __future__ import annotations

import numpy as np

from kws_app.config import DecoderConfig, StreamConfig
from training.calibrate import REFERENCE_THRESHOLD, ScoredStreams
from training.stream_data import PlacedWord
from training.stream_eval import DecoderSweep, EvalStream, StreamScores

LABELS = ("_silence_", "_unknown_", "yes", "no")
STRIDE_MS = 50
WINDOW_MS = 300
MINIMUM_COUNT = 3
BUMP_MS = 1000
STREAM = StreamConfig(clip_stride_ms=STRIDE_MS)
DECODER = DecoderConfig(
    average_window_ms=WINDOW_MS,
    detection_threshold=REFERENCE_THRESHOLD,
    suppression_ms=1000,
    minimum_count=MINIMUM_COUNT,
)


def scores_with_bumps(duration_s: int, bumps: list[tuple[int, str, float]]) -> StreamScores:
    """Background `_unknown_`; each bump holds `label` at `score` for BUMP_MS up to its time."""
    times = np.arange(STRIDE_MS, duration_s * 1000 + 1, STRIDE_MS, dtype=np.int64)
    rest = 0.02
    scores = np.tile(np.array([rest, 1 - 3 * rest, rest, rest], np.float32), (times.size, 1))
    for end_ms, label, score in bumps:
        rows = (times > end_ms - BUMP_MS) & (times <= end_ms)
        scores[rows] = rest
        scores[rows, LABELS.index(label)] = score
        scores[rows, LABELS.index("_unknown_")] = 1 - score - 2 * rest
    return StreamScores(LABELS, times, scores, STRIDE_MS, float(duration_s))


def eval_stream(name: str, words: tuple[PlacedWord, ...]) -> EvalStream:
    return EvalStream(name, np.zeros(1, np.float32), 16000, words)


def scored_streams(
    command_s: int,
    command_bumps: list[tuple[int, str, float]],
    negative_s: int,
    negative_bumps: list[tuple[int, str, float]],
) -> tuple[ScoredStreams, EvalStream, EvalStream]:
    """A command stream whose bumps are its words (ending at the bump's time) and a negatives
    stream whose bumps are look-alikes, scored and swept at the tests' decoder setting."""
    commands = scores_with_bumps(command_s, command_bumps)
    negatives = scores_with_bumps(negative_s, negative_bumps)
    words = tuple(PlacedWord(label, end - 500, end, "clip") for end, label, _ in command_bumps)
    scored = ScoredStreams(
        commands,
        negatives,
        DecoderSweep(commands, WINDOW_MS, MINIMUM_COUNT),
        DecoderSweep(negatives, WINDOW_MS, MINIMUM_COUNT),
    )
    return scored, eval_stream("commands", words), eval_stream("negatives", ())
