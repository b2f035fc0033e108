"""Recording for the Add-word dialog: a tap on a running listener, or a listener of its own.

One capture per device: while the window listens, a recording taps its listener (the blocks are
handed over on the listening thread, before the pipeline); when nothing listens, `record` opens the
device for the recording on a daemon thread. Either way the GUI thread only polls the tap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from kws_app.audio.devices import DeviceError, InputDevice
from kws_app.audio.sources import SourceFactory
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.session.listener import LEVEL_FLOOR_DB, FloatArray, Listener, block_level_db

logger = logging.getLogger(__name__)


class RecordingTap:
    """`seconds` of a running capture, gathered on the listening thread for a consumer that polls.

    The consumer (the word recorder on the GUI thread) never blocks: it reads `level_db`,
    `complete` and `problem`, and takes `samples()` once complete. Memory is bounded by `seconds`.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._blocks: list[FloatArray] = []
        self._gathered = 0
        self._wanted: int | None = None
        self._rate: int | None = None
        self._level_db = LEVEL_FLOOR_DB
        self._problem: str | None = None
        self._closed = False

    # ----- the listening thread -----

    def attach(self, sample_rate: int) -> None:
        with self._lock:
            self._rate = sample_rate
            self._wanted = max(1, int(round(self._seconds * sample_rate)))

    def feed(self, block: FloatArray) -> bool:
        """Keep what the recording still needs; True once the tap wants nothing more."""
        with self._lock:
            if self._closed or self._problem is not None or self._wanted is None:
                return True
            part = np.asarray(block[: self._wanted - self._gathered], dtype=np.float32).copy()
            self._blocks.append(part)
            self._gathered += part.size
            self._level_db = block_level_db(part)
            return self._gathered >= self._wanted

    def fail(self, message: str) -> None:
        with self._lock:
            if self._wanted is None or self._gathered < self._wanted:
                self._problem = self._problem or message

    # ----- the consumer -----

    @property
    def sample_rate(self) -> int | None:
        with self._lock:
            return self._rate

    @property
    def level_db(self) -> float:
        with self._lock:
            return self._level_db

    @property
    def problem(self) -> str | None:
        with self._lock:
            return self._problem

    @property
    def complete(self) -> bool:
        with self._lock:
            return self._wanted is not None and self._gathered >= self._wanted

    def samples(self) -> FloatArray:
        with self._lock:
            if not self._blocks:
                return np.zeros(0, np.float32)
            return np.concatenate(self._blocks)

    def close(self) -> None:
        """The consumer is done (or gave up); the listener drops the tap with its next block."""
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed


# Opens a RecordingTap of so many seconds on the selected microphone.
TapOpener = Callable[[float], RecordingTap]


def record(
    source_factory: SourceFactory,
    device: InputDevice | None,
    stream_config: StreamConfig,
    tap: RecordingTap,
    previous: Listener | None = None,
) -> Listener:
    """Fill `tap` from a listener of its own, opened and run on a daemon thread, for when nothing
    listens on the device: it stops by itself once the tap is full, closed or failed."""
    listener = Listener(
        source_factory, device, stream_config, DecoderConfig(), None, previous=previous
    )
    listener.add_tap(tap)
    threading.Thread(target=_run_recording, args=(listener,), name="recording", daemon=True).start()
    return listener


def recorder(
    source_factory: SourceFactory, device: InputDevice | None, stream_config: StreamConfig
) -> TapOpener:
    """A TapOpener that opens the device for each recording (a dialog without a window)."""

    def open_tap(seconds: float) -> RecordingTap:
        tap = RecordingTap(seconds)
        record(source_factory, device, stream_config, tap)
        return tap

    return open_tap


def _run_recording(listener: Listener) -> None:
    try:
        listener.run()
    except DeviceError:
        pass  # the tap already holds the message
    except Exception:  # noqa: BLE001 - the tap says the recording stopped; the log says why
        logger.exception("recording failed")
