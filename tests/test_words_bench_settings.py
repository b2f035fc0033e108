"""`bench/words_fewshot.py --set FIELD=VALUE` (and `bench/words_phrases.py`'s) tries a trainer
setting without editing the code: the override reaches nested settings, keeps each field's type,
and refuses a misspelt name. `words_phrases.py --phrases FIRST,SECOND` names other phrases, so
their settings can be chosen on validation words. `--word-windows-ms` decodes each trained head at
several averaging windows of its own, and the bench times each custom word's first detection in
its slot from the end of the spoken word."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import numpy as np  # noqa: E402
from words_fewshot import (  # noqa: E402
    CachedStream,
    at_windows,
    latencies_ms,
    own_voice_summary,
    with_setting,
)
from words_phrases import parse_phrase  # noqa: E402
from words_summary import setting_line, settings_of  # noqa: E402

from kws_app.words.calibration import WINDOW_KEY  # noqa: E402
from kws_app.words.head import WordHead  # noqa: E402
from kws_app.words.trainer import TrainerConfig  # noqa: E402


def test_a_nested_setting_is_replaced_and_the_rest_kept() -> None:
    config = with_setting(TrainerConfig(), "head.l2_penalty=0.003")
    assert config.head.l2_penalty == pytest.approx(0.003)
    assert config.head.positive_prior == TrainerConfig().head.positive_prior
    assert config.variants_per_example == TrainerConfig().variants_per_example


def test_values_take_the_type_of_the_field_they_replace() -> None:
    config = with_setting(TrainerConfig(), "speed_range=0.8,1.25")
    config = with_setting(config, "variants_per_example=32")
    assert config.speed_range == (0.8, 1.25)
    assert config.variants_per_example == 32 and isinstance(config.variants_per_example, int)


@pytest.mark.parametrize("assignment", ["head.l2_penatly=1", "variants=3", "no_equals_sign"])
def test_an_unknown_field_or_a_bad_assignment_stops_with_a_message(assignment: str) -> None:
    with pytest.raises(SystemExit, match="--set"):
        with_setting(TrainerConfig(), assignment)


def test_a_phrase_is_two_words_joined_by_a_comma() -> None:
    assert parse_phrase("bird,zero") == ("bird", "zero")
    for text in ("bird", "bird,", ",zero", "bird,cat,zero"):
        with pytest.raises(SystemExit, match="--phrases"):
            parse_phrase(text)


def test_a_trained_head_is_decoded_at_each_window_asked_for_and_otherwise_at_its_own() -> None:
    head = WordHead("sha256:x", np.ones(4, dtype=np.float32), 0.5, {WINDOW_KEY: 400, "k": 1})
    assert at_windows(head, None) == [(400, head)]
    windows = at_windows(head, [500, 600])
    assert [w for w, _ in windows] == [500, 600]
    assert [h.details[WINDOW_KEY] for _, h in windows] == [500, 600]
    assert all(h.details["k"] == 1 and h.bias == head.bias for _, h in windows)


def test_latency_runs_from_the_words_end_to_its_first_detection_in_the_slot() -> None:
    empty = np.zeros(0)
    # Three 3-s slots: a word ending at 1.0 s, a clip with no audible word, a word ending at 7.0 s.
    stream = CachedStream(empty, empty, empty, ["w", "w", "w"], 9.0, [], [1000, None, 7000])
    detections = [(1300, "w"), (1500, "w"), (4000, "w"), (7250, "x"), (7400, "w")]
    assert latencies_ms(detections, stream, "w") == [300, 400]


def test_runs_split_over_processes_are_summed_per_setting() -> None:
    def row(word: str, found: float, unsaid: float, latencies: list[int]) -> dict[str, object]:
        return {
            "word": word, "condition": "5 speakers", "rate": 0.001, "window_ms": 600,
            "detection": found, "fa_per_hour": unsaid, "fa_per_hour_unsaid": unsaid,
            "latencies_ms": latencies,
        }  # fmt: skip

    groups = settings_of([row("bird", 0.8, 1.0, [300, 500]), row("nine", 0.6, 0.0, [400])])
    ((setting, rows),) = groups.items()
    assert setting == ("5 speakers", 0.001, 600) and len(rows) == 2
    line = setting_line(setting, rows)
    assert "| 2 | 70.0% | 0.50 | 0.50 (0.5, 1.0) | 400 / " in line


def test_the_own_voice_figure_averages_the_sets_that_have_other_takes() -> None:
    rows = [
        {"own_voice_detection": 1.0, "own_voice_tests": 3},
        {"own_voice_detection": 0.5, "own_voice_tests": 2},
        {"detection": 0.4},  # a speaker with exactly five takes: nothing of their own left
    ]
    assert own_voice_summary(rows) == "75.0% (2, 5) | "
    assert own_voice_summary([{"detection": 0.4}]) == " | "
    talking = [
        {"own_talk_false_accepts": 1, "own_talk_seconds": 1200.0},
        {"own_talk_false_accepts": 0, "own_talk_seconds": 600.0},
    ]
    assert own_voice_summary(talking) == " | 2.00 (1 in 30 min, 2 sets)"
