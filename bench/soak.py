"""Soak: `kws-app --headless` listening for a long time, its memory and counters sampled.

Usage: nice -n 10 .venv/bin/python bench/soak.py --minutes 10 [--interval-s 30] [--model M]
                                                  [--audio FILE] [--warmup-s 60]
Starts a private PulseAudio virtual microphone (tests/virtual_mic.py), runs the app as its own
process on the `pulse` device, and plays speech into the microphone over and over: by default
real command words (Speech Commands test speakers) and sentences (negatives/speech) from
../shared/data (--data) with pauses between them, or --audio. Every --interval-s it reads the app's
resident memory (VmRSS in /proc/<pid>/status) and CPU time (/proc/<pid>/stat), and the counters
the app reports: detections (JSON lines on stdout), input overflows and dropped blocks (its
stderr counter line), stalls and moves of the input by the sound server. Prints a table, a
summary (memory at the start, end and peak, drift per hour by a least-squares line through the
samples after --warmup-s, the counters) and a JSON line. Exit code 1 when the app stopped early.
Needs pulseaudio, pulseaudio-utils and libasound2-plugins.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))

MODEL_RATE = 16000
COMMAND_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
CLIPS_PER_WORD = 2
SENTENCES = 4
GAP_S = 1.5
STARTUP_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 10.0
KB_PER_MB = 1024.0
SECONDS_PER_HOUR = 3600.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
COUNTERS_LINE = re.compile(r"input overflows: (\d+), dropped blocks: (\d+)")


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def thread_count(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def speech_feed(data: Path, folder: Path) -> Path:
    """A WAV of command words and sentences with pauses, played into the microphone in a loop."""
    from virtual_mic import write_wav

    from kws_app.audio.files import read_audio

    speech_commands = data / "speech_commands"
    speech = data / "negatives" / "speech"
    if not speech_commands.is_dir():
        raise SystemExit(f"no recordings at {data}: pass --data DIR or --audio FILE")
    testing = (speech_commands / "testing_list.txt").read_text().split()
    parts: list[np.ndarray] = []
    gap = np.zeros(int(GAP_S * MODEL_RATE), np.float32)
    for word in COMMAND_WORDS:
        for name in [path for path in testing if path.startswith(f"{word}/")][:CLIPS_PER_WORD]:
            samples, rate = read_audio(speech_commands / name)
            if rate == MODEL_RATE:
                parts += [samples, gap]
    with (speech / "manifest.csv").open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["has_command_word"] == "no"]
    for row in sorted(rows, key=lambda row: row["path"])[:: max(1, len(rows) // SENTENCES)][
        :SENTENCES
    ]:
        samples, rate = read_audio(speech / row["path"])
        if rate == MODEL_RATE:
            parts += [samples, gap]
    return write_wav(folder / "feed.wav", np.concatenate(parts), MODEL_RATE)


@dataclass
class AppOutput:
    """What the app said so far, gathered by two reader threads."""

    detections: Counter[str] = field(default_factory=Counter)
    overflows: int = 0
    drops: int = 0
    stalls: int = 0
    moves: int = 0
    errors: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)

    def read_stdout(self, pipe) -> None:  # type: ignore[no-untyped-def]
        for line in pipe:
            try:
                self.detections[json.loads(line)["label"]] += 1
            except (ValueError, KeyError, TypeError):
                self.errors.append(line.rstrip())

    def read_stderr(self, pipe) -> None:  # type: ignore[no-untyped-def]
        for line in pipe:
            self.stderr.append(line)
            if "listening on" in line:
                self.listening.set()
            counters = COUNTERS_LINE.search(line)
            if counters:
                self.overflows, self.drops = int(counters.group(1)), int(counters.group(2))
            if "no audio from" in line:
                self.stalls += 1
            if "moved the input" in line:
                self.moves += 1


def loop_playback(microphone, wav: Path, stop: threading.Event, plays: list[int]) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        player = microphone.play(wav, wait=False)
        while player.poll() is None:
            if stop.wait(0.2):
                player.terminate()
                player.wait()
                return
        plays[0] += 1


def app_version() -> str:
    """The commit measured, marked when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def drift_per_hour_kb(times_s: list[float], rss_kb: list[int]) -> float | None:
    """Slope of the least-squares line through (time, memory), in kB per hour."""
    if len(times_s) < 2 or max(times_s) == min(times_s):
        return None
    slope_kb_per_s = np.polyfit(np.asarray(times_s), np.asarray(rss_kb, dtype=float), 1)[0]
    return float(slope_kb_per_s * SECONDS_PER_HOUR)


def run(args: argparse.Namespace) -> int:
    from virtual_mic import PORTAUDIO_DEVICE, VirtualMicrophone

    model = Path(args.model) if args.model else REPO / "assets" / "kws-default.onnx"
    with tempfile.TemporaryDirectory(prefix="kws-soak-") as folder, VirtualMicrophone() as mic:
        wav = Path(args.audio) if args.audio else speech_feed(Path(args.data), Path(folder))
        home = Path(folder) / "home"
        home.mkdir()
        command = [
            sys.executable, "-m", "kws_app", "--headless", "--device", PORTAUDIO_DEVICE,
            "--model", str(model), "--words-store", str(Path(folder) / "words"),
        ]  # fmt: skip
        app = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=mic.child_env(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share")),
        )
        output = AppOutput()
        for reader, pipe in ((output.read_stdout, app.stdout), (output.read_stderr, app.stderr)):
            threading.Thread(target=reader, args=(pipe,), daemon=True).start()
        stop_playing = threading.Event()
        plays = [0]
        try:
            if not output.listening.wait(STARTUP_TIMEOUT_S):
                print(
                    "the app did not start listening:\n" + "".join(output.stderr), file=sys.stderr
                )
                return 1
            player = threading.Thread(
                target=loop_playback, args=(mic, wav, stop_playing, plays), daemon=True
            )
            player.start()
            return _sample(args, app, output, plays, wav)
        finally:
            stop_playing.set()
            if app.poll() is None:
                app.send_signal(signal.SIGTERM)
                try:
                    app.wait(EXIT_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    app.kill()
                    app.wait()


def _sample(args, app, output: AppOutput, plays: list[int], wav: Path) -> int:  # type: ignore[no-untyped-def]
    pid = app.pid
    load_start = os.getloadavg()
    started = time.monotonic()
    cpu_start = cpu_seconds(pid)
    times_s: list[float] = []
    rss_kb: list[int] = []
    header = (
        f"{'min':>6} {'RSS MB':>8} {'CPU %':>6} {'threads':>7} {'detections':>10} "
        f"{'overflows':>9} {'drops':>6} {'stalls':>6} {'moves':>5}"
    )
    print(f"soak: {args.minutes:g} min, sample every {args.interval_s:g} s, feed {wav.name}")
    print(header, flush=True)
    last_cpu, last_at = cpu_start, started
    deadline = started + args.minutes * 60.0
    stopped_early = False
    while True:
        now = time.monotonic()
        if app.poll() is not None:
            stopped_early = True
            break
        try:
            rss, cpu, threads = resident_kb(pid), cpu_seconds(pid), thread_count(pid)
        except (OSError, RuntimeError):
            stopped_early = True
            break
        cpu_percent = 100.0 * (cpu - last_cpu) / max(now - last_at, 1e-9)
        last_cpu, last_at = cpu, now
        times_s.append(now - started)
        rss_kb.append(rss)
        print(
            f"{(now - started) / 60:6.1f} {rss / KB_PER_MB:8.1f} {cpu_percent:6.1f} {threads:7d} "
            f"{sum(output.detections.values()):10d} {output.overflows:9d} {output.drops:6d} "
            f"{output.stalls:6d} {output.moves:5d}",
            flush=True,
        )
        if now >= deadline:
            break
        time.sleep(min(args.interval_s, max(0.0, deadline - now)))
    elapsed_s = time.monotonic() - started
    cpu_used = cpu_seconds(pid) - cpu_start if app.poll() is None else None
    app.send_signal(signal.SIGTERM)
    try:
        exit_code = app.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        exit_code = None
    time.sleep(0.2)  # the last counter line
    settled = [(t, r) for t, r in zip(times_s, rss_kb, strict=True) if t >= args.warmup_s]
    drift = drift_per_hour_kb([t for t, _ in settled], [r for _, r in settled])
    summary = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": app_version(),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_start": round(load_start[0], 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        "minutes": round(elapsed_s / 60.0, 2),
        "samples": len(rss_kb),
        "rss_start_mb": round(rss_kb[0] / KB_PER_MB, 1) if rss_kb else None,
        "rss_after_warmup_mb": round(settled[0][1] / KB_PER_MB, 1) if settled else None,
        "rss_end_mb": round(rss_kb[-1] / KB_PER_MB, 1) if rss_kb else None,
        "rss_max_mb": round(max(rss_kb) / KB_PER_MB, 1) if rss_kb else None,
        "rss_drift_kb_per_hour": round(drift, 0) if drift is not None else None,
        "cpu_percent_of_one_core": round(100.0 * cpu_used / elapsed_s, 1) if cpu_used else None,
        "feed_plays": plays[0],
        "detections": sum(output.detections.values()),
        "detections_by_label": dict(sorted(output.detections.items())),
        "overflows": output.overflows,
        "drops": output.drops,
        "stalls": output.stalls,
        "source_moves": output.moves,
        "stopped_early": stopped_early,
        "exit_code": exit_code,
    }
    print()
    print(
        f"memory (RSS): start {summary['rss_start_mb']} MB, after {args.warmup_s:g} s warm-up "
        f"{summary['rss_after_warmup_mb']} MB, end {summary['rss_end_mb']} MB, "
        f"max {summary['rss_max_mb']} MB; drift {summary['rss_drift_kb_per_hour']} kB/h"
    )
    print(
        f"CPU {summary['cpu_percent_of_one_core']}% of one core; the feed played "
        f"{plays[0]} times; detections {summary['detections']} "
        f"{summary['detections_by_label']}"
    )
    print(
        f"overflows {output.overflows}, dropped blocks {output.drops}, stalls {output.stalls}, "
        f"moves of the input {output.moves}; exit code {exit_code}"
        + ("; THE APP STOPPED EARLY" if stopped_early else "")
    )
    if stopped_early:
        print("".join(output.stderr[-10:]), file=sys.stderr)
    print(json.dumps(summary))
    return 1 if stopped_early else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to listen")
    parser.add_argument("--interval-s", type=float, default=30.0, help="time between samples")
    parser.add_argument(
        "--warmup-s",
        type=float,
        default=60.0,
        help="samples before this are left out of the drift line (allocators settling)",
    )
    parser.add_argument("--model", help="model file (default: the bundled model)")
    parser.add_argument("--audio", help="what to play into the microphone, looped")
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help="recordings for the default feed (see its README)"
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.interval_s <= 0:
        parser.error("--minutes and --interval-s must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
