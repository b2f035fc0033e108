"""A stalled or vanished microphone never hangs or crashes the app, and is named for what it is.

Three layers: the capture itself with a scripted stand-in for sounddevice (a close or an open that
never returns is abandoned within its deadline), the window with scripted sources (it says
"stalled" and never waits for a worker), and the real app in a subprocess on the PulseAudio virtual
microphone whose source is suspended while it listens (it exits on request, with the right code).
Deadlines here are hang detection, not benchmarks.
"""

from __future__ import annotations

import io
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_factory import TONE_DECODER_ARGS
from ui_support import (
    FAKE_MIC,
    ScriptedSource,
    stall_then_recover_window,
)
from virtual_mic import PORTAUDIO_DEVICE, virtual_microphone

from kws_app.audio import capture
from kws_app.audio.devices import (
    DeviceUnavailableError,
    InputDevice,
    RateRefusedError,
    StreamStalledError,
)
from kws_app.audio.sources import ArraySource
from kws_app.cli import EXIT_USER_ERROR, CounterReporter, listen_headless
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.model import OnnxModel

__all__ = ["virtual_microphone"]  # the fixture, imported for pytest

REPO_DIR = Path(__file__).resolve().parents[1]
# Hang detection: far above what each step needs, far below "forever".
UNBLOCK_LIMIT_S = 3.0
EXIT_LIMIT_S = 5.0
STARTUP_LIMIT_S = 60.0
STALL_SHOWN_LIMIT_S = 20.0
# A click that waited for the stalled worker took a second; one that does not takes milliseconds.
CLICK_LIMIT_S = 0.5
TIMEOUT_MS = 5000
MIC_48K = InputDevice(3, "Scripted microphone", "test", 1, 44100, True)
PA_ILLEGAL_DEVICE_COMBINATION = -9993  # what PortAudio says when the PulseAudio server is gone


# ----- a scripted sounddevice -------------------------------------------------------------------


class FakePortAudioError(Exception):
    """Like sounddevice.PortAudioError: args are (text, PaErrorCode)."""


class FakeStream:
    """An input stream whose abort (or start) can hang until the test releases it."""

    def __init__(self, hang_abort: threading.Event | None, hang_start: threading.Event | None):
        self._hang_abort = hang_abort
        self._hang_start = hang_start
        self.active = False
        self.closed = False

    def start(self) -> None:
        if self._hang_start is not None:
            self._hang_start.wait()
        self.active = True

    def abort(self, ignore_errors: bool = True) -> None:
        if self._hang_abort is not None:
            self._hang_abort.wait()
        self.active = False

    def close(self, ignore_errors: bool = True) -> None:
        self.closed = True


class FakeSounddevice:
    """The parts of sounddevice that AudioCapture uses, failing or hanging on cue."""

    PortAudioError = FakePortAudioError

    def __init__(self, refuse: dict[int, tuple[str, int]] | None = None) -> None:
        self.refuse = refuse or {}
        self.rates_checked: list[int] = []
        self.hang_abort: threading.Event | None = None
        self.hang_start: threading.Event | None = None
        self.streams: list[FakeStream] = []

    def check_input_settings(self, samplerate: int, **settings: Any) -> None:
        self.rates_checked.append(samplerate)
        if samplerate in self.refuse:
            raise FakePortAudioError(*self.refuse[samplerate])

    def InputStream(self, **settings: Any) -> FakeStream:  # noqa: N802 - sounddevice's name
        stream = FakeStream(self.hang_abort, self.hang_start)
        self.streams.append(stream)
        return stream

    def _exit_handler(self) -> None:
        """sounddevice's atexit handler (Pa_Terminate)."""


class FakeAtexit:
    def __init__(self) -> None:
        self.registered: list[Any] = []
        self.unregistered: list[Any] = []

    def register(self, handler: Any) -> None:
        self.registered.append(handler)

    def unregister(self, handler: Any) -> None:
        self.unregistered.append(handler)


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSounddevice:
    sd = FakeSounddevice()
    monkeypatch.setattr(capture, "_sounddevice", lambda: sd)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    monkeypatch.setattr(capture, "atexit", FakeAtexit())
    return sd


def wait_until_idle() -> None:
    deadline = time.monotonic() + UNBLOCK_LIMIT_S
    while capture.portaudio_busy():
        assert time.monotonic() < deadline, "an abandoned PortAudio call never returned"
        time.sleep(0.01)


def test_a_stream_that_never_closes_is_abandoned_and_portaudio_left_alone(
    fake_sd: FakeSounddevice,
) -> None:
    release = threading.Event()
    fake_sd.hang_abort = release
    audio = capture.AudioCapture(FAKE_MIC, StreamConfig())
    audio.start()
    started = time.monotonic()
    try:
        assert audio.stop() is False  # abandoned, not waited for
        assert time.monotonic() - started < capture.STREAM_CLOSE_TIMEOUT_S + UNBLOCK_LIMIT_S
        assert capture.portaudio_busy()
        assert capture.atexit.unregistered == [fake_sd._exit_handler]  # no Pa_Terminate at exit
    finally:
        release.set()
    wait_until_idle()
    assert fake_sd.streams[0].closed  # the daemon thread finished the job once it could
    assert capture.atexit.registered == [fake_sd._exit_handler]  # safe to terminate again


def test_a_healthy_stream_closes_at_once(fake_sd: FakeSounddevice) -> None:
    audio = capture.AudioCapture(FAKE_MIC, StreamConfig())
    audio.start()
    assert audio.active
    assert audio.stop() is True
    assert fake_sd.streams[0].closed and not capture.portaudio_busy()
    assert capture.atexit.unregistered == []


def test_a_stream_that_never_starts_is_refused_and_closed_later(
    fake_sd: FakeSounddevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "STREAM_OPEN_TIMEOUT_S", 0.2)
    release = threading.Event()
    fake_sd.hang_start = release
    audio = capture.AudioCapture(FAKE_MIC, StreamConfig())
    try:
        with pytest.raises(DeviceUnavailableError, match="did not open within 0.2 s"):
            audio.start()
        assert not audio.active
    finally:
        release.set()
    wait_until_idle()
    assert fake_sd.streams[0].closed  # opened after its caller gave up: closed, not leaked


def test_a_stopped_sound_server_is_unavailable_not_a_refused_rate(
    fake_sd: FakeSounddevice,
) -> None:
    from kws_app.audio.sources import MicrophoneSource

    error = ("Illegal combination of I/O devices", PA_ILLEGAL_DEVICE_COMBINATION)
    fake_sd.refuse = {rate: error for rate in (16000, 44100, 48000)}
    source = MicrophoneSource(MIC_48K, StreamConfig())
    with pytest.raises(DeviceUnavailableError) as raised:
        source.start()
    message = str(raised.value)
    assert "unavailable" in message and "sound server" in message
    assert "refuses" not in message and "\n" not in message
    assert fake_sd.rates_checked == [44100]  # no other rate can help: none is tried


def test_a_refused_rate_still_falls_back_to_another(fake_sd: FakeSounddevice) -> None:
    from kws_app.audio.sources import MicrophoneSource

    fake_sd.refuse = {44100: ("Invalid sample rate", capture.PA_INVALID_SAMPLE_RATE)}
    source = MicrophoneSource(MIC_48K, StreamConfig())
    source.start()
    assert source.sample_rate == 16000
    source.stop()

    fake_sd.refuse = {rate: fake_sd.refuse[44100] for rate in (16000, 44100, 48000)}
    with pytest.raises(RateRefusedError, match="refuses 44100 Hz"):
        MicrophoneSource(MIC_48K, StreamConfig()).start()


# ----- headless listening -----------------------------------------------------------------------


class CountingSource(ArraySource):
    """`blocks` blocks of silence as fast as they are read, then nothing; each block counts an
    input overflow, as a struggling microphone would."""

    def __init__(self, blocks: int, config: StreamConfig) -> None:
        super().__init__(np.zeros(320 * blocks, np.float32), 16000, config, name="mic")
        self._blocks_left = blocks
        self._overflows = 0

    @property
    def ended(self) -> bool:
        return False  # a microphone never ends; it goes quiet

    @property
    def overflows(self) -> int:
        return self._overflows

    def read(self, timeout_s: float) -> np.ndarray | None:
        if self._blocks_left == 0:
            time.sleep(timeout_s)
            return None
        self._blocks_left -= 1
        self._overflows += 1
        return np.zeros(320, np.float32)


def headless_on(
    blocks: int, stall_timeout_s: float, stop: threading.Event, reporter: CounterReporter, model
) -> None:  # type: ignore[no-untyped-def]
    config = StreamConfig(stall_timeout_s=stall_timeout_s, block_ms=20)
    listen_headless(
        lambda device, stream: CountingSource(blocks, stream),
        FAKE_MIC,
        model,
        config,
        DecoderConfig(),
        stop,
        reporter,
    )


@pytest.fixture
def tone_model(tone_model_path: Path) -> OnnxModel:
    return OnnxModel(tone_model_path, prefer_gpu=False)


def test_headless_raises_the_stall_with_its_message(tone_model) -> None:  # type: ignore[no-untyped-def]
    reporter = CounterReporter(stream=io.StringIO())
    with pytest.raises(StreamStalledError, match="no audio from 'mic' for 0.3 s"):
        headless_on(3, 0.3, threading.Event(), reporter, tone_model)


def test_headless_stops_at_once_when_asked(tone_model) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    headless_on(0, 60.0, stop, CounterReporter(stream=io.StringIO()), tone_model)
    assert time.monotonic() - started < UNBLOCK_LIMIT_S


def test_headless_reports_counters_while_running(tone_model) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    with pytest.raises(StreamStalledError):  # the stall ends it
        headless_on(3, 0.3, threading.Event(), CounterReporter(stream=out), tone_model)
    assert out.getvalue().startswith("kws-app: input overflows: 1, dropped blocks: 0\n")


def test_headless_falls_back_to_a_rate_the_device_takes(
    fake_sd: FakeSounddevice, tone_model, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """--headless opens the microphone like the window does: a refused default rate is not the
    end (it used to open the device's default rate only)."""
    from kws_app.audio.sources import microphone_factory

    fake_sd.refuse = {44100: ("Invalid sample rate", capture.PA_INVALID_SAMPLE_RATE)}
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    listen_headless(
        microphone_factory,
        MIC_48K,
        tone_model,
        StreamConfig(),
        DecoderConfig(),
        stop,
        CounterReporter(stream=io.StringIO()),
    )
    assert "listening on Scripted microphone at 16000 Hz" in capsys.readouterr().err


def test_counter_reports_are_rate_limited_and_flushed_at_exit() -> None:
    now = [100.0]
    out = io.StringIO()
    reporter = CounterReporter(interval_s=5.0, clock=lambda: now[0], stream=out)
    reporter.update(0, 0)
    assert out.getvalue() == ""  # nothing lost, nothing said
    reporter.update(1, 0)
    reporter.update(2, 0)  # too soon after the last line
    now[0] += 5.0
    reporter.update(2, 0)
    reporter.update(3, 1)
    reporter.update(3, 1, final=True)
    lines = out.getvalue().splitlines()
    assert lines == [
        "kws-app: input overflows: 1, dropped blocks: 0",
        "kws-app: input overflows: 2, dropped blocks: 0",
        "kws-app: input overflows: 3, dropped blocks: 1",
    ]


# ----- the window with scripted sources ---------------------------------------------------------


class SlowToStopSource(ScriptedSource):
    """Stalls after a few blocks, and takes longer to let go of the device than the old window
    waited for it (1 s), less than a new worker waits for its predecessor."""

    STOP_S = 1.5

    def stop(self) -> None:
        time.sleep(self.STOP_S)
        super().stop()


@pytest.mark.gui
def test_a_stalled_window_says_so_and_its_button_starts_again(qtbot, tmp_path, tone_model_path):
    from kws_app.ui.device_bar import LEVEL_CAPTION, STALLED_BUTTON_TEXT, STALLED_LEVEL_CAPTION
    from kws_app.ui.level_meter import FLOOR_DB

    window = stall_then_recover_window(
        qtbot,
        tmp_path,
        tone_model_path,
        lambda config: ScriptedSource(config, stall_after_blocks=10),
    )
    qtbot.waitUntil(lambda: window.controller.stalled, timeout=TIMEOUT_MS)
    assert "no audio from" in (window.banner.message or "")
    qtbot.waitUntil(lambda: window.controller.worker is None, timeout=TIMEOUT_MS)
    assert window.device_bar.start_button.text() == STALLED_BUTTON_TEXT
    assert window.device_bar.level_caption.text() == STALLED_LEVEL_CAPTION
    assert window.device_bar.level_meter.level_db == FLOOR_DB  # no frozen value
    assert set(window.probabilities.scores_view.scores) == {0.0}

    window.device_bar.start_button.click()
    qtbot.waitUntil(
        lambda: window.controller.worker is not None and window.controller.last_update is not None
    )
    assert not window.controller.stalled and window.banner.message is None
    assert window.device_bar.start_button.text() == "Stop"
    assert window.device_bar.level_caption.text() == LEVEL_CAPTION


@pytest.mark.gui
@pytest.mark.slow
def test_retry_never_waits_for_the_stalled_worker(qtbot, tmp_path, tone_model_path):
    window = stall_then_recover_window(
        qtbot,
        tmp_path,
        tone_model_path,
        lambda config: SlowToStopSource(config, stall_after_blocks=3),
    )
    qtbot.waitUntil(lambda: window.controller.stalled, timeout=TIMEOUT_MS)
    stalled_worker = window.controller.worker
    assert stalled_worker is not None and stalled_worker.isRunning()  # still letting go
    started = time.monotonic()
    window.banner.retry_button.click()
    # The old window waited up to a second here for the worker; now the click returns at once.
    assert time.monotonic() - started < CLICK_LIMIT_S
    qtbot.waitUntil(
        lambda: window.controller.worker is not None and window.controller.last_update is not None,
        timeout=TIMEOUT_MS,
    )
    # The new worker opened the device after the stalled one let go of it (closed its source).
    assert stalled_worker.listener.finished.is_set()
    assert window.banner.message is None


# ----- the real app on a suspended virtual microphone -------------------------------------------

# Makes closing hang the way PortAudio's stop does on a suspended source (it waits for buffers that
# never come), so the tests also cover a stream stuck inside PortAudio at exit.
STUCK_CLOSE = (
    "import kws_app.audio.capture as capture\n"
    "capture._abort_and_close = lambda stream: (stream.stop(), stream.close())\n"
)
HEADLESS_DRIVER = "import sys\nfrom kws_app.cli import main\nsys.exit(main(sys.argv[1:]))\n"
# The real app's window (cli.main -> run_app), watched by a timer: it reports when audio flows and
# when the stall is shown (with what the window says), then closes the window like a user would.
WINDOW_DRIVER = """
import sys
from PySide6.QtCore import QTimer
from kws_app.cli import main
from kws_app.ui.app import ensure_application
from kws_app.ui.main_window import MainWindow

app = ensure_application()
said = set()


def say(line):
    print(line, flush=True)
    said.add(line.split("|")[0])


def watch():
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    if not windows:
        return
    window = windows[0]
    update = window.controller.last_update
    flowing = update is not None and update.stream_time_ms > 0
    if flowing and "LISTENING" not in said:
        say("LISTENING")
    if window.controller.stalled and "STALLED" not in said:
        say("|".join(
            ["STALLED", window.banner.message or "", window.device_bar.start_button.text(),
             window.device_bar.level_caption.text(), str(window.device_bar.level_meter.level_db)]
        ))
        say("CLOSING")
        window.close()


timer = QTimer()
timer.timeout.connect(watch)
timer.start(50)
sys.exit(main(sys.argv[1:]))
"""


class AppProcess:
    """The app in a subprocess; its stdout and stderr lines are read as they come."""

    def __init__(self, code: str, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO_DIR,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for name, pipe, kept in (
            ("out", self.process.stdout, self.stdout),
            ("err", self.process.stderr, self.stderr),
        ):
            threading.Thread(target=self._pump, args=(name, pipe, kept), daemon=True).start()

    def _pump(self, name: str, pipe: Any, kept: list[str]) -> None:
        for line in pipe:
            kept.append(line)
            self.lines.put((name, line))

    def wait_for(self, pipe: str, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None and self.lines.empty():
                pytest.fail(
                    f"no {text!r} on std{pipe} within {timeout_s:g} s (exit code "
                    f"{self.process.poll()}); stderr: {''.join(self.stderr)[-2000:]}"
                )
            try:
                name, line = self.lines.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            if name == pipe and text in line:
                return line

    def exit_code_within(self, limit_s: float) -> int:
        try:
            return self.process.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"still running {limit_s:g} s after it was asked to quit (a hang)")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def app_processes() -> Iterator[list[AppProcess]]:
    started: list[AppProcess] = []
    yield started
    for app in started:
        app.kill()


def app_env(microphone: Any, tmp_path: Path) -> dict[str, str]:
    """The virtual microphone, no display, and a home of its own (settings, custom words)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return microphone.child_env(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )


def app_args(model: Path, tmp_path: Path, *mode: str) -> list[str]:
    return [
        *mode,
        *TONE_DECODER_ARGS,
        "--device",
        PORTAUDIO_DEVICE,
        "--model",
        str(model),
        "--words-store",
        str(tmp_path / "words"),
    ]


def assert_no_crash(stderr: str) -> None:
    for sign in ("Traceback", "double free", "Aborted", "QThread: Destroyed"):
        assert sign not in stderr, stderr


STOP_SIGNALS = pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"]
)


@pytest.mark.virtual_mic
@pytest.mark.slow
@pytest.mark.parametrize("stuck", [False, True], ids=["close-returns", "close-stuck"])
@STOP_SIGNALS
def test_headless_stall_ends_with_code_2_and_the_message(
    virtual_microphone, tmp_path, tone_model_path, app_processes, stuck, stop_signal
):
    """A stop signal arriving while the stall is being reported must not turn it into a clean
    exit or a traceback."""
    code = (STUCK_CLOSE if stuck else "") + HEADLESS_DRIVER
    env = app_env(virtual_microphone, tmp_path)
    app = AppProcess(code, app_args(tone_model_path, tmp_path, "--headless"), env)
    app_processes.append(app)
    app.wait_for("err", "listening on", STARTUP_LIMIT_S)
    virtual_microphone.suspend()
    app.wait_for("err", "no audio from", STALL_SHOWN_LIMIT_S)
    if app.process.poll() is None:
        app.process.send_signal(stop_signal)
    assert app.exit_code_within(EXIT_LIMIT_S) == EXIT_USER_ERROR
    stderr = "".join(app.stderr)
    errors = [line for line in app.stderr if line.startswith("kws-app: error:")]
    assert len(errors) == 1 and f"no audio from '{PORTAUDIO_DEVICE}'" in errors[0], stderr
    assert_no_crash(stderr)
    assert app.stdout == []  # stdout is for detections only
    assert ("did not close within" in stderr) == stuck  # the stuck stream really was abandoned


@pytest.mark.virtual_mic
@pytest.mark.slow
@STOP_SIGNALS
def test_headless_answers_a_stop_signal_at_once_while_the_source_is_suspended(
    virtual_microphone, tmp_path, tone_model_path, app_processes, stop_signal
):
    """Before the stall is declared, with a close that would hang: a clean, quick exit 0 (for
    Ctrl-C too: no KeyboardInterrupt traceback)."""
    env = app_env(virtual_microphone, tmp_path)
    args = app_args(tone_model_path, tmp_path, "--headless")
    app = AppProcess(STUCK_CLOSE + HEADLESS_DRIVER, args, env)
    app_processes.append(app)
    app.wait_for("err", "listening on", STARTUP_LIMIT_S)
    virtual_microphone.suspend()
    time.sleep(0.5)  # audio has stopped; the 2 s stall timeout has not passed
    app.process.send_signal(stop_signal)
    assert app.exit_code_within(EXIT_LIMIT_S) == 0
    stderr = "".join(app.stderr)
    assert_no_crash(stderr)
    assert "did not close within" in stderr  # the stuck stream really was abandoned


@pytest.mark.gui
@pytest.mark.virtual_mic
@pytest.mark.slow
@pytest.mark.parametrize("stuck", [False, True], ids=["close-returns", "close-stuck"])
def test_window_shows_the_stall_and_closes_cleanly(
    virtual_microphone, tmp_path, tone_model_path, app_processes, stuck
):
    from kws_app.ui.device_bar import STALLED_BUTTON_TEXT, STALLED_LEVEL_CAPTION

    code = (STUCK_CLOSE if stuck else "") + WINDOW_DRIVER
    env = app_env(virtual_microphone, tmp_path)
    app = AppProcess(code, app_args(tone_model_path, tmp_path), env)
    app_processes.append(app)
    app.wait_for("out", "LISTENING", STARTUP_LIMIT_S)
    virtual_microphone.suspend()
    shown = app.wait_for("out", "STALLED", STALL_SHOWN_LIMIT_S).rstrip("\n").split("|")
    app.wait_for("out", "CLOSING", EXIT_LIMIT_S)
    assert app.exit_code_within(EXIT_LIMIT_S) == 0  # no abort, no hang
    _, problem, button, caption, level_db = shown
    assert f"no audio from '{PORTAUDIO_DEVICE}'" in problem
    assert button == STALLED_BUTTON_TEXT and caption == STALLED_LEVEL_CAPTION
    assert float(level_db) <= -60.0  # the meter dropped its last value
    stderr = "".join(app.stderr)
    assert_no_crash(stderr)
    assert ("did not close within" in stderr) == stuck  # the stuck stream really was abandoned
