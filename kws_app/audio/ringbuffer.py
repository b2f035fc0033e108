"""Preallocated ring buffer whose latest items are always one contiguous slice.

Every item is written twice, at `i` and `i + capacity` of a double-length array (friture's trick),
so reading the newest N items is a view, never a concatenation, and writing costs one small copy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class RingBuffer:
    """A fixed-capacity FIFO of rows of shape `item_shape` (use () for scalars such as samples)."""

    def __init__(
        self, capacity: int, item_shape: tuple[int, ...] = (), dtype: npt.DTypeLike = np.float32
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._data = np.zeros((2 * capacity, *item_shape), dtype=dtype)
        self._write = 0  # next write position in [0, capacity)
        self.total_written = 0

    def __len__(self) -> int:
        return min(self.total_written, self.capacity)

    def clear(self) -> None:
        self._data[:] = 0
        self._write = 0
        self.total_written = 0

    def extend(self, items: npt.ArrayLike) -> None:
        rows = np.asarray(items, dtype=self._data.dtype)
        if rows.shape[1:] != self._data.shape[1:]:
            raise ValueError(f"items of shape {rows.shape[1:]} do not fit {self._data.shape[1:]}")
        if rows.shape[0] > self.capacity:
            rows = rows[-self.capacity :]  # older rows would be overwritten at once
        count = rows.shape[0]
        first = min(count, self.capacity - self._write)
        for offset in (0, self.capacity):
            start = self._write + offset
            self._data[start : start + first] = rows[:first]
            rest = count - first
            if rest:
                self._data[offset : offset + rest] = rows[first:]
        self._write = (self._write + count) % self.capacity
        self.total_written += np.asarray(items).shape[0]

    def latest(self, count: int) -> npt.NDArray[np.generic]:
        """A read-only view of the newest `count` items, oldest first (zeros if never written)."""
        if not 0 <= count <= self.capacity:
            raise ValueError(f"can read 0..{self.capacity} items, asked for {count}")
        end = self._write + self.capacity
        view = self._data[end - count : end]
        view.flags.writeable = False
        return view
