"""A sound server that is not running is named as such, not as a sample rate the device refuses.

The fault campaign's Retry, with PulseAudio stopped, said the device "refuses 44100 Hz" and then
tried other rates. Here the server really stops (`pactl exit`) under PortAudio's `pulse` device,
so the error codes are PortAudio's own, not a stand-in's.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from virtual_mic import PORTAUDIO_DEVICE, virtual_microphone

from kws_app.audio.capture import STREAM_OPEN_TIMEOUT_S, AudioCapture
from kws_app.audio.devices import DeviceUnavailableError, RateRefusedError, find_input_device
from kws_app.config import StreamConfig

__all__ = ["virtual_microphone"]  # the fixture, imported for pytest

pytestmark = pytest.mark.virtual_mic

SERVER_GONE_LIMIT_S = 5.0


def stop_server(microphone) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["pactl", "exit"], env=microphone.child_env(), capture_output=True)
    deadline = time.monotonic() + SERVER_GONE_LIMIT_S
    while (
        subprocess.run(
            ["pactl", "info"], env=microphone.child_env(), capture_output=True
        ).returncode
        == 0
    ):
        assert time.monotonic() < deadline, "the PulseAudio server did not stop"
        time.sleep(0.05)


def test_a_stopped_sound_server_is_unavailable_at_every_rate(virtual_microphone) -> None:
    device = find_input_device(PORTAUDIO_DEVICE)
    stop_server(virtual_microphone)
    for rate in (device.default_rate, 16000):
        capture = AudioCapture(device, StreamConfig(), sample_rate=rate)
        started = time.monotonic()
        with pytest.raises(DeviceUnavailableError) as raised:
            capture.start()
        assert time.monotonic() - started < STREAM_OPEN_TIMEOUT_S + SERVER_GONE_LIMIT_S
        message = str(raised.value)
        assert not isinstance(raised.value, RateRefusedError)
        assert "unavailable" in message and "sound server" in message, message
        assert "refuses" not in message and "\n" not in message
        assert not capture.active
