"""The calibration's cross-check: thresholds fitted to one half of the validation negatives are
counted on the other half, and a margin can make the target hold on sentences never calibrated
on."""

from __future__ import annotations

import numpy as np
from calibration_streams import (
    DECODER,
    STREAM,
    scored_streams,
)

from kws_app.inference.operating_points import CROSS_CHECK_KEY, MARGIN_KEY, logit, sigmoid
from training.calibrate import (
    CalibrationTarget,
    ScoredStreams,
    calibrate_scored,
    cross_check,
)
from training.stream_eval import EvalStream

# A sentence in the first half of the negatives looks a little like "yes"; one in the second half
# looks much more like it, as a new speaker's sentence may.
FIRST_HALF_YES = 0.75
SECOND_HALF_YES = 0.92
COMMAND_YES = 0.995


def streams() -> tuple[ScoredStreams, EvalStream, EvalStream]:
    word_ends = [(10_000 * i, "yes" if i % 2 else "no") for i in range(1, 30)]
    return scored_streams(
        300,
        [(end, label, COMMAND_YES) for end, label in word_ends],
        600,
        [(150_000, "yes", FIRST_HALF_YES), (450_000, "yes", SECOND_HALF_YES)],
    )


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
