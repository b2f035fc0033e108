"""Which decoder setting a calibration keeps: the best validation recall among the settings whose
latency after word end the user can accept, judged by its median as well as its tail."""

from __future__ import annotations

import pytest

from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.operating_points import OperatingPoints
from training.calibrate import Calibration, choose_calibration
from training.stream_eval import LatencyLimit, StreamMetrics

WORDS = 400


def candidate(window_ms: int, correct: int, median_ms: float, p95_ms: float) -> Calibration:
    commands = StreamMetrics(
        command_words=WORDS,
        matched=correct,
        correct=correct,
        wrong=0,
        false_positives=0,
        duration_s=1800.0,
        repeats=0,
        latency_median_ms=median_ms,
        latency_p95_ms=p95_ms,
    )
    negatives = StreamMetrics(0, 0, 0, 0, 0, 3600.0, 0, None, None)
    return Calibration(
        OperatingPoints(0.5, {"yes": 0.9}),
        StreamConfig(),
        DecoderConfig(average_window_ms=window_ms),
        commands,
        negatives,
    )


SHORT = candidate(300, correct=309, median_ms=242, p95_ms=369)
LONG = candidate(400, correct=315, median_ms=326, p95_ms=449)
SLOW = candidate(500, correct=320, median_ms=398, p95_ms=547)
ALL = [SHORT, LONG, SLOW]


def test_without_limits_the_best_recall_wins() -> None:
    assert choose_calibration(ALL, LatencyLimit()) is SLOW


def test_a_p95_limit_leaves_out_the_slow_tail() -> None:
    assert choose_calibration(ALL, LatencyLimit(p95_ms=450)) is LONG


def test_a_median_limit_leaves_out_a_window_every_word_would_wait_for() -> None:
    assert choose_calibration(ALL, LatencyLimit(p95_ms=450, median_ms=300)) is SHORT


def test_when_nothing_is_fast_enough_the_best_of_all_is_kept() -> None:
    assert choose_calibration(ALL, LatencyLimit(median_ms=100)) is SLOW


def test_a_stream_without_detections_has_no_latency_to_allow() -> None:
    silent = candidate(200, correct=0, median_ms=0, p95_ms=0)
    silent = Calibration(
        silent.points,
        silent.stream,
        silent.decoder,
        StreamMetrics(WORDS, 0, 0, 0, 0, 1800.0, 0, None, None),
        silent.negatives,
    )
    assert not LatencyLimit(median_ms=300).allows(silent.commands)
    assert LatencyLimit().allows(silent.commands)


def test_no_candidates_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        choose_calibration([], LatencyLimit())
