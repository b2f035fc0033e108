"""Replay throughput of `kws-app --wav` on a long file, as a multiple of real time.

Usage: taskset -c 0 .venv/bin/python bench/replay_throughput.py [--model M] [--minutes 10]
           [--provider cpu|auto|cuda] [--clips-dir DIR]
Builds a 16 kHz file of the given length (real Speech Commands clips from ../shared/data if present,
else noise) in a temporary folder, then times the real command line end to end (process start,
model load, file read, pipeline, JSON output) on the given execution provider.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from kws_app.paths import default_model_path

RATE = 16000
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands"


def build_audio(seconds: int, clips_dir: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    audio = (0.01 * rng.standard_normal(seconds * RATE)).astype(np.float32)
    clips = sorted(clips_dir.glob("yes/*.flac"))[:400] + sorted(clips_dir.glob("no/*.flac"))[:400]
    if not clips:
        return audio
    for position in range(RATE, audio.size - RATE, 3 * RATE):
        clip, _ = soundfile.read(clips[int(rng.integers(len(clips)))], dtype="float32")
        audio[position : position + clip.size] += clip[:RATE]
    return audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--provider", choices=("cpu", "auto", "cuda"), default="cpu")
    parser.add_argument("--clips-dir", type=Path, default=SHARED)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        soundfile.write(path, build_audio(seconds, args.clips_dir), RATE)
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kws_app",
                "--wav",
                str(path),
                "--model",
                args.model,
                "--provider",
                args.provider,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
    detections = len(result.stdout.splitlines())
    print(
        f"replayed {seconds} s of audio in {elapsed:.2f} s: {seconds / elapsed:.0f}x real time "
        f"({detections} detections, --provider {args.provider})"
    )


if __name__ == "__main__":
    main()
