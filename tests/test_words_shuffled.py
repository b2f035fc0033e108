"""The takes' own voice in another order: negatives that sound like the speaker, not the word."""

from __future__ import annotations

import numpy as np

from kws_app.words.trainer import TrainerConfig, shuffled, word_span

RATE = 16000
CONFIG = TrainerConfig()


def _take(seed: int = 0) -> np.ndarray:
    """Half a second of quiet, 400 ms of rising tone (the order matters), half a second of quiet."""
    rng = np.random.default_rng(seed)
    quiet = rng.normal(0.0, 1e-3, RATE // 2).astype(np.float32)
    t = np.arange(int(0.4 * RATE)) / RATE
    word = (0.5 * np.sin(2 * np.pi * (300 + 2000 * t) * t)).astype(np.float32)
    return np.concatenate([quiet, word, quiet[::-1]])


def _segments(samples: np.ndarray, start: int, count: int, segment: int) -> np.ndarray:
    return samples[start : start + count * segment].reshape(count, segment)


def _middles(rows: np.ndarray, fade: int) -> list[tuple[float, ...]]:
    return sorted(tuple(row) for row in np.round(rows[:, fade:-fade], 6))


def test_the_spoken_part_is_reordered_and_the_rest_left_where_it_was() -> None:
    take = _take()
    out = shuffled(take, RATE, CONFIG, np.random.default_rng(1))
    assert out.shape == take.shape and out.dtype == np.float32
    start, end = word_span(take, RATE)
    segment = RATE * CONFIG.shuffle_segment_ms // 1000
    count = (end - start) // segment
    assert count >= 2
    np.testing.assert_array_equal(out[:start], take[:start])
    np.testing.assert_array_equal(out[start + count * segment :], take[start + count * segment :])
    moved = _segments(out, start, count, segment)
    original = _segments(take, start, count, segment)
    assert not np.allclose(moved, original)
    # Every segment is one of the take's, faded at its edges: the middles match one to one.
    fade = RATE * CONFIG.shuffle_fade_ms // 1000
    assert _middles(moved, fade) == _middles(original, fade)
    # The joins are faded, so no segment starts or ends at full level.
    assert np.abs(moved[:, 0]).max() == 0.0 and np.abs(moved[:, -1]).max() == 0.0


def test_the_same_generator_state_gives_the_same_order() -> None:
    take = _take()
    first = shuffled(take, RATE, CONFIG, np.random.default_rng(7))
    again = shuffled(take, RATE, CONFIG, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)


def test_a_take_shorter_than_two_segments_is_left_as_it_is() -> None:
    click = np.zeros(RATE, dtype=np.float32)
    click[RATE // 2 : RATE // 2 + 200] = 0.5
    out = shuffled(click, RATE, CONFIG, np.random.default_rng(0))
    np.testing.assert_array_equal(out, click)
    assert out is not click
