"""The pipeline worker: a QThread that owns the audio source and the StreamingPipeline.

It drains the source, runs the pipeline and emits owned copies of what the window shows. The GUI
thread never touches the source or the pipeline; decoder settings reach the worker through a
locked mailbox and apply on the next stride.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QThread, Signal

from kws_app.audio.devices import DeviceError, InputDevice, StreamStalledError
from kws_app.config import ConfigError, DecoderConfig, StreamConfig
from kws_app.inference.pipeline import Detection, PipelineOutput, Scorer, StreamingPipeline
from kws_app.ui.sources import AudioSource, SourceFactory

logger = logging.getLogger(__name__)

# How often the worker wakes up when no audio comes, to notice a stop request or a stall.
POLL_INTERVAL_S = 0.05
# Level meter floor: blocks quieter than this show as empty.
LEVEL_FLOOR_DB = -80.0
# Updates are batched to about the window's draw rate; a detection is sent at once.
DEFAULT_EMIT_INTERVAL_S = 1 / 30
# A new worker waits this long for the one it replaces to let go of the device (closing is bounded
# by the capture's own deadline), so the GUI thread never waits for either.
PREVIOUS_WORKER_WAIT_S = 2.0


@dataclass(frozen=True)
class SourceInfo:
    name: str
    sample_rate: int
    model_rate: int


@dataclass(frozen=True)
class WorkerUpdate:
    """What one block of audio produced; every array is the worker's own copy."""

    frames: npt.NDArray[np.float32]
    stream_time_ms: int
    average_scores: tuple[float, ...] | None
    detections: tuple[Detection, ...]
    stride_time_s: float | None
    level_db: float
    overflows: int
    drops: int


# Workers that outlived their window; a running QThread must not be destroyed (Qt aborts).
_kept_until_exit: list[QThread] = []


def keep_until_exit(worker: QThread) -> None:
    """Detach a worker that is still running from its window and keep it alive from here on."""
    worker.setParent(None)
    _kept_until_exit.append(worker)


def workers_still_running() -> bool:
    """True when a detached worker still runs: the process must leave without normal shutdown."""
    return any(worker.isRunning() for worker in _kept_until_exit)


def block_level_db(block: npt.NDArray[np.float32]) -> float:
    """Peak level in dBFS, the usual reading of a recording level meter."""
    if block.size == 0:
        return LEVEL_FLOOR_DB
    peak = float(np.max(np.abs(block)))
    return max(LEVEL_FLOOR_DB, 20.0 * float(np.log10(max(peak, 1e-12))))


class PipelineWorker(QThread):
    listening = Signal(object)  # SourceInfo
    updated = Signal(object)  # WorkerUpdate
    failed = Signal(str)  # a one-line message for the user
    stalled = Signal(str)  # the device went silent (a one-line message); the worker then ends
    source_ended = Signal()

    def __init__(
        self,
        scorer: Scorer,
        source_factory: SourceFactory,
        device: InputDevice | None,
        stream_config: StreamConfig,
        decoder_config: DecoderConfig,
        emit_interval_s: float = DEFAULT_EMIT_INTERVAL_S,
        parent: QObject | None = None,
        previous: QThread | None = None,
    ) -> None:
        super().__init__(parent)
        self._previous = previous
        self._emit_interval_s = emit_interval_s
        self._scorer = scorer
        self._source_factory = source_factory
        self._device = device
        self._stream_config = stream_config
        self._lock = threading.Lock()
        self._pending_decoder: DecoderConfig | None = None
        self._pending_scorer: Scorer | None = None
        self._decoder_config = decoder_config
        self._stop = threading.Event()
        self.pipeline: StreamingPipeline | None = None

    def set_decoder_config(self, config: DecoderConfig) -> None:
        """Thread-safe; the pipeline picks it up before its next block."""
        with self._lock:
            self._pending_decoder = config
            self._decoder_config = config

    def set_scorer(self, scorer: Scorer) -> None:
        """Thread-safe; the pipeline swaps to it (custom words changed) before its next block."""
        with self._lock:
            self._pending_scorer = scorer
            self._scorer = scorer

    def request_stop(self) -> None:
        self._stop.set()

    def stop_and_wait(self, timeout_s: float) -> bool:
        self.request_stop()
        return self.wait(int(timeout_s * 1000))

    def _wait_for_previous(self) -> None:
        """Let the worker this one replaces close the device first (a device may allow one user)."""
        previous, self._previous = self._previous, None
        if previous is not None and not previous.wait(int(PREVIOUS_WORKER_WAIT_S * 1000)):
            logger.warning("the previous pipeline worker is still closing; starting anyway")

    def run(self) -> None:
        self._wait_for_previous()
        if self._stop.is_set():
            return
        try:
            source = self._source_factory(self._device, self._stream_config)
            source.start()
        except DeviceError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # noqa: BLE001 - any audio back-end failure is a message
            logger.exception("the audio source failed to start")
            self.failed.emit(f"cannot open the audio input: {error}")
            return
        try:
            self._listen(source)
        except StreamStalledError as error:
            self.stalled.emit(str(error))
        except DeviceError as error:
            self.failed.emit(str(error))
        except ConfigError as error:
            self.failed.emit(f"cannot run the model on this input: {error}")
        except Exception as error:  # noqa: BLE001 - the window must survive a broken source
            logger.exception("the pipeline worker failed")
            self.failed.emit(f"listening stopped: {error}")
        finally:
            try:
                source.stop()
            except Exception:  # noqa: BLE001 - a vanished device may fail to close
                logger.warning("stopping the audio source failed", exc_info=True)

    def _listen(self, source: AudioSource) -> None:
        with self._lock:
            decoder_config, self._pending_decoder = self._decoder_config, None
        pipeline = StreamingPipeline(
            self._scorer, source.sample_rate, self._stream_config, decoder_config
        )
        self.pipeline = pipeline
        self.listening.emit(
            SourceInfo(source.name, source.sample_rate, pipeline.frontend_config.sample_rate)
        )
        stall_timeout_s = self._stream_config.stall_timeout_s
        last_block_at = last_emit_at = time.monotonic()
        batch = _Batch()
        while not self._stop.is_set():
            block = source.read(POLL_INTERVAL_S)
            if block is None:
                if source.ended:
                    if batch.blocks:
                        self.updated.emit(batch.take(pipeline.time_ms, source))
                    self.source_ended.emit()
                    return
                if time.monotonic() - last_block_at > stall_timeout_s:
                    raise StreamStalledError.after(source.name, stall_timeout_s)
                continue
            last_block_at = time.monotonic()
            with self._lock:
                pending, self._pending_decoder = self._pending_decoder, None
                scorer, self._pending_scorer = self._pending_scorer, None
            if scorer is not None:
                pipeline.set_scorer(scorer)
            if pending is not None:
                pipeline.set_decoder_config(pending)
            output = pipeline.process(block)
            batch.add(output, block_level_db(block))
            now = time.monotonic()
            if output.detections or now - last_emit_at >= self._emit_interval_s:
                self.updated.emit(batch.take(pipeline.time_ms, source))
                last_emit_at = now


class _Batch:
    """Pipeline outputs gathered between two emits; `take` hands over owned copies."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.blocks = 0
        self._frames: list[npt.NDArray[np.float32]] = []
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

    def take(self, stream_time_ms: int, source: AudioSource) -> WorkerUpdate:
        frames = (
            np.concatenate(self._frames) if self._frames else np.zeros((0, 0), dtype=np.float32)
        )
        update = WorkerUpdate(
            frames=frames,
            stream_time_ms=stream_time_ms,
            average_scores=self._average_scores,
            detections=tuple(self._detections),
            stride_time_s=self._elapsed_s / self._strides if self._strides else None,
            level_db=self._level_db,
            overflows=source.overflows,
            drops=source.drops,
        )
        self._reset()
        return update
