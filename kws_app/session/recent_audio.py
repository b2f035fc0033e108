"""The last seconds of the running capture, so a word the user says was a false alarm can be
handed back to its trainer with the very sound it fired on.

A tap on the listener (fed on the listening thread before the pipeline, like a recording), it
never finishes and holds at most `seconds` of audio at the source's rate. Positions are counted
in samples since the source opened, which is the pipeline's clock too (it hears the same blocks
from the start), so a detection's `time_ms` finds its sound here.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from kws_app.config import MS_PER_SECOND
from kws_app.session.listener import FloatArray


class RecentAudio:
    """At most `seconds` of the capture, for the GUI thread to cut a detection's sound from."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._blocks: deque[FloatArray] = deque()
        self._held = 0  # samples in _blocks
        self._fed = 0  # samples since the source opened
        self._rate: int | None = None
        self._limit = 0

    # ----- the listening thread -----

    def attach(self, sample_rate: int) -> None:
        with self._lock:
            self._rate = sample_rate
            self._limit = max(1, int(round(self._seconds * sample_rate)))
            self._blocks.clear()
            self._held = self._fed = 0

    def feed(self, block: FloatArray) -> bool:
        """Keep the block, forget what falls out of the last `seconds`; never done."""
        with self._lock:
            if self._rate is None:
                return False
            self._blocks.append(np.array(block, dtype=np.float32).reshape(-1))
            self._held += self._blocks[-1].size
            self._fed += self._blocks[-1].size
            while self._blocks and self._held - self._blocks[0].size >= self._limit:
                self._held -= self._blocks.popleft().size
            return False

    def fail(self, message: str) -> None:
        """The listener stopped: what is held stays readable until the next start."""

    # ----- the GUI thread -----

    def before(self, end_ms: int, span_ms: int) -> tuple[FloatArray, int] | None:
        """(samples, rate) of the `span_ms` before `end_ms` on the pipeline's clock, as much of
        it as is still held; None where none of it is."""
        with self._lock:
            if self._rate is None or not self._blocks:
                return None
            rate, fed = self._rate, self._fed
            held = np.concatenate(self._blocks)
        first = fed - held.size  # the position of held[0]
        end = min(fed, end_ms * rate // MS_PER_SECOND)
        start = max(first, end - span_ms * rate // MS_PER_SECOND)
        if end <= start:
            return None
        return held[start - first : end - first], rate
