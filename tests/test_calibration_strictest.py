"""With `strictest_at_best_recall`, a word that validation speech never imitates keeps the
strictest threshold that finds as many validation words as the lowest allowed one, instead of
sinking to the bottom of the budget; a word whose quieter instances need a lower threshold still
gets one low enough for them."""

from __future__ import annotations

from calibration_streams import DECODER, STREAM, scored_streams

from training.calibrate import STRICTEST_KEY, CalibrationTarget, calibrate_scored

LOUD = 0.995
QUIET = 0.8
LOOK_ALIKE = 0.6


def _calibrate(quiet_yes: bool, strictest: bool):  # type: ignore[no-untyped-def]
    word_ends = [(10_000 * i, "yes" if i % 2 else "no") for i in range(1, 30)]
    bumps = [
        (end, label, QUIET if quiet_yes and label == "yes" and end % 40_000 == 10_000 else LOUD)
        for end, label in word_ends
    ]
    # Only "no" has a look-alike in the negatives; nothing there resembles "yes".
    scored, commands, negatives = scored_streams(300, bumps, 600, [(150_000, "no", LOOK_ALIKE)])
    target = CalibrationTarget(strictest_at_best_recall=strictest)
    return calibrate_scored(scored, commands, negatives, STREAM, DECODER, target)


def test_a_word_validation_never_imitates_stays_strict_at_the_same_recall() -> None:
    lowest = _calibrate(quiet_yes=False, strictest=False)
    strictest = _calibrate(quiet_yes=False, strictest=True)

    assert lowest.points.thresholds["yes"] < QUIET  # the budget lets it sink far below its words
    assert QUIET < strictest.points.thresholds["yes"] < LOUD
    assert strictest.commands.correct == lowest.commands.correct == len(range(1, 30))
    assert strictest.negatives.false_positives == lowest.negatives.false_positives == 0
    assert strictest.points.details[STRICTEST_KEY] is True
    assert STRICTEST_KEY not in lowest.points.details


def test_quieter_instances_keep_the_threshold_low_enough_to_find_them() -> None:
    lowest = _calibrate(quiet_yes=True, strictest=False)
    strictest = _calibrate(quiet_yes=True, strictest=True)

    assert lowest.points.thresholds["yes"] <= strictest.points.thresholds["yes"] < QUIET
    assert strictest.commands.correct == lowest.commands.correct


def test_by_default_every_word_takes_its_lowest_threshold_within_the_budget() -> None:
    assert CalibrationTarget().strictest_at_best_recall is False
