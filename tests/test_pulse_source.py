"""PulseAudio moving our recording stream to another source is noticed and named.

The stream is real (PortAudio's `pulse` device on the private virtual microphone) and so is the
move (`pactl move-source-output`, what a desktop's sound settings do); both of pactl's output
formats must find it. Without pactl or without a sound server the watch stays silent.
Deadlines here are hang detection, not benchmarks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from model_factory import TONE_STREAM
from test_capture_stall import (
    HEADLESS_DRIVER,
    AppProcess,
    app_args,
    app_env,
    app_processes,
    assert_no_crash,
)
from ui_support import make_window
from virtual_mic import PORTAUDIO_DEVICE, SOURCE_NAME, VirtualMicrophone, virtual_microphone

from kws_app.audio.devices import list_input_devices
from kws_app.audio.pulse import PACTL_TIMEOUT_S, PulseQuery, PulseSource, SourceWatch
from kws_app.audio.sources import microphone_factory
from kws_app.config import StreamConfig

__all__ = ["app_processes", "virtual_microphone"]  # fixtures, imported for pytest

OTHER_SINK = "kws_other"
OTHER_SOURCE = f"{OTHER_SINK}.monitor"
QUICK_POLL_S = 0.1
REPORT_LIMIT_S = 5.0
STARTUP_LIMIT_S = 60.0
# The app polls every POLL_INTERVAL_S (2 s); a move must be shown well within this.
SHOWN_LIMIT_S = 15.0
EXIT_LIMIT_S = 5.0

needs_pactl = pytest.mark.skipif(shutil.which("pactl") is None, reason="needs pactl")


def pactl(microphone: VirtualMicrophone, *args: str) -> str:
    result = subprocess.run(
        ["pactl", *args],
        env=microphone.child_env(LC_ALL="C"),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def add_other_source(microphone: VirtualMicrophone) -> None:
    """A second null sink; its monitor is the source the stream is moved to."""
    pactl(microphone, "load-module", "module-null-sink", f"sink_name={OTHER_SINK}")


def move_streams_of(microphone: VirtualMicrophone, pid: int, source: str) -> int:
    """Move every recording stream of process `pid` to `source`, as a desktop's mixer would."""
    outputs = json.loads(pactl(microphone, "-f", "json", "list", "source-outputs"))
    ours = [
        o["index"] for o in outputs if o["properties"].get("application.process.id") == str(pid)
    ]
    for index in ours:
        pactl(microphone, "move-source-output", str(index), source)
    return len(ours)


def wait_for(condition, limit_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ----- the query and the watch, in this process ----------------------------------------------


@pytest.mark.virtual_mic
def test_the_source_we_record_from_is_found_and_its_move_is_reported(virtual_microphone):
    from kws_app.audio.capture import AudioCapture
    from kws_app.audio.devices import find_input_device

    formats = {"json": PulseQuery(use_json=True), "text": PulseQuery(use_json=False)}
    pid = os.getpid()
    assert [query.recording_source(pid) for query in formats.values()] == [None, None]

    capture = AudioCapture(find_input_device(PORTAUDIO_DEVICE), StreamConfig())
    capture.start()
    reported: list[PulseSource] = []
    watch = SourceWatch(reported.append, interval_s=QUICK_POLL_S)
    try:
        for name, query in formats.items():
            source = query.recording_source(pid)
            assert source is not None and source.name == SOURCE_NAME, name
        watch.start()
        assert wait_for(lambda: watch.current is not None, REPORT_LIMIT_S)
        assert reported == []  # where it started is not a change

        add_other_source(virtual_microphone)
        assert move_streams_of(virtual_microphone, pid, OTHER_SOURCE) == 1
        assert wait_for(lambda: reported, REPORT_LIMIT_S), "the move was never reported"
        assert [source.name for source in reported] == [OTHER_SOURCE]
        assert "Monitor of" in reported[0].describe()
        for name, query in formats.items():
            source = query.recording_source(pid)
            assert source is not None and source.name == OTHER_SOURCE, name
        time.sleep(3 * QUICK_POLL_S)
        assert len(reported) == 1  # one move, one report
    finally:
        watch.stop()
        capture.stop()
    assert wait_for(lambda: not watch.running, PACTL_TIMEOUT_S + REPORT_LIMIT_S)


def test_without_pactl_nothing_is_watched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no pactl on the path
    reported: list[PulseSource] = []
    watch = SourceWatch(reported.append, interval_s=QUICK_POLL_S).start()
    assert not watch.running  # no thread was started
    assert PulseQuery().recording_source(os.getpid()) is None
    watch.stop()
    assert reported == []


@needs_pactl
def test_without_a_sound_server_the_watch_ends_by_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-such-socket'}")
    monkeypatch.setenv("PULSE_RUNTIME_PATH", str(tmp_path))
    monkeypatch.setenv("PULSE_AUTOSPAWN", "no")
    reported: list[PulseSource] = []
    started = time.monotonic()
    watch = SourceWatch(reported.append, interval_s=QUICK_POLL_S).start()
    assert wait_for(lambda: not watch.running, 4 * PACTL_TIMEOUT_S + REPORT_LIMIT_S)
    assert time.monotonic() - started < 4 * PACTL_TIMEOUT_S + REPORT_LIMIT_S
    watch.stop()
    assert reported == [] and watch.current is None


# ----- the real app ---------------------------------------------------------------------------

# Moving a stream between null-sink monitors leaves a hole of about a second in PortAudio's
# callbacks, longer on a loaded machine, which the 2-s stall detector may then report. Stalls are
# not what these tests are about, so the app gets a longer stall timeout.
MOVE_STALL_TIMEOUT_S = 10.0
LONG_STALL = (
    "import dataclasses\n"
    "import kws_app.cli as cli\n"
    "_configs_from_args = cli.configs_from_args\n"
    "def _configs(args, *rest):\n"
    "    stream, decoder = _configs_from_args(args, *rest)\n"
    f"    return dataclasses.replace(stream, stall_timeout_s={MOVE_STALL_TIMEOUT_S}), decoder\n"
    "cli.configs_from_args = _configs\n"
)
FIRST_AUDIO_TIMEOUT_MS = 10_000


@pytest.mark.virtual_mic
@pytest.mark.slow
def test_headless_says_where_the_sound_server_moved_its_input(
    virtual_microphone, tmp_path, tone_model_path, app_processes
):
    env = app_env(virtual_microphone, tmp_path)
    args = app_args(tone_model_path, tmp_path, "--headless")
    app = AppProcess(LONG_STALL + HEADLESS_DRIVER, args, env)
    app_processes.append(app)
    app.wait_for("err", "listening on", STARTUP_LIMIT_S)
    add_other_source(virtual_microphone)
    pid = app.process.pid
    assert wait_for(lambda: move_streams_of(virtual_microphone, pid, OTHER_SOURCE), STARTUP_LIMIT_S)
    line = app.wait_for("err", "moved the input", SHOWN_LIMIT_S)
    assert OTHER_SOURCE in line and "\n" == line[-1]
    assert app.process.poll() is None  # still listening, now to the other source
    app.process.send_signal(signal.SIGTERM)
    assert app.exit_code_within(EXIT_LIMIT_S) == 0
    stderr = "".join(app.stderr)
    assert_no_crash(stderr)
    assert stderr.count("moved the input") == 1
    assert app.stdout == []  # stdout is for detections only


@pytest.mark.gui
@pytest.mark.virtual_mic
@pytest.mark.slow
def test_the_window_says_where_the_sound_server_moved_its_input(
    qtbot, tmp_path, tone_model_path, virtual_microphone
):
    window = make_window(
        qtbot,
        tmp_path,
        tone_model_path,
        microphone_factory,
        devices=list_input_devices,
        stream_config=dataclasses.replace(TONE_STREAM, stall_timeout_s=MOVE_STALL_TIMEOUT_S),
        device_name=PORTAUDIO_DEVICE,
    )
    controller = window.controller
    qtbot.waitUntil(
        lambda: controller.last_update is not None and controller.last_update.stream_time_ms > 0,
        timeout=FIRST_AUDIO_TIMEOUT_MS,
    )
    moved = window.status.source_label
    assert moved.isHidden()
    add_other_source(virtual_microphone)
    assert move_streams_of(virtual_microphone, os.getpid(), OTHER_SOURCE) == 1
    qtbot.waitUntil(lambda: OTHER_SOURCE in moved.text(), timeout=int(SHOWN_LIMIT_S * 1000))
    assert not moved.isHidden() and moved.text().startswith("input moved to ")
    assert window.controller.problem is None and window.controller.worker is not None
