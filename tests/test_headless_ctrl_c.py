"""Ctrl-C stops --headless at once, also while its microphone is suspended, with no traceback.

Before, a suspended source kept `--headless` deaf to Ctrl-C until the source resumed, and it then
ended with a KeyboardInterrupt traceback. SIGTERM is pinned in test_capture_stall.py; this is the
same fault reached through the key a user presses (SIGINT).
"""

from __future__ import annotations

import signal
import time

import pytest
from test_capture_stall import (
    EXIT_LIMIT_S,
    HEADLESS_DRIVER,
    STALL_SHOWN_LIMIT_S,
    STARTUP_LIMIT_S,
    STUCK_CLOSE,
    AppProcess,
    app_args,
    app_env,
    app_processes,
    assert_no_crash,
)
from virtual_mic import PORTAUDIO_DEVICE, virtual_microphone

from kws_app.cli import EXIT_USER_ERROR

__all__ = ["app_processes", "virtual_microphone"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.virtual_mic, pytest.mark.slow]

AUDIO_STOPPED_S = 0.5  # the source is suspended; the 2 s stall timeout has not passed


def test_ctrl_c_while_the_source_is_suspended_exits_0_at_once(
    virtual_microphone, tmp_path, tone_model_path, app_processes
):
    env = app_env(virtual_microphone, tmp_path)
    args = app_args(tone_model_path, tmp_path, "--headless")
    app = AppProcess(STUCK_CLOSE + HEADLESS_DRIVER, args, env)
    app_processes.append(app)
    app.wait_for("err", "listening on", STARTUP_LIMIT_S)
    virtual_microphone.suspend()
    time.sleep(AUDIO_STOPPED_S)
    app.process.send_signal(signal.SIGINT)
    assert app.exit_code_within(EXIT_LIMIT_S) == 0
    stderr = "".join(app.stderr)
    assert_no_crash(stderr)  # no KeyboardInterrupt traceback
    assert "did not close within" in stderr  # the stuck stream really was abandoned


def test_ctrl_c_after_the_stall_keeps_exit_2_and_its_one_message(
    virtual_microphone, tmp_path, tone_model_path, app_processes
):
    """Ctrl-C pressed while the stall is being reported must not turn it into a clean exit or
    a traceback."""
    env = app_env(virtual_microphone, tmp_path)
    args = app_args(tone_model_path, tmp_path, "--headless")
    app = AppProcess(STUCK_CLOSE + HEADLESS_DRIVER, args, env)
    app_processes.append(app)
    app.wait_for("err", "listening on", STARTUP_LIMIT_S)
    virtual_microphone.suspend()
    app.wait_for("err", "no audio from", STALL_SHOWN_LIMIT_S)
    if app.process.poll() is None:
        app.process.send_signal(signal.SIGINT)
    assert app.exit_code_within(EXIT_LIMIT_S) == EXIT_USER_ERROR
    stderr = "".join(app.stderr)
    errors = [line for line in app.stderr if line.startswith("kws-app: error:")]
    assert len(errors) == 1 and f"no audio from '{PORTAUDIO_DEVICE}'" in errors[0], stderr
    assert_no_crash(stderr)
    assert app.stdout == []
