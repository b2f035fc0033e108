"""Absurd decoder and stream flags are refused with a message, never run with.

The fault campaign ran `--clip-stride-ms 1e9` and `--average-window-ms 2e9` without a word; a
stride of a billion milliseconds never scores anything and a window of two billion keeps every
score forever.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws_app.cli import EXIT_USER_ERROR, main
from kws_app.config import MAX_AVERAGE_WINDOW_MS, MAX_CLIP_STRIDE_MS


@pytest.fixture
def short_wav(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.wav"
    soundfile.write(path, np.zeros(16000, np.float32), 16000)
    return path


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the app; it must exit with the user-error code and print nothing on stdout."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own refusal of a malformed value
        code = exit_.code
    captured = capsys.readouterr()
    assert code == EXIT_USER_ERROR, captured.err
    assert captured.out == ""  # stdout carries detections only
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        (
            "--clip-stride-ms",
            "1000000000",
            f"clip stride must be between 1 and {MAX_CLIP_STRIDE_MS}",
        ),
        ("--clip-stride-ms", "0", "clip stride must be between"),
        (
            "--average-window-ms",
            "2000000000",
            f"averaging window must be between 1 and {MAX_AVERAGE_WINDOW_MS}",
        ),
        ("--average-window-ms", "-5", "averaging window must be between"),
        ("--suppression-ms", "1000000000000", "suppression time must be between"),
        ("--minimum-count", "10000000", "minimum count must be between"),
        ("--threshold", "nan", "threshold must be between 0 and 1"),
        ("--threshold", "inf", "threshold must be between 0 and 1"),
    ],
)
def test_an_out_of_range_flag_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
    short_wav: Path,
    tone_model_path: Path,
    flag: str,
    value: str,
    expected: str,
) -> None:
    err = refused(capsys, "--wav", str(short_wav), "--model", str(tone_model_path), flag, value)
    assert err.startswith("kws-app: error:") and err.count("\n") == 1, err
    assert expected in err, err


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--clip-stride-ms", "1e9"), ("--average-window-ms", "2e9"), ("--suppression-ms", "1e12")],
)
def test_a_flag_that_is_not_a_whole_number_of_ms_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
    short_wav: Path,
    tone_model_path: Path,
    flag: str,
    value: str,
) -> None:
    err = refused(capsys, "--wav", str(short_wav), "--model", str(tone_model_path), flag, value)
    assert f"error: argument {flag}:" in err and repr(value) in err, err
