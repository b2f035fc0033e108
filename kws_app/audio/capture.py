"""Microphone capture: the PortAudio callback only copies the block into a bounded queue.

The callback runs on PortAudio's real-time thread, so it never logs, never touches Qt, never blocks
and never raises; it counts overflows (PortAudio lost input) and drops (our queue was full) for the
status bar. Everything else happens on the consumer's thread.

A stalled device (a suspended PulseAudio source, a hung driver) can keep PortAudio calls from ever
returning: `Pa_StopStream` waits for buffers that never come, and `Pa_Terminate` then waits on that
stream's thread or frees it twice. So every call that may block (open, abort, close) runs on a
daemon thread with a deadline; a stream that misses it is abandoned to that thread, and PortAudio is
not terminated at exit while any such call is still inside it (`portaudio_busy()` tells the entry
point to leave with `os._exit` instead).
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from kws_app.audio.devices import (
    DeviceError,
    DeviceUnavailableError,
    InputDevice,
    RateRefusedError,
    StreamStalledError,
    _sounddevice,
)
from kws_app.config import MS_PER_SECOND, StreamConfig

__all__ = [
    "AudioCapture",
    "StreamStalledError",
    "portaudio_busy",
    "STREAM_CLOSE_TIMEOUT_S",
    "STREAM_OPEN_TIMEOUT_S",
]

logger = logging.getLogger(__name__)

# PortAudio's error codes (portaudio.h, PaErrorCode) that mean "the device answered, but no".
PA_INVALID_CHANNEL_COUNT = -9998
PA_INVALID_SAMPLE_RATE = -9997
# Opening checks the settings, opens and starts the stream; ALSA alone may wait up to 1 s for its
# capture thread, so a device that needs longer than this is not going to answer.
STREAM_OPEN_TIMEOUT_S = 3.0
# Abort and close return in about a millisecond on a healthy or a suspended device; a stream still
# inside PortAudio after this long is stuck and is left to its daemon thread.
STREAM_CLOSE_TIMEOUT_S = 1.0

_Result = TypeVar("_Result")


class _CallTimedOut(Exception):
    """A PortAudio call missed its deadline; it goes on, abandoned, on its daemon thread."""


class _BlockingCall:
    """One PortAudio call on its own daemon thread, and whether its caller stopped waiting."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None


_registry_lock = threading.Lock()
_in_flight: set[_BlockingCall] = set()
_terminate_skipped = False


def portaudio_busy() -> bool:
    """True while any thread is inside a PortAudio call made here (an abandoned one included).

    Terminating PortAudio then would wait on, or free, a stream that call still uses: the entry
    point checks this and leaves with `os._exit` instead of the normal interpreter shutdown.
    """
    with _registry_lock:
        return bool(_in_flight)


def _remember(call: _BlockingCall) -> None:
    with _registry_lock:
        _in_flight.add(call)


def _forget(call: _BlockingCall) -> None:
    """The call returned; once none is left inside PortAudio, terminating it at exit is safe."""
    global _terminate_skipped
    with _registry_lock:
        _in_flight.discard(call)
        if _in_flight or not _terminate_skipped:
            return
        _terminate_skipped = False
    handler = _sounddevice_exit_handler()
    if handler is not None:
        atexit.register(handler)
        logger.info("no PortAudio call is stuck any more; it will be terminated at exit")


def _sounddevice_exit_handler() -> Callable[[], None] | None:
    module = sys.modules.get("sounddevice")
    return getattr(module, "_exit_handler", None) if module is not None else None


def _skip_portaudio_terminate() -> None:
    """Keep sounddevice's atexit handler from calling Pa_Terminate while a call is stuck."""
    global _terminate_skipped
    handler = _sounddevice_exit_handler()
    with _registry_lock:
        if _terminate_skipped or handler is None:
            return
        _terminate_skipped = True
    atexit.unregister(handler)


def _call_with_deadline(
    description: str,
    action: Callable[[], _Result],
    timeout_s: float,
    discard: Callable[[_Result], None] | None = None,
) -> _Result:
    """`action()` on a daemon thread: its result or its exception, or _CallTimedOut.

    After a timeout the call goes on alone; if it then succeeds, `discard` gets the late result
    (e.g. a stream opened after its caller gave up), still on the daemon thread.
    """
    call = _BlockingCall(description)

    def body() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = action()
        except BaseException as raised:  # noqa: BLE001 - handed to the waiting thread
            error = raised
        with call.lock:
            abandoned = call.abandoned
            call.result, call.error = result, error
            call.done.set()
        try:
            if abandoned:
                logger.info("%s returned after its caller gave up", description)
                if discard is not None and error is None:
                    discard(result)
        except Exception:  # noqa: BLE001 - nobody is left to tell but the log
            logger.warning("cleaning up after %s failed", description, exc_info=True)
        finally:
            _forget(call)

    _remember(call)
    threading.Thread(target=body, name=f"portaudio: {description}", daemon=True).start()
    call.done.wait(timeout_s)
    with call.lock:
        if not call.done.is_set():
            call.abandoned = True
    if call.abandoned:
        _skip_portaudio_terminate()
        raise _CallTimedOut(description)
    if call.error is not None:
        raise call.error
    return call.result


def _abort_and_close(stream: Any) -> None:
    """Abort, not stop: stop waits for pending buffers, which a stalled device never delivers."""
    stream.abort(ignore_errors=True)
    stream.close(ignore_errors=True)


def _error_code(error: BaseException) -> int | None:
    """PortAudioError carries (text, PaErrorCode[, host error]); anything else has no code."""
    args: tuple[Any, ...] = getattr(error, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _error_text(error: BaseException) -> str:
    args = getattr(error, "args", ())
    text = str(args[0]) if args else str(error)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(error).__name__


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

    def _device_error(self, error: BaseException) -> DeviceError:
        """Only PortAudio's "invalid sample rate" means the rate is refused; a stopped sound
        server shows up as other codes (e.g. "Illegal combination of I/O devices")."""
        name, text = self.device.name, _error_text(error)
        code = _error_code(error)
        if code == PA_INVALID_SAMPLE_RATE:
            return RateRefusedError(f"input device {name!r} refuses {self.sample_rate} Hz: {text}")
        if code == PA_INVALID_CHANNEL_COUNT:
            return DeviceError(f"input device {name!r} cannot record mono: {text}")
        return DeviceUnavailableError(
            f"input device {name!r} is unavailable (is the sound server running and the device "
            f"plugged in?): {text}"
        )

    def _open(self, sd: Any) -> Any:
        """Check, open and start a stream (on a daemon thread: any of these may hang)."""
        try:
            sd.check_input_settings(
                device=self.device.index, channels=1, dtype="float32", samplerate=self.sample_rate
            )
            stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                dtype="float32",
                samplerate=self.sample_rate,
                blocksize=self.block_samples,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as error:
            raise self._device_error(error) from error
        try:
            stream.start()
        except sd.PortAudioError as error:
            stream.close(ignore_errors=True)
            raise self._device_error(error) from error
        return stream

    def start(self) -> None:
        sd = _sounddevice()
        name = self.device.name
        try:
            self._stream = _call_with_deadline(
                f"opening {name!r}",
                lambda: self._open(sd),
                STREAM_OPEN_TIMEOUT_S,
                discard=_abort_and_close,
            )
        except _CallTimedOut as error:
            raise DeviceUnavailableError(
                f"input device {name!r} did not open within {STREAM_OPEN_TIMEOUT_S:g} s: "
                "the sound server or the device does not answer"
            ) from error
        logger.info("capturing from %s at %d Hz", name, self.sample_rate)

    def read(self, timeout_s: float) -> npt.NDArray[np.float32] | None:
        """The next block, or None if none came within `timeout_s` (the caller judges stalls)."""
        try:
            return self.blocks.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def active(self) -> bool:
        stream = self._stream
        if stream is None:
            return False
        try:
            return bool(stream.active)
        except Exception:  # noqa: BLE001 - PortAudio errors here mean the stream is gone
            return False

    def stop(self) -> bool:
        """Abort and close the stream within STREAM_CLOSE_TIMEOUT_S, whatever the device does.

        Returns False when the stream was stuck and left to a daemon thread (see portaudio_busy).
        """
        stream, self._stream = self._stream, None
        if stream is None:
            return True
        try:
            _call_with_deadline(
                f"closing {self.device.name!r}",
                lambda: _abort_and_close(stream),
                STREAM_CLOSE_TIMEOUT_S,
            )
        except _CallTimedOut:
            logger.warning(
                "the input stream of %r did not close within %g s; left to a background thread",
                self.device.name,
                STREAM_CLOSE_TIMEOUT_S,
            )
            return False
        except Exception as error:  # noqa: BLE001 - an unplugged device may fail to close
            logger.warning("closing the input stream failed: %s", _error_text(error))
        return True
