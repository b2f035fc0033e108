"""A virtual microphone for tests and benchmarks: a private PulseAudio server whose null sink's
monitor, remapped as a source, is what PortAudio's `pulse` device records.

Use `VirtualMicrophone` as a context manager (benchmarks, subprocesses) or the
`virtual_microphone` pytest fixture, which skips, naming the missing tools, where PulseAudio is
not installed. Audio played with `play()` is what the microphone hears. Recipe and pitfalls:
../shared/platform-notes.md (keep-alive reader, leading silence, PULSE_SERVER before PortAudio).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

logger = logging.getLogger(__name__)

REQUIRED_TOOLS = ("pulseaudio", "pactl", "paplay", "parec")
SINK_NAME = "vspk"
SOURCE_NAME = "vmic"
PORTAUDIO_DEVICE = "pulse"
SINK_RATE = 16000
# Pulse loses the start of the first playback with large capture blocks; pad every clip.
LEADING_SILENCE_S = 0.3
TRAILING_SILENCE_S = 0.2
STARTUP_TIMEOUT_S = 10.0
_ENV_KEYS = ("PULSE_SERVER", "PULSE_COOKIE")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def padded(samples: npt.ArrayLike, rate: int) -> npt.NDArray[np.float32]:
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    lead = np.zeros(int(LEADING_SILENCE_S * rate), np.float32)
    tail = np.zeros(int(TRAILING_SILENCE_S * rate), np.float32)
    return np.concatenate((lead, audio, tail))


def write_wav(path: Path, samples: npt.ArrayLike, rate: int) -> Path:
    """A 16-bit WAV with the leading silence the virtual microphone needs."""
    soundfile.write(path, padded(samples, rate), rate, subtype="PCM_16")
    return path


def speak(word: str, path: Path) -> Path:
    """A spoken word from espeak-ng (when no real recording is at hand)."""
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), word], check=True)
    return path


def _reinitialise_portaudio() -> None:
    """PortAudio reads PULSE_SERVER only when it initialises: start it over if it already ran.

    Never while a stream may still be inside PortAudio (one abandoned after a stall): terminating
    then waits on that stream's thread forever or frees it twice.
    """
    sounddevice = sys.modules.get("sounddevice")
    if sounddevice is None:
        return
    from kws_app.audio.capture import portaudio_busy

    if portaudio_busy():
        logger.warning("a stream is stuck inside PortAudio: not re-initialising it")
        return
    sounddevice._terminate()
    sounddevice._initialize()


class VirtualMicrophone:
    def __init__(self, sink_rate: int = SINK_RATE) -> None:
        self.sink_rate = sink_rate
        self.directory: Path | None = None
        self._keep_alive: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        """Variables a child process needs to use this server (PULSE_SERVER, PULSE_COOKIE)."""
        assert self.directory is not None, "start() first"
        return {
            "PULSE_SERVER": f"unix:{self.directory / 'native'}",
            "PULSE_COOKIE": str(self.directory / "cookie"),
        }

    def _server_env(self) -> dict[str, str]:
        assert self.directory is not None
        return {
            **os.environ,
            "HOME": str(self.directory / "home"),
            "XDG_RUNTIME_DIR": str(self.directory / "xdg"),
            **self.env,
        }

    def _pactl(self, *args: str) -> None:
        subprocess.run(["pactl", *args], env=self._server_env(), check=True, capture_output=True)

    def start(self) -> VirtualMicrophone:
        missing = missing_tools()
        if missing:
            raise RuntimeError(f"virtual microphone needs: {', '.join(missing)}")
        self.directory = Path(tempfile.mkdtemp(prefix="kws-vmic-"))
        for name in ("xdg", "home"):
            (self.directory / name).mkdir(mode=0o700)
        socket = self.directory / "native"
        subprocess.run(
            [
                "pulseaudio",
                "-n",
                "--daemonize=yes",
                "--exit-idle-time=-1",
                f"--log-target=file:{self.directory / 'pulse.log'}",
                "-L",
                f"module-native-protocol-unix auth-anonymous=1 socket={socket}",
                "-L",
                f"module-null-sink sink_name={SINK_NAME} rate={self.sink_rate} channels=1",
                "-L",
                f"module-remap-source master={SINK_NAME}.monitor source_name={SOURCE_NAME}",
                "-L",
                "module-always-sink",
            ],
            env=self._server_env(),
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                self._pactl("info")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._pactl("set-default-sink", SINK_NAME)
        self._pactl("set-default-source", SOURCE_NAME)
        # Without a reader the idle null sink runs in ~2 s chunks and the first stream starts late.
        self._keep_alive = subprocess.Popen(
            ["parec", "-d", f"{SINK_NAME}.monitor", "--raw", "--latency-msec=20"],
            env=self._server_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        _reinitialise_portaudio()
        logger.info("virtual microphone on %s", self.env["PULSE_SERVER"])
        return self

    def suspend(self, suspended: bool = True) -> None:
        """Suspend (or resume) the microphone's source: streams stay open but no audio flows,
        like a hung or stalled device."""
        self._pactl("suspend-source", SOURCE_NAME, "1" if suspended else "0")

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment for a child process that records from this microphone."""
        return {**os.environ, **self.env, **extra}

    def play(self, path: Path, wait: bool = True) -> subprocess.Popen[bytes]:
        """Play a sound file into the microphone; with wait=False the caller owns the process."""
        process = subprocess.Popen(
            ["paplay", f"--device={SINK_NAME}", str(path)],
            env=self._server_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if wait:
            _, error = process.communicate()
            if process.returncode:
                raise RuntimeError(f"paplay failed: {error.decode(errors='replace').strip()}")
        return process

    def stop(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.terminate()
            self._keep_alive.wait()
            self._keep_alive = None
        if self.directory is not None:
            try:
                self._pactl("exit")
            except subprocess.CalledProcessError:
                logger.warning("the PulseAudio server had already gone")
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        _reinitialise_portaudio()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> VirtualMicrophone:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def virtual_microphone() -> Iterator[VirtualMicrophone]:
    """A running virtual microphone; skips naming the tools that are not installed."""
    missing = missing_tools()
    if missing:
        pytest.skip(
            f"virtual microphone needs {', '.join(missing)} "
            "(Debian: apt-get install pulseaudio pulseaudio-utils libasound2-plugins)"
        )
    with VirtualMicrophone() as microphone:
        yield microphone
