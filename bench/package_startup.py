"""Size and start-up time of the PyInstaller build next to the source install.

Prints: the built folder's size (du) and its .tar.gz size; the wall time of `kws-app --wav` on a
1 s file (process start to exit: imports, model load, replay) and the time from launch until the
main window is mapped on a private Xvfb display, each as the median of several runs (the first
run is reported apart: it includes reading the files from disk into the page cache).

Run after packaging/build.sh:
    .venv/bin/python bench/package_startup.py [--app dist/kws/kws-app] [--runs 7]
Needs Xvfb and xwininfo for the window timing (skipped without them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "tests"))
WINDOW_TITLE = "kws — keyword spotting"
WINDOW_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.02


def folder_bytes(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.rglob("*") if not path.is_dir())


def targz_bytes(folder: Path) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "kws.tar.gz"
        start = time.perf_counter()
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
        return archive.stat().st_size, time.perf_counter() - start


def time_command(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO_DIR)
    return time.perf_counter() - start


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
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
        return server, ":" + display_number.readline().strip()


def window_is_viewable(env: dict[str, str]) -> bool:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True)
    for line in tree.stdout.splitlines():
        if f'"{WINDOW_TITLE}' in line:
            info = subprocess.run(
                ["xwininfo", "-id", line.split()[0]], env=env, capture_output=True, text=True
            )
            if "Map State: IsViewable" in info.stdout:
                return True
    return False


def time_to_window(command: list[str], env: dict[str, str]) -> float:
    """Launch to mapped window; polling adds up to ~POLL_INTERVAL_S plus an xwininfo call."""
    start = time.perf_counter()
    app = subprocess.Popen(
        command, env=env, cwd=REPO_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while time.perf_counter() - start < WINDOW_TIMEOUT_S:
            if app.poll() is not None:
                stderr = app.stderr.read().decode(errors="replace") if app.stderr else ""
                raise RuntimeError(f"{command[0]} exited with {app.returncode}: {stderr[-2000:]}")
            if window_is_viewable(env):
                return time.perf_counter() - start
            time.sleep(POLL_INTERVAL_S)
        raise RuntimeError("no window within the timeout")
    finally:
        app.terminate()
        app.wait(timeout=30)


def describe(label: str, seconds: list[float]) -> str:
    median_ms = statistics.median(seconds[1:] or seconds) * 1000
    spread = f"{min(seconds[1:] or seconds) * 1000:.0f}-{max(seconds[1:] or seconds) * 1000:.0f}"
    return f"{label:<34} first {seconds[0] * 1000:6.0f} ms, median {median_ms:6.0f} ms ({spread})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=REPO_DIR / "dist" / "kws" / "kws-app")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not args.app.is_file():
        print(f"{args.app} not found: run packaging/build.sh first", file=sys.stderr)
        return 2

    from model_factory import silence, tone_model

    scratch = Path(tempfile.mkdtemp(prefix="kws-bench-"))
    wav = scratch / "one-second.wav"
    soundfile.write(wav, np.asarray(silence(1.0)), 16000)
    default_model = REPO_DIR / "assets" / "kws-default.onnx"
    model = default_model if default_model.is_file() else tone_model(scratch / "tone.onnx")
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    source_command = [sys.executable, "-m", "kws_app"]
    frozen_command = [str(args.app)]

    folder = args.app.parent
    size, archive_s = targz_bytes(folder)
    print(f"model: {model.name}; runs: {args.runs} (median excludes the first)")
    print(f"built folder {folder}: {folder_bytes(folder) / 1e6:.0f} MB")
    print(f"as .tar.gz: {size / 1e6:.0f} MB (compressed in {archive_s:.0f} s)")

    replay_args = ["--wav", str(wav), "--model", str(model), "--provider", "cpu"]
    for label, command in (
        ("--wav 1 s, source (python -m)", source_command),
        (
            "--wav 1 s, built app",
            frozen_command,
        ),
    ):
        seconds = [time_command(command + replay_args, env) for _ in range(args.runs)]
        print(describe(label, seconds))

    if not all(
        subprocess.run(["which", tool], capture_output=True).returncode == 0
        for tool in ("Xvfb", "xwininfo")
    ):
        print("window timing skipped: needs Xvfb and xwininfo")
        return 0
    server, display = start_xvfb()
    try:
        window_env = {**env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        window_args = ["--model", str(model), "--provider", "cpu"]
        for label, command in (
            ("window shown, source (python -m)", source_command),
            ("window shown, built app", frozen_command),
        ):
            seconds = [time_to_window(command + window_args, window_env) for _ in range(args.runs)]
            print(describe(label, seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
