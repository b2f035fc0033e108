"""The calibration's cross-check: thresholds fitted to one half of the validation negatives are
counted on the other half, and a margin can make the target hold on sentences never calibrated
on."""

from __future__ import annotations

import numpy as np

from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.operating_points import CROSS_CHECK_KEY, MARGIN_KEY, logit, sigmoid
from training.calibrate import (
    REFERENCE_THRESHOLD,
    CalibrationTarget,
    ScoredStreams,
    calibrate_scored,
    cross_check,
)
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
# A sentence in the first half of the negatives looks a little like "yes"; one in the second half
# looks much more like it, as a new speaker's sentence may.
FIRST_HALF_YES = 0.75
SECOND_HALF_YES = 0.92
COMMAND_YES = 0.995


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


def streams() -> tuple[ScoredStreams, EvalStream, EvalStream]:
    word_ends = [(10_000 * i, "yes" if i % 2 else "no") for i in range(1, 30)]
    commands = scores_with_bumps(300, [(end, label, COMMAND_YES) for end, label in word_ends])
    negatives = scores_with_bumps(
        600, [(150_000, "yes", FIRST_HALF_YES), (450_000, "yes", SECOND_HALF_YES)]
    )
    command_words = tuple(PlacedWord(label, end - 500, end, "clip") for end, label in word_ends)
    scored = ScoredStreams(
        commands,
        negatives,
        DecoderSweep(commands, WINDOW_MS, MINIMUM_COUNT),
        DecoderSweep(negatives, WINDOW_MS, MINIMUM_COUNT),
    )
    return scored, eval_stream("commands", command_words), eval_stream("negatives", ())


def test_the_cross_check_counts_what_one_half_s_thresholds_let_through_on_the_other() -> None:
    scored, commands, negatives = streams()
    target = CalibrationTarget()
    calibration = calibrate_scored(scored, commands, negatives, STREAM, DECODER, target)
    assert calibration.negatives.false_positives == 0

    checked = cross_check(scored, commands, negatives, calibration, target)

    # Fitted to the first half, "yes" fires once in the second half's five minutes; fitted to the
    # second half, it stays quiet on the first.
    assert checked.cross_half_per_hour == (12.0, 0.0)
    assert checked.points.thresholds == calibration.points.thresholds
    assert checked.points.details[CROSS_CHECK_KEY] == 6.0
    assert "cross-check" in checked.summary() and "6.00 false accepts per hour" in checked.summary()


def test_a_cross_validated_margin_holds_the_target_on_the_unseen_half() -> None:
    scored, commands, negatives = streams()
    target = CalibrationTarget(cross_validated=True, margin_step_logit=0.5)
    plain = calibrate_scored(scored, commands, negatives, STREAM, DECODER, target)

    checked = cross_check(scored, commands, negatives, plain, target)

    assert checked.points.details[MARGIN_KEY] == 1.5
    assert checked.cross_half_per_hour == (0.0, 0.0)
    for word in ("yes", "no"):
        expected = sigmoid(logit(plain.points.thresholds[word]) + 1.5)
        assert np.isclose(checked.points.thresholds[word], expected)
    assert checked.commands.correct_percent == 100.0
    assert checked.negatives.false_positives == 0
