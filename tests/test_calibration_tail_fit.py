"""With `tail_fit` a word's threshold also heeds its near misses: a word whose look-alikes crowd
just under the counting threshold on the validation negatives is raised to where their trend
predicts its share of the target; a word nothing imitates keeps its counted threshold."""

from __future__ import annotations

import math

import numpy as np
from calibration_streams import DECODER, STREAM, scored_streams

from kws_app.inference.operating_points import logit
from training.calibrate import TAIL_FIT_KEY, CalibrationTarget, calibrate_scored, tail_threshold

LOUD = 0.995


def test_the_fit_reads_the_trend_of_the_counts_in_log_odds() -> None:
    # Near misses whose count above log-odds x is 40 at 0 and ten times fewer every 2 up: the
    # k-th highest lies at 2 log10(40 / k).
    peaks = np.array([2 * math.log10(40 / k) for k in range(1, 41)])
    grid = np.linspace(0.0, 4.0, 81)
    counts = [(1 / (1 + math.exp(-x)), int(np.sum(peaks >= x))) for x in grid]
    wanted = 0.04  # three decades below 40: log-odds 6
    assert math.isclose(logit(tail_threshold(counts, wanted, 3)), 6.0, abs_tol=0.5)


def test_too_few_count_levels_give_no_fit() -> None:
    assert tail_threshold([(0.9, 0), (0.8, 1), (0.7, 1), (0.6, 2)], 0.1, 3) is None
    assert tail_threshold([(0.9, 0), (0.8, 0)], 0.1, 3) is None


def _calibrate(tail_fit: bool):  # type: ignore[no-untyped-def]
    word_ends = [(10_000 * i, "yes" if i % 2 else "no") for i in range(1, 30)]
    bumps = [(end, label, LOUD) for end, label in word_ends]
    # "no" has many look-alikes in the negatives, from 0.5 up to just under 0.9; nothing there
    # resembles "yes".
    look_alikes = [
        (20_000 + 15_000 * i, "no", float(score))
        for i, score in enumerate(np.linspace(0.5, 0.89, 30))
    ]
    scored, commands, negatives = scored_streams(300, bumps, 600, look_alikes)
    target = CalibrationTarget(tail_fit=tail_fit)
    return calibrate_scored(scored, commands, negatives, STREAM, DECODER, target)


def test_a_word_with_many_near_misses_is_raised_and_one_without_is_not() -> None:
    counted = _calibrate(tail_fit=False)
    fitted = _calibrate(tail_fit=True)
    assert counted.points.thresholds["no"] < 0.95 < fitted.points.thresholds["no"]
    assert fitted.points.thresholds["yes"] == counted.points.thresholds["yes"]
    assert fitted.points.details[TAIL_FIT_KEY] is True
    assert TAIL_FIT_KEY not in counted.points.details
    assert CalibrationTarget().tail_fit is False
