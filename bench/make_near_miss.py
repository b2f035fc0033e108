"""Synthesise near-miss negatives: words one sound away from a command word, spoken by espeak-ng.

Usage: .venv/bin/python bench/make_near_miss.py --out runs/near_miss [--per-voice 5] [--seed 0]

The false accepts left on negative speech are words that sound like a command ("gone" for "on",
"shop" for "stop"), and the recorded negatives hold few of them. This writes one WAV per draw of
(word, accent, voice variant, speed, pitch) so that `python -m training train --unknown-dir
runs/near_miss` adds them to `_unknown_`. Homophones of a command word ("know", "write") are left
out on purpose: the model cannot and must not tell them apart. The list was written from the
command words alone, not from the false-accept test material. The shipped model does not use
them: what they did is in docs/benchmarks.md ("What was tried").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from kws_app.words.synthetic import SyntheticVoicesConfig
from kws_app.words.synthetic import find_espeak as find_espeak_ng

NEAR_MISSES = {
    "yes": ("yet", "yell", "less", "mess", "chess", "guess"),
    "no": ("note", "nose", "snow", "nope", "gnome"),
    "up": ("cup", "pup", "hub", "sup", "pub"),
    "down": ("town", "gown", "clown", "drown", "dawn"),
    "left": ("lift", "loft", "theft", "deft"),
    "right": ("light", "bright", "ride", "rice", "ripe"),
    "on": ("gone", "john", "con", "don", "honk"),
    "off": ("cough", "scoff", "doff", "awful"),
    "stop": ("shop", "top", "step", "stock", "stomp"),
    "go": ("goat", "ghost", "gold", "grow", "goal"),
}
# The voices of the app's synthetic takes (kws_app/words/synthetic.py), one list for both.
VOICES = SyntheticVoicesConfig()
ACCENTS = VOICES.accents
VARIANTS = VOICES.variants
WORDS_PER_MINUTE = VOICES.words_per_minute
PITCH = VOICES.pitch


def find_espeak() -> str | None:
    """espeak-ng's path, or None after saying on stderr how to install it."""
    espeak = find_espeak_ng()
    if espeak is None:
        print("espeak-ng not found (apt-get install espeak-ng)", file=sys.stderr)
    return espeak


def speak(espeak: str, text: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    """Write `text` spoken by espeak-ng in `voice` ("accent+variant") to the WAV file `path`."""
    subprocess.run(
        [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-voice", type=int, default=5, help="draws per word and accent")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    espeak = find_espeak()
    if espeak is None:
        return 2
    rng = np.random.default_rng(args.seed)
    written = 0
    for command, words in NEAR_MISSES.items():
        folder = args.out / command
        folder.mkdir(parents=True, exist_ok=True)
        for word in words:
            for accent in ACCENTS:
                for draw in range(args.per_voice):
                    variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
                    speed = int(rng.integers(*WORDS_PER_MINUTE))
                    pitch = int(rng.integers(*PITCH))
                    path = folder / f"{word}-{accent}-{variant}-{draw}.wav"
                    speak(espeak, word, f"{accent}+{variant}", speed, pitch, path)
                    written += 1
    print(f"wrote {written} near-miss clips to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
