"""The pipeline worker: a QThread that runs one session Listener, its callbacks made signals.

The listening loop itself (source, pipeline, stalls, mailbox) is `kws_app.session.listener`; this
adapter only gives it a thread Qt can watch and says how each way of ending reads to the user.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QThread, Signal

from kws_app.audio.devices import DeviceError, InputDevice, StreamStalledError
from kws_app.audio.sources import SourceFactory
from kws_app.config import ConfigError, DecoderConfig, StreamConfig
from kws_app.inference.pipeline import Scorer
from kws_app.session.listener import Listener, Tap

logger = logging.getLogger(__name__)

# Updates are batched to about the window's draw rate; a detection is sent at once.
DEFAULT_EMIT_INTERVAL_S = 1 / 30


# Workers that outlived their window; a running QThread must not be destroyed (Qt aborts).
_kept_until_exit: list[QThread] = []


def keep_until_exit(worker: QThread) -> None:
    """Detach a worker that is still running from its window and keep it alive from here on."""
    worker.setParent(None)
    _kept_until_exit.append(worker)


def workers_still_running() -> bool:
    """True when a detached worker still runs: the process must leave without normal shutdown."""
    return any(worker.isRunning() for worker in _kept_until_exit)


class PipelineWorker(QThread):
    listening = Signal(object)  # SourceInfo
    updated = Signal(object)  # ListenerUpdate
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
        previous: Listener | None = None,
    ) -> None:
        super().__init__(parent)
        self.listener = Listener(
            source_factory,
            device,
            stream_config,
            decoder_config,
            scorer,
            emit_interval_s=emit_interval_s,
            on_started=self.listening.emit,
            on_update=self.updated.emit,
            on_ended=self.source_ended.emit,
            on_error=self._report,
            previous=previous,
        )

    def set_decoder_config(self, config: DecoderConfig) -> None:
        self.listener.set_decoder_config(config)

    def set_scorer(self, scorer: Scorer) -> None:
        self.listener.set_scorer(scorer)

    def add_tap(self, tap: Tap) -> None:
        self.listener.add_tap(tap)

    def request_stop(self) -> None:
        self.listener.request_stop()

    def run(self) -> None:
        try:
            self.listener.run()
        except Exception:  # noqa: BLE001 - already reported through on_error
            pass

    def _report(self, error: BaseException) -> None:
        """Called on this thread as the listener fails, before it closes the source."""
        if isinstance(error, StreamStalledError):
            self.stalled.emit(str(error))
        elif isinstance(error, DeviceError):
            self.failed.emit(str(error))
        elif isinstance(error, ConfigError):
            self.failed.emit(f"cannot run the model on this input: {error}")
        elif isinstance(error, Exception):  # the window must survive a broken source
            logger.error("the pipeline worker failed", exc_info=error)
            self.failed.emit(f"listening stopped: {error}")
