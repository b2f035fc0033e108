"""An audio file the user may not read is named with the reason, not libsndfile's "System error."

Both readers of user audio are checked: `--wav` and `words add`. The file really is unreadable:
chmod 0, and as root (who reads anything) the app runs without the capabilities that bypass file
permissions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from words_helpers import words_tone_model, write_examples

from kws_app.cli import EXIT_USER_ERROR

CLI_TIMEOUT_S = 120
WHISTLE_HZ = 1500.0
# Root reads any file through these two capabilities; without them it obeys the file's mode.
NO_READ_OVERRIDE = ("--inh-caps=-dac_override,-dac_read_search",
                    "--bounding-set=-dac_override,-dac_read_search")  # fmt: skip


def run_app(*args: str) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, making a file unreadable needs setpriv (util-linux)")
        prefix = [setpriv, *NO_READ_OVERRIDE]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kws_app", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def assert_names_permission(result: subprocess.CompletedProcess[str], file_name: str) -> None:
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.strip()
    assert f"cannot read audio file {file_name}: permission denied" in line, line
    assert "System error" not in line and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_replaying_an_unreadable_file_says_permission_denied(
    tmp_path: Path, tone_model_path: Path
) -> None:
    wav = tmp_path / "private.wav"
    soundfile.write(wav, np.zeros(16000, np.float32), 16000)
    wav.chmod(0)
    result = run_app("--wav", str(wav), "--model", str(tone_model_path))
    assert_names_permission(result, wav.name)


def test_learning_a_word_from_an_unreadable_take_says_permission_denied(tmp_path: Path) -> None:
    takes = write_examples(tmp_path / "takes", WHISTLE_HZ)
    private = sorted(takes.iterdir())[2]
    private.chmod(0)
    model = words_tone_model(tmp_path / "words_tone.onnx")
    store = tmp_path / "store"
    result = run_app(
        "words", "--store", str(store), "--model", str(model),
        "add", "whistle", "--from-wav-dir", str(takes),
    )  # fmt: skip
    assert_names_permission(result, private.name)
    assert not (store / "words").exists() or not any((store / "words").iterdir())
