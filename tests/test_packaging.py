"""The PyInstaller build (packaging/build.sh) gives an app that behaves like the source install.

Builds the one-folder app once per session (about 1-1.5 minutes on 2 cores) into a temporary
folder, then runs the built `kws-app`: file replay must print exactly the source install's JSON
lines, the window must appear, device listing must work with the PortAudio inside the bundle.
Skipped when PyInstaller (the `package` extra) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_factory import (
    HIGH_TONE_HZ,
    LOW_TONE_HZ,
    TONE_DECODER_ARGS,
    silence,
    tone,
    tone_model,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="PyInstaller is not installed (pip install -e '.[package]')",
    ),
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="the recipe is tested on Linux"
    ),
]

REPO_DIR = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_DIR / "packaging" / "build.sh"
WINDOW_TITLE = "kws — keyword spotting"
WINDOW_TIMEOUT_S = 30.0
OFFSCREEN_ALIVE_S = 5.0
BUILD_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build with the same script a user runs, with the Python running the tests."""
    out = tmp_path_factory.mktemp("pyinstaller")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "KWS_DIST_DIR": str(out / "dist"),
        "KWS_WORK_DIR": str(out / "work"),
    }
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    executable = out / "dist" / "kws" / "kws-app"
    assert executable.is_file()
    return executable


@pytest.fixture(scope="module")
def tone_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tones")
    audio = np.concatenate(
        [silence(1.5), tone(LOW_TONE_HZ, 0.8), silence(1.5), tone(HIGH_TONE_HZ, 0.8), silence(1.0)]
    )
    wav = folder / "words.wav"
    soundfile.write(wav, audio, 16000)
    return wav, tone_model(folder / "tone.onnx")


def app_env(tmp_path: Path) -> dict[str, str]:
    """Settings go to a temporary folder, so a test run never touches the user's."""
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}


def run_both(
    built_app: Path, args: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    source = subprocess.run(
        [sys.executable, "-m", "kws_app", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    frozen = subprocess.run(
        [str(built_app), *args], env=env, capture_output=True, text=True, timeout=120
    )
    return source, frozen


def test_built_app_replays_a_wav_like_the_source_install(
    built_app: Path, tone_files: tuple[Path, Path], tmp_path: Path
) -> None:
    wav, model = tone_files
    source, frozen = run_both(
        built_app,
        [*TONE_DECODER_ARGS, "--wav", str(wav), "--model", str(model)],
        app_env(tmp_path),
    )
    assert source.returncode == 0, source.stderr
    assert frozen.returncode == 0, frozen.stderr
    assert frozen.stdout == source.stdout
    assert [json.loads(line)["label"] for line in frozen.stdout.splitlines()] == ["low", "high"]
    assert frozen.stderr == ""


def test_built_app_bundles_every_model_in_assets_and_the_default_one_works(
    built_app: Path, tone_files: tuple[Path, Path], tmp_path: Path
) -> None:
    bundled = built_app.parent / "_internal" / "assets"
    for asset in [*(REPO_DIR / "assets").glob("*.onnx"), *(REPO_DIR / "assets").glob("*.npz")]:
        assert (bundled / asset.name).read_bytes() == asset.read_bytes()
    assert (bundled / "kws.png").is_file()
    if not (REPO_DIR / "assets" / "kws-default.onnx").is_file():
        pytest.skip("assets/kws-default.onnx is not in this checkout yet")
    wav, _model = tone_files
    source, frozen = run_both(built_app, ["--wav", str(wav)], app_env(tmp_path))
    assert frozen.returncode == 0, frozen.stderr
    assert frozen.stdout == source.stdout


def test_build_leaves_out_training_torch_and_the_cuda_provider(built_app: Path) -> None:
    internal = built_app.parent / "_internal"
    names = {path.name for path in internal.rglob("*")}
    assert not {"torch", "training", "tests", "matplotlib", "tkinter"} & names
    assert not [name for name in names if name.startswith("libonnxruntime_providers_cuda")]
    assert not [name for name in names if name.startswith(("libQt6WebEngine", "libQt6Quick"))]


def test_built_app_lists_devices_with_its_own_portaudio(built_app: Path, tmp_path: Path) -> None:
    """LD_DEBUG=files makes glibc's loader name every library it opens (on stderr)."""
    env = {**app_env(tmp_path), "LD_DEBUG": "files"}
    result = subprocess.run(
        [str(built_app), "--list-devices"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()  # a device list or "no audio input devices found"
    loaded = [line for line in result.stderr.splitlines() if "libportaudio" in line]
    bundled = str(built_app.parent / "_internal" / "libportaudio.so.2")
    assert loaded and all(bundled in line for line in loaded), loaded


@pytest.fixture
def x_display() -> Iterator[str | None]:
    """A private Xvfb server, so the window goes through the bundled xcb platform plugin.

    None where Xvfb or xwininfo (Debian: xvfb, x11-utils) is missing; the test then falls back to
    Qt's offscreen platform and can only check that the app keeps running.
    """
    if shutil.which("Xvfb") is None or shutil.which("xwininfo") is None:
        yield None
        return
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as display_number:
        display = ":" + display_number.readline().strip()
    try:
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def viewable_window(display: str, title: str) -> bool:
    env = {**os.environ, "DISPLAY": display}
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True, timeout=10
    ).stdout
    for line in tree.splitlines():
        if f'"{title}' in line:
            window_id = line.split()[0]
            info = subprocess.run(
                ["xwininfo", "-id", window_id], env=env, capture_output=True, text=True, timeout=10
            ).stdout
            if "Map State: IsViewable" in info:
                return True
    return False


def wait_for_window(display: str, app: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while time.monotonic() < deadline and app.poll() is None:
        if viewable_window(display, WINDOW_TITLE):
            return True
        time.sleep(0.2)
    return False


def test_built_app_shows_its_window(
    built_app: Path, tone_files: tuple[Path, Path], x_display: str | None, tmp_path: Path
) -> None:
    _wav, model = tone_files
    if x_display is None:
        env = {**app_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    else:
        env = {**app_env(tmp_path), "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    app = subprocess.Popen(
        [str(built_app), "--model", str(model)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if x_display is None:
            time.sleep(OFFSCREEN_ALIVE_S)
            shown = True  # nothing to look at offscreen: staying alive is all we can check
        else:
            shown = wait_for_window(x_display, app)
        still_running = app.poll() is None
    finally:
        app.terminate()
        _stdout, stderr = app.communicate(timeout=30)
    assert still_running, stderr
    assert shown, stderr
    assert "Traceback" not in stderr


def test_built_app_runs_the_words_command(built_app: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(built_app), "words", "--help"],
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: kws-app words" in result.stdout
