"""Audio sources a listener reads from: the microphone, or samples replayed from memory.

The listener (kws_app.session.listener) only sees the `AudioSource` protocol and builds its source
through a factory, so tests drive the real listener, worker and window from arrays and WAV files,
and simulate broken devices, without touching PortAudio. No Qt here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from kws_app.audio.devices import DeviceError, InputDevice, RateRefusedError
from kws_app.config import MS_PER_SECOND, StreamConfig

if TYPE_CHECKING:  # imported for real only when capture starts: sounddevice may be missing
    from kws_app.audio.capture import AudioCapture

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# Rates tried, after the device's own, when a device refuses its advertised default rate.
FALLBACK_RATES = (16000, 48000, 44100)


class AudioSource(Protocol):
    """A stream of mono float32 blocks at `sample_rate`."""

    @property
    def name(self) -> str: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def overflows(self) -> int: ...

    @property
    def drops(self) -> int: ...

    @property
    def ended(self) -> bool:
        """True when a finite source has delivered everything (a microphone never ends)."""
        ...

    def start(self) -> None: ...

    def read(self, timeout_s: float) -> FloatArray | None:
        """The next block, None when none came within the timeout; raises DeviceError."""
        ...

    def stop(self) -> None: ...


SourceFactory = Callable[[InputDevice | None, StreamConfig], AudioSource]


class MicrophoneSource:
    """AudioCapture plus what the window needs: a rate fallback and noticing a dead stream."""

    def __init__(self, device: InputDevice, config: StreamConfig) -> None:
        self.device = device
        self.config = config
        self._capture: AudioCapture | None = None  # set once started

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def sample_rate(self) -> int:
        return self._capture.sample_rate if self._capture else self.device.default_rate

    @property
    def overflows(self) -> int:
        return self._capture.overflows if self._capture else 0

    @property
    def drops(self) -> int:
        return self._capture.drops if self._capture else 0

    @property
    def ended(self) -> bool:
        return False

    def start(self) -> None:
        from kws_app.audio.capture import AudioCapture  # imports sounddevice, which may be missing

        rates = [self.device.default_rate] + [
            rate for rate in FALLBACK_RATES if rate != self.device.default_rate
        ]
        first_error: DeviceError | None = None
        for rate in rates:
            capture = AudioCapture(self.device, self.config, sample_rate=rate)
            try:
                capture.start()
            except RateRefusedError as error:
                first_error = first_error or error
                continue
            # Any other DeviceError (sound server down, device gone) is raised as it is: no
            # other rate can help, and "refuses 44100 Hz" would send the user the wrong way.
            if rate != self.device.default_rate:
                logger.warning("%s refused %d Hz; using %d Hz", self.name, rates[0], rate)
            self._capture = capture
            return
        assert first_error is not None
        raise first_error

    def read(self, timeout_s: float) -> FloatArray | None:
        if self._capture is None:
            raise DeviceError("the microphone is not started")
        block = self._capture.read(timeout_s)
        if block is None and not self._capture.active:
            raise DeviceError(f"input device {self.name!r} stopped: was it unplugged?")
        return block

    def stop(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.stop()


def microphone_factory(device: InputDevice | None, config: StreamConfig) -> AudioSource:
    if device is None:
        raise DeviceError("no audio input device found: plug in a microphone and press Refresh")
    return MicrophoneSource(device, config)


class ArraySource:
    """Replays samples in blocks, in real time (like a microphone) or as fast as it is read."""

    def __init__(
        self,
        samples: npt.ArrayLike,
        sample_rate: int,
        config: StreamConfig,
        realtime: bool = False,
        name: str = "file",
    ) -> None:
        self._samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self._rate = sample_rate
        self._name = name
        self._block = max(1, sample_rate * config.block_ms // MS_PER_SECOND)
        self._realtime = realtime
        self._position = 0
        self._started_at = 0.0

    @property
    def name(self) -> str:
        return self._name

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def overflows(self) -> int:
        return 0

    @property
    def drops(self) -> int:
        return 0

    @property
    def ended(self) -> bool:
        return self._position >= self._samples.shape[0]

    def start(self) -> None:
        self._position = 0
        self._started_at = time.monotonic()

    def read(self, timeout_s: float) -> FloatArray | None:
        if self.ended:
            return None
        end = min(self._position + self._block, self._samples.shape[0])
        if self._realtime:
            due = self._started_at + end / self._rate
            wait_s = due - time.monotonic()
            if wait_s > timeout_s:
                time.sleep(timeout_s)
                return None
            if wait_s > 0:
                time.sleep(wait_s)
        block = self._samples[self._position : end].copy()
        self._position = end
        return block

    def stop(self) -> None:
        self._position = self._samples.shape[0]
