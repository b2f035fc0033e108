"""RecognizeCommands, rule by rule, with scripted scores and explicit times."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kws_app.config import ConfigError, DecoderConfig, StreamConfig
from kws_app.inference.decoder import DecoderError, RecognizeCommands
from kws_app.inference.operating_points import OperatingPoints

LABELS = ("_silence_", "_unknown_", "yes", "no")
SILENCE = [1.0, 0.0, 0.0, 0.0]
YES = [0.0, 0.0, 1.0, 0.0]
NO = [0.0, 0.0, 0.0, 1.0]
UNKNOWN = [0.0, 1.0, 0.0, 0.0]


def decoder(**settings: float) -> RecognizeCommands:
    defaults = dict(
        average_window_ms=100, detection_threshold=0.5, suppression_ms=0, minimum_count=1
    )
    return RecognizeCommands(LABELS, DecoderConfig(**{**defaults, **settings}))


def feed(
    recognizer: RecognizeCommands, scores: list[float], start_ms: int, count: int, step_ms: int = 30
) -> list[tuple[int, str]]:
    """Feeds `count` identical score vectors; returns the new commands as (time, label)."""
    found = []
    for i in range(count):
        result = recognizer.process(scores, start_ms + i * step_ms)
        if result.is_new_command:
            found.append((result.time_ms, result.label))
    return found


def test_scores_are_averaged_over_the_window() -> None:
    recognizer = decoder(average_window_ms=100, detection_threshold=0.99)
    recognizer.process(YES, 0)
    recognizer.process(NO, 30)
    result = recognizer.process(NO, 60)
    assert result.label == "no"
    assert result.score == pytest.approx(2 / 3)
    assert result.average_scores == pytest.approx((0.0, 0.0, 1 / 3, 2 / 3))


def test_results_older_than_the_window_are_dropped() -> None:
    recognizer = decoder(average_window_ms=100)
    recognizer.process(YES, 0)
    recognizer.process(NO, 50)
    result = recognizer.process(NO, 101)  # the YES at 0 ms is now 101 ms old
    assert result.score == pytest.approx(1.0)


def test_fewer_results_than_the_minimum_count_give_no_decision() -> None:
    recognizer = decoder(minimum_count=3, average_window_ms=1000)
    assert not recognizer.process(YES, 0).is_new_command
    second = recognizer.process(YES, 300)
    assert not second.is_new_command and second.score == 0.0
    assert recognizer.process(YES, 600).is_new_command


def test_a_window_spanning_less_than_a_quarter_gives_no_decision() -> None:
    recognizer = decoder(average_window_ms=400, minimum_count=1)
    assert not recognizer.process(YES, 0).is_new_command
    assert not recognizer.process(YES, 99).is_new_command  # 99 ms < 400 / 4
    assert recognizer.process(YES, 100).is_new_command


def test_the_average_must_exceed_the_threshold() -> None:
    recognizer = decoder(detection_threshold=0.6)
    weak = [0.0, 0.0, 0.6, 0.4]
    assert feed(recognizer, weak, 0, 10) == []
    assert feed(recognizer, [0.0, 0.0, 0.61, 0.39], 300, 10) != []


def test_the_same_label_does_not_fire_twice_until_another_label_fires() -> None:
    recognizer = decoder()
    assert [label for _, label in feed(recognizer, YES, 0, 10)] == ["yes"]
    assert feed(recognizer, YES, 300, 50) == []  # yes held for 1.5 s: still one detection
    assert [label for _, label in feed(recognizer, NO, 2000, 10)] == ["no"]
    assert [label for _, label in feed(recognizer, YES, 3000, 10)] == ["yes"]


def test_unknown_between_two_words_lets_the_word_fire_again() -> None:
    recognizer = decoder()
    feed(recognizer, YES, 0, 10)
    assert [label for _, label in feed(recognizer, UNKNOWN, 1000, 10)] == ["_unknown_"]
    assert [label for _, label in feed(recognizer, YES, 2000, 10)] == ["yes"]


def test_suppression_blocks_a_new_label_too_soon_after_the_last() -> None:
    recognizer = decoder(suppression_ms=1000)
    assert feed(recognizer, YES, 0, 5) == [(30, "yes")]
    assert feed(recognizer, NO, 200, 20) == []  # 200-770 ms: within 1000 ms of the yes
    # At 1100 ms the window holds one result (span 0 < a quarter window); at 1130 it decides.
    assert feed(recognizer, NO, 1100, 5) == [(1130, "no")]


def test_a_reported_silence_lifts_the_suppression() -> None:
    recognizer = decoder(suppression_ms=1000)
    feed(recognizer, YES, 0, 5)
    assert feed(recognizer, SILENCE, 200, 40)[0][1] == "_silence_"  # fires after 1000 ms
    # Right after the silence, "no" fires at once although the silence was reported < 1000 ms ago.
    assert [label for _, label in feed(recognizer, NO, 1500, 5)] == ["no"]
    # Without the silence in between, the same "yes" would have had to wait.
    assert feed(recognizer, YES, 1700, 5) == []


def test_time_going_backwards_is_an_error() -> None:
    recognizer = decoder()
    recognizer.process(YES, 100)
    with pytest.raises(DecoderError, match="backwards"):
        recognizer.process(YES, 99)


def test_a_score_vector_of_the_wrong_length_is_an_error() -> None:
    with pytest.raises(DecoderError, match="3 scores for 4 labels"):
        decoder().process([0.1, 0.2, 0.7], 0)


def test_a_new_threshold_applies_to_the_next_result() -> None:
    recognizer = decoder(detection_threshold=0.99)
    weak_yes = [0.1, 0.0, 0.9, 0.0]
    assert feed(recognizer, weak_yes, 0, 5) == []
    recognizer.update_config(
        DecoderConfig(
            average_window_ms=100, detection_threshold=0.5, suppression_ms=0, minimum_count=1
        )
    )
    assert recognizer.process(weak_yes, 150).is_new_command


def test_results_are_frozen() -> None:
    result = decoder().process(YES, 0)
    with pytest.raises(AttributeError):
        result.label = "no"  # type: ignore[misc]


@pytest.mark.parametrize(
    "settings",
    [
        dict(average_window_ms=2_000_000_000),
        dict(suppression_ms=10**9),
        dict(minimum_count=10**6),
        dict(average_window_ms=0),
    ],
)
def test_absurd_decoder_settings_are_refused(settings: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        DecoderConfig(**settings)


def test_an_absurd_clip_stride_is_refused() -> None:
    with pytest.raises(ConfigError):
        StreamConfig(clip_stride_ms=1_000_000_000)


def test_a_reported_unknown_does_not_suppress_the_command_after_it() -> None:
    # Speech just before a command wins the average as _unknown_; the command must still fire.
    recognizer = decoder(suppression_ms=1000)
    assert feed(recognizer, UNKNOWN, 0, 5)[0][1] == "_unknown_"
    assert [label for _, label in feed(recognizer, YES, 200, 5)] == ["yes"]


QUICK = DecoderConfig(
    average_window_ms=100, detection_threshold=0.5, suppression_ms=0, minimum_count=1
)


def _with_own_window(window_ms: int, **settings: float) -> RecognizeCommands:
    """The label "no" at its own averaging window (as a custom word is), "yes" at the decoder's."""
    points = OperatingPoints(0.5, {}, windows_ms={"no": window_ms})
    return RecognizeCommands(LABELS, replace(QUICK, **settings), points)


def test_a_label_with_its_own_window_is_averaged_over_it() -> None:
    recognizer = _with_own_window(300, detection_threshold=0.99)
    for time_ms, scores in ((0, NO), (100, YES), (200, YES)):
        result = recognizer.process(scores, time_ms)
    # "yes" over the decoder's 100 ms (100 and 200 ms), "no" over its own 300 ms (all three).
    assert result.average_scores == pytest.approx((0.0, 0.0, 1.0, 1 / 3))


def test_the_warm_up_rules_read_the_decoders_window() -> None:
    recognizer = _with_own_window(1000, minimum_count=2, average_window_ms=100)
    assert recognizer.process(NO, 0).score == 0.0
    # Only one result lies inside the decoder's 100 ms: no decision yet, however long "no"'s is.
    assert recognizer.process(NO, 200).score == 0.0
    assert recognizer.process(NO, 250).is_new_command


def test_without_own_windows_every_label_uses_the_configured_one() -> None:
    recognizer = RecognizeCommands(
        LABELS, replace(QUICK, average_window_ms=250), OperatingPoints(0.5, {"no": 0.6})
    )
    assert recognizer.windows_ms.tolist() == [250] * len(LABELS)
    recognizer.update_config(replace(QUICK, average_window_ms=300))
    assert recognizer.windows_ms.tolist() == [300] * len(LABELS)
