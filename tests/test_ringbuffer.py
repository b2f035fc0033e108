"""The ring buffer keeps the newest items contiguous without reallocating."""

from __future__ import annotations

import numpy as np
import pytest

from kws_app.audio.ringbuffer import RingBuffer


def test_latest_items_come_out_oldest_first_across_the_wrap() -> None:
    ring = RingBuffer(5)
    ring.extend(np.arange(3))
    ring.extend(np.arange(3, 8))
    np.testing.assert_array_equal(ring.latest(5), [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(ring.latest(2), [6, 7])
    assert len(ring) == 5 and ring.total_written == 8


def test_rows_of_frames_are_read_as_one_contiguous_view() -> None:
    ring = RingBuffer(4, (3,))
    for value in range(10):
        ring.extend(np.full((1, 3), value))
    latest = ring.latest(4)
    np.testing.assert_array_equal(latest[:, 0], [6, 7, 8, 9])
    assert latest.flags.c_contiguous
    assert not latest.flags.writeable


def test_memory_is_preallocated_and_reads_do_not_copy() -> None:
    ring = RingBuffer(8)
    ring.extend(np.arange(20))
    first, second = ring.latest(8), ring.latest(8)
    assert np.shares_memory(first, second)


def test_a_block_larger_than_the_capacity_keeps_its_tail() -> None:
    ring = RingBuffer(3)
    ring.extend(np.arange(10))
    np.testing.assert_array_equal(ring.latest(3), [7, 8, 9])
    assert ring.total_written == 10


def test_random_writes_match_a_plain_list() -> None:
    rng = np.random.default_rng(0)
    ring, reference = RingBuffer(50), []
    for _ in range(200):
        block = rng.standard_normal(int(rng.integers(0, 70))).astype(np.float32)
        ring.extend(block)
        reference.extend(block.tolist())
        count = min(len(reference), 50)
        np.testing.assert_allclose(ring.latest(count), reference[len(reference) - count :])


def test_reading_more_than_the_capacity_is_an_error() -> None:
    with pytest.raises(ValueError):
        RingBuffer(3).latest(4)


def test_wrong_item_shape_is_an_error() -> None:
    with pytest.raises(ValueError):
        RingBuffer(3, (2,)).extend(np.zeros((1, 3)))
