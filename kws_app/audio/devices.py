"""Input devices as the user sees them: default first, chosen by index or by part of the name."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kws_app.errors import UserError

logger = logging.getLogger(__name__)


class DeviceError(UserError):
    """No usable input device; str() is a one-line message."""


class RateRefusedError(DeviceError):
    """The device answered but refuses this sample rate: another rate may still work."""


class DeviceUnavailableError(DeviceError):
    """The device or the sound server behind it does not answer: no other rate will help."""


class StreamStalledError(DeviceError):
    """No audio arrived for longer than the stall timeout (device unplugged, suspended or hung)."""

    @classmethod
    def after(cls, device_name: str, timeout_s: float) -> StreamStalledError:
        """The one message the window, --headless and the log all give for a stall."""
        return cls(
            f"no audio from {device_name!r} for {timeout_s:g} s: "
            "is it unplugged or used by another program?"
        )


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: int
    is_default: bool

    def describe(self) -> str:
        mark = " (default)" if self.is_default else ""
        return f"{self.index}: {self.name} [{self.host_api}] {self.default_rate} Hz{mark}"


def _sounddevice():  # type: ignore[no-untyped-def]
    """Imported late: without PortAudio `import sounddevice` raises OSError, which we explain."""
    try:
        import sounddevice
    except OSError as error:
        raise DeviceError(
            "PortAudio library not found: install it (Debian/Ubuntu: sudo apt-get install "
            "libportaudio2)"
        ) from error
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        host_apis = sd.query_hostapis()
    except sd.PortAudioError as error:
        raise DeviceError(f"cannot list audio devices: {error}") from error
    try:
        default_input = sd.default.device[0]
    except (sd.PortAudioError, IndexError, TypeError):
        default_input = -1
    found = [
        InputDevice(
            index=index,
            name=str(device["name"]),
            host_api=str(host_apis[device["hostapi"]]["name"]),
            channels=int(device["max_input_channels"]),
            default_rate=int(device["default_samplerate"]),
            is_default=index == default_input,
        )
        for index, device in enumerate(devices)
        if device["max_input_channels"] > 0
    ]
    return sorted(found, key=lambda device: (not device.is_default, device.index))


def find_input_device(spec: str | int | None) -> InputDevice:
    """The device named by an index or a case-insensitive part of its name; None means default."""
    devices = list_input_devices()
    if not devices:
        raise DeviceError("no audio input device found: plug in a microphone")
    if spec is None or spec == "":
        return devices[0]
    text = str(spec).strip()
    if text.isdigit():
        for device in devices:
            if device.index == int(text):
                return device
        raise DeviceError(f"no input device with index {text} (see --list-devices)")
    matches = [device for device in devices if text.lower() in device.name.lower()]
    if not matches:
        raise DeviceError(f"no input device matches {text!r} (see --list-devices)")
    exact = [device for device in matches if device.name.lower() == text.lower()]
    if len(matches) > 1 and not exact:
        names = ", ".join(repr(device.name) for device in matches)
        raise DeviceError(f"{text!r} matches several input devices: {names}; use the index")
    return (exact or matches)[0]
