"""The one listening loop: source -> pipeline -> callback, for the window, --headless and recording.

`Listener.run()` runs on whatever thread calls it: the window's worker thread, the main thread of
`--headless`, or a daemon thread when the word recorder needs the microphone while nothing listens.
That thread opens the source (a device may take seconds to answer, so never the GUI thread), hands
each block to the recording taps first and then to the pipeline, and says that the device stalled
when no audio comes for `stall_timeout_s`. Other threads only post decoder settings and scorers to
a locked mailbox (applied before the next block), add or drop taps and ask it to stop; no other
thread ever touches the source or the pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kws_app.audio.devices import DeviceError, InputDevice, StreamStalledError
from kws_app.audio.sources import AudioSource, SourceFactory
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.dsp.levels import peak_dbfs
from kws_app.inference.pipeline import Detection, PipelineOutput, Scorer, StreamingPipeline

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# How often the loop wakes up when no audio comes, to notice a stop request or a stall.
POLL_INTERVAL_S = 0.05
# Level meter floor: blocks quieter than this show as empty.
LEVEL_FLOOR_DB = -80.0
# A new listener waits this long for the one it replaces to let go of the device (closing is
# bounded by the capture's own deadline), so no caller ever waits for either.
PREVIOUS_LISTENER_WAIT_S = 2.0
# What a recording tap hears when its listener stops before the recording is complete.
STOPPED_MESSAGE = "the microphone stopped before the recording was complete"


def block_level_db(block: FloatArray) -> float:
    """Peak level in dBFS, the usual reading of a recording level meter, floored for the meter."""
    return max(LEVEL_FLOOR_DB, peak_dbfs(block))


@dataclass(frozen=True)
class SourceInfo:
    name: str
    sample_rate: int
    model_rate: int


@dataclass(frozen=True)
class ListenerUpdate:
    """What some blocks of audio produced; every array is the listener's own copy.

    `labels` and `decoder_config` are what the pipeline ran with, so other threads learn what it
    applied from the updates instead of reading the pipeline.
    """

    frames: FloatArray
    stream_time_ms: int
    average_scores: tuple[float, ...] | None
    detections: tuple[Detection, ...]
    stride_time_s: float | None
    level_db: float
    overflows: int
    drops: int
    labels: tuple[str, ...]
    decoder_config: DecoderConfig


class Tap(Protocol):
    """A consumer of the raw blocks (kws_app.session.recording.Tap), fed on the
    listening thread."""

    def attach(self, sample_rate: int) -> None: ...

    def feed(self, block: FloatArray) -> bool:
        """Take a block; True once the tap wants nothing more."""
        ...

    def fail(self, message: str) -> None: ...


class Listener:
    """Reads one source until stopped, stalled or ended; see the module docstring.

    With no scorer it only feeds its taps (a recording while the window is not listening), and
    it stops by itself once no tap is left.
    """

    def __init__(
        self,
        source_factory: SourceFactory,
        device: InputDevice | None,
        stream_config: StreamConfig,
        decoder_config: DecoderConfig,
        scorer: Scorer | None,
        *,
        emit_interval_s: float = 0.0,
        on_started: Callable[[SourceInfo], None] | None = None,
        on_update: Callable[[ListenerUpdate], None] | None = None,
        on_ended: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        stop: threading.Event | None = None,
        previous: Listener | None = None,
    ) -> None:
        self._source_factory = source_factory
        self.device = device
        self._stream_config = stream_config
        self._emit_interval_s = emit_interval_s
        self._on_started = on_started or (lambda info: None)
        self._on_update = on_update or (lambda update: None)
        self._on_ended = on_ended or (lambda: None)
        self._on_error = on_error or (lambda error: None)
        self._stop = stop or threading.Event()
        self._previous = previous
        self._lock = threading.Lock()
        self._decoder_config = decoder_config
        self._scorer = scorer
        self._pending_decoder: DecoderConfig | None = None
        self._pending_scorer: Scorer | None = None
        self._taps: list[Tap] = []
        self._source_rate: int | None = None
        self._over = False
        self.finished = threading.Event()

    # ----- any thread -----

    def set_decoder_config(self, config: DecoderConfig) -> None:
        """Applied before the next block (the threshold slider relies on this)."""
        with self._lock:
            self._pending_decoder = self._decoder_config = config

    def set_scorer(self, scorer: Scorer) -> None:
        """Applied before the next block, without reopening the source (custom words changed)."""
        with self._lock:
            self._pending_scorer = self._scorer = scorer

    def add_tap(self, tap: Tap) -> None:
        """Record from this listener's source; a finished listener fails the tap at once."""
        with self._lock:
            if self._over:
                tap.fail(STOPPED_MESSAGE)
                return
            if self._source_rate is not None:
                tap.attach(self._source_rate)
            self._taps.append(tap)

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or self.finished.is_set()

    # ----- the listening thread -----

    def run(self) -> None:
        """Listen until stopped or the source ends; raises DeviceError (StreamStalledError for a
        stall) and ConfigError (a model that cannot run at the source's rate).

        `on_error` hears of a failure before the source is closed: closing a stalled stream may
        take the capture's whole deadline, and the user should not wait that long to be told.
        """
        try:
            self._wait_for_previous()
            if self._stop.is_set():
                return
            try:
                source = self._open()
            except BaseException as error:
                self._failed(error)
                raise
            try:
                self._listen(source)
            except BaseException as error:
                self._failed(error)
                raise
            finally:
                _close(source)
        finally:
            self._fail_taps(STOPPED_MESSAGE)
            self.finished.set()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, DeviceError):  # a recording in progress says the same as the window
            self._fail_taps(str(error))
        self._on_error(error)

    def _wait_for_previous(self) -> None:
        """Let the listener this one replaces close the device first (it may allow one user)."""
        previous, self._previous = self._previous, None
        if previous is not None and not previous.finished.wait(PREVIOUS_LISTENER_WAIT_S):
            logger.warning("the previous listener is still closing its input; starting anyway")

    def _open(self) -> AudioSource:
        try:
            source = self._source_factory(self.device, self._stream_config)
            source.start()
        except DeviceError:
            raise
        except Exception as error:  # noqa: BLE001 - any audio back-end failure is a message
            logger.exception("the audio source failed to start")
            raise DeviceError(f"cannot open the audio input: {error}") from error
        return source

    def _fail_taps(self, message: str) -> None:
        with self._lock:
            self._over = True
            taps, self._taps = self._taps, []
        for tap in taps:
            tap.fail(message)

    def _feed_taps(self, block: FloatArray) -> int:
        """Hand the block to every tap; drop the finished ones. Returns how many are left."""
        with self._lock:
            taps = list(self._taps)
        finished = [tap for tap in taps if tap.feed(block)]
        with self._lock:
            self._taps = [tap for tap in self._taps if tap not in finished]
            return len(self._taps)

    def _listen(self, source: AudioSource) -> None:
        with self._lock:
            decoder_config, self._pending_decoder = self._decoder_config, None
            scorer, self._pending_scorer = self._scorer, None
            self._source_rate = source.sample_rate
            for tap in self._taps:
                tap.attach(source.sample_rate)
        pipeline = (
            StreamingPipeline(scorer, source.sample_rate, self._stream_config, decoder_config)
            if scorer is not None
            else None
        )
        model_rate = pipeline.frontend_config.sample_rate if pipeline else source.sample_rate
        self._on_started(SourceInfo(source.name, source.sample_rate, model_rate))
        stall_timeout_s = self._stream_config.stall_timeout_s
        last_block_at = last_emit_at = time.monotonic()
        batch = _Batch()
        while not self._stop.is_set():
            block = source.read(POLL_INTERVAL_S)
            if block is None:
                if source.ended:
                    if pipeline is not None and batch.blocks:
                        self._on_update(batch.take(pipeline, source))
                    self._on_ended()
                    return
                if time.monotonic() - last_block_at > stall_timeout_s:
                    raise StreamStalledError.after(source.name, stall_timeout_s)
                if pipeline is None and not self._has_taps():
                    return
                continue
            last_block_at = time.monotonic()
            taps_left = self._feed_taps(block)
            if pipeline is None:
                if not taps_left:
                    return
                continue
            self._apply_mailbox(pipeline)
            output = pipeline.process(block)
            batch.add(output, block_level_db(block))
            now = time.monotonic()
            if output.detections or now - last_emit_at >= self._emit_interval_s:
                self._on_update(batch.take(pipeline, source))
                last_emit_at = now

    def _has_taps(self) -> bool:
        with self._lock:
            return bool(self._taps)

    def _apply_mailbox(self, pipeline: StreamingPipeline) -> None:
        with self._lock:
            decoder, self._pending_decoder = self._pending_decoder, None
            scorer, self._pending_scorer = self._pending_scorer, None
        if scorer is not None:
            pipeline.set_scorer(scorer)
        if decoder is not None:
            pipeline.set_decoder_config(decoder)


def _close(source: AudioSource) -> None:
    try:
        source.stop()
    except Exception:  # noqa: BLE001 - a vanished device may fail to close
        logger.warning("stopping the audio source failed", exc_info=True)


class _Batch:
    """Pipeline outputs gathered between two updates; `take` hands over owned copies."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.blocks = 0
        self._frames: list[FloatArray] = []
        self._detections: list[Detection] = []
        self._average_scores: tuple[float, ...] | None = None
        self._elapsed_s = 0.0
        self._strides = 0
        self._level_db = LEVEL_FLOOR_DB

    def add(self, output: PipelineOutput, level_db: float) -> None:
        self.blocks += 1
        if output.frames.shape[0]:
            self._frames.append(np.array(output.frames, dtype=np.float32, copy=True))
        self._detections.extend(output.detections)
        if output.strides:
            self._average_scores = output.strides[-1].decision.average_scores
            self._elapsed_s += output.elapsed_s
            self._strides += len(output.strides)
        self._level_db = max(self._level_db, level_db)

    def take(self, pipeline: StreamingPipeline, source: AudioSource) -> ListenerUpdate:
        frames = (
            np.concatenate(self._frames) if self._frames else np.zeros((0, 0), dtype=np.float32)
        )
        update = ListenerUpdate(
            frames=frames,
            stream_time_ms=pipeline.time_ms,
            average_scores=self._average_scores,
            detections=tuple(self._detections),
            stride_time_s=self._elapsed_s / self._strides if self._strides else None,
            level_db=self._level_db,
            overflows=source.overflows,
            drops=source.drops,
            labels=pipeline.labels,
            decoder_config=pipeline.decoder_config,
        )
        self._reset()
        return update
