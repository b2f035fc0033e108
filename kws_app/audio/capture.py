"""Microphone capture: the PortAudio callback only copies the block into a bounded queue.

The callback runs on PortAudio's real-time thread, so it never logs, never touches Qt, never blocks
and never raises; it counts overflows (PortAudio lost input) and drops (our queue was full) for the
status bar. Everything else happens on the consumer's thread.
"""

from __future__ import annotations

import logging
import queue
from typing import Any

import numpy as np
import numpy.typing as npt

from kws_app.audio.devices import DeviceError, InputDevice, _sounddevice
from kws_app.config import MS_PER_SECOND, StreamConfig

logger = logging.getLogger(__name__)


class StreamStalledError(DeviceError):
    """No audio arrived for longer than the stall timeout (device unplugged or hung)."""


class AudioCapture:
    def __init__(
        self, device: InputDevice, config: StreamConfig, sample_rate: int | None = None
    ) -> None:
        self.device = device
        self.config = config
        self.sample_rate = sample_rate or device.default_rate
        self.blocks: queue.Queue[npt.NDArray[np.float32]] = queue.Queue(maxsize=config.queue_blocks)
        self.overflows = 0
        self.drops = 0
        self.callbacks = 0
        self._stream: Any = None

    @property
    def block_samples(self) -> int:
        return self.sample_rate * self.config.block_ms // MS_PER_SECOND

    def _callback(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        try:
            self.callbacks += 1
            if status.input_overflow:
                self.overflows += 1
            self.blocks.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.drops += 1
        except BaseException:  # noqa: BLE001 - the real-time thread must never raise
            self.drops += 1

    def start(self) -> None:
        sd = _sounddevice()
        name = self.device.name
        try:
            sd.check_input_settings(
                device=self.device.index, channels=1, dtype="float32", samplerate=self.sample_rate
            )
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(
                f"input device {name!r} refuses {self.sample_rate} Hz mono: {error}"
            ) from error
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                dtype="float32",
                samplerate=self.sample_rate,
                blocksize=self.block_samples,
                callback=self._callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as error:
            self._stream = None
            raise DeviceError(f"cannot open input device {name!r}: {error}") from error
        logger.info("capturing from %s at %d Hz", name, self.sample_rate)

    def read(self, timeout_s: float) -> npt.NDArray[np.float32] | None:
        """The next block, or None if none came within `timeout_s` (the caller judges stalls)."""
        try:
            return self.blocks.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        sd = _sounddevice()
        try:
            stream.stop()
            stream.close()
        except (
            sd.PortAudioError
        ) as error:  # an unplugged device may fail to stop; it is gone anyway
            logger.warning("closing the input stream failed: %s", error)
