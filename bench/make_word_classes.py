"""Synthesise word classes for the word embedder's word task: many words, many voices each.

Usage: .venv/bin/python bench/make_word_classes.py --out runs/word_classes [--voices 12] [--seed 0]

The supervised word task (training/contrastive.py) pulls a word's clips together across voices,
but the data holds only about twenty words with enough clips, and an embedding learned from twenty
classes helps those words more than new ones. This writes `--voices` renditions of each of a few
hundred other English words (espeak-ng, random accent, voice variant, speed and pitch), each
trimmed to its spoken part and centred in one clip at the front end's rate, one folder per word,
for `python -m training train --contrastive-word-dirs runs/word_classes`. None is a command word
or one of the dataset's 25 other words, so the benchmark's reserved and validation words stay
unseen. The list was written from general English, not from any test material.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from make_near_miss import ACCENTS, PITCH, VARIANTS, WORDS_PER_MINUTE, find_espeak, speak

from kws_app.audio.files import read_audio_at
from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import fit_clip
from kws_app.words.trainer import word_span

WORDS = (
    "apple",
    "baby",
    "basket",
    "battle",
    "beach",
    "berry",
    "blanket",
    "bottle",
    "bridge",
    "brother",
    "bubble",
    "butter",
    "button",
    "cabin",
    "camera",
    "candle",
    "captain",
    "carpet",
    "castle",
    "chair",
    "cheese",
    "cherry",
    "chicken",
    "circle",
    "city",
    "cloud",
    "coffee",
    "cookie",
    "corner",
    "cotton",
    "country",
    "cousin",
    "crystal",
    "dance",
    "danger",
    "daughter",
    "desert",
    "dinner",
    "doctor",
    "dollar",
    "dragon",
    "dream",
    "engine",
    "evening",
    "family",
    "farmer",
    "feather",
    "finger",
    "flower",
    "forest",
    "friend",
    "garden",
    "giant",
    "ginger",
    "glass",
    "guitar",
    "hammer",
    "harbor",
    "heaven",
    "helmet",
    "honey",
    "hotel",
    "hunter",
    "island",
    "jacket",
    "jungle",
    "kettle",
    "kitchen",
    "ladder",
    "lemon",
    "letter",
    "lion",
    "machine",
    "magic",
    "mango",
    "market",
    "meadow",
    "melon",
    "metal",
    "middle",
    "minute",
    "mirror",
    "money",
    "monkey",
    "morning",
    "mountain",
    "music",
    "nation",
    "needle",
    "number",
    "ocean",
    "orange",
    "palace",
    "paper",
    "parrot",
    "pencil",
    "pepper",
    "person",
    "picture",
    "pillow",
    "planet",
    "pocket",
    "potato",
    "puzzle",
    "rabbit",
    "radio",
    "river",
    "robot",
    "rocket",
    "salad",
    "salmon",
    "season",
    "second",
    "shadow",
    "silver",
    "sister",
    "soccer",
    "spider",
    "spirit",
    "spring",
    "station",
    "story",
    "sugar",
    "summer",
    "sunday",
    "table",
    "tiger",
    "tomato",
    "tunnel",
    "turtle",
    "uncle",
    "valley",
    "village",
    "violin",
    "wagon",
    "water",
    "window",
    "winter",
    "wizard",
    "yellow",
    "zebra",
    "answer",
    "bacon",
    "banana",
    "beautiful",
    "because",
    "between",
    "bicycle",
    "breakfast",
    "calendar",
    "chocolate",
    "computer",
    "dinosaur",
    "elephant",
    "envelope",
    "holiday",
    "important",
    "internet",
    "kangaroo",
    "library",
    "medicine",
    "remember",
    "telephone",
    "umbrella",
    "vacation",
    "video",
    "weather",
    "whisper",
    "wonderful",
    "animal",
    "balloon",
    "blue",
    "bread",
    "brush",
    "cake",
    "card",
    "chalk",
    "clock",
    "cold",
    "fish",
    "frog",
    "game",
    "gift",
    "gold",
    "grape",
    "green",
    "hand",
    "hat",
    "horse",
    "jump",
    "key",
    "king",
    "lamp",
    "leaf",
    "light",
    "milk",
    "moon",
    "mouse",
    "night",
    "nurse",
    "park",
    "pink",
    "queen",
    "rain",
    "red",
    "ring",
    "road",
    "rock",
    "salt",
    "ship",
    "shoe",
    "sky",
    "smile",
    "snake",
    "sock",
    "soup",
    "star",
    "sun",
    "swim",
    "tea",
    "time",
    "toy",
    "train",
    "truck",
    "wall",
    "wind",
    "wolf",
    "world",
    "bake",
    "chase",
    "climb",
    "cook",
    "draw",
    "drink",
    "fly",
    "grab",
    "laugh",
    "listen",
    "paint",
    "pull",
    "push",
    "read",
    "ride",
    "run",
    "sing",
    "sleep",
    "smell",
    "speak",
    "swing",
    "throw",
    "walk",
    "wash",
    "watch",
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "yankee",
    "anna",
    "david",
    "emma",
    "george",
    "jessica",
    "kevin",
    "laura",
    "michael",
    "nancy",
    "oliver",
    "peter",
    "rachel",
    "simon",
    "thomas",
    "victoria",
    "william",
    "alexa",
    "jarvis",
    "jasmine",
    "lucy",
    "max",
    "nora",
)


def unique_words() -> tuple[str, ...]:
    return tuple(dict.fromkeys(WORDS))


def centred(wave: np.ndarray, frontend: FrontendConfig) -> np.ndarray:
    """The spoken part of `wave`, centred in one clip (trimmed at both ends if longer)."""
    start, end = word_span(wave, frontend.sample_rate)
    spoken = wave[start:end]
    clip = frontend.clip_samples
    if spoken.shape[0] >= clip:
        cut = (spoken.shape[0] - clip) // 2
        return spoken[cut : cut + clip].astype(np.float32)
    out = np.zeros(clip, dtype=np.float32)
    offset = (clip - spoken.shape[0]) // 2
    out[offset : offset + spoken.shape[0]] = spoken
    return fit_clip(out, frontend)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--voices", type=int, default=12, help="renditions of each word")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    espeak = find_espeak()
    if espeak is None:
        return 2
    frontend = FrontendConfig()
    rng = np.random.default_rng(args.seed)
    written = 0
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        for word in unique_words():
            folder = args.out / word
            folder.mkdir(parents=True, exist_ok=True)
            for draw in range(args.voices):
                accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
                variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
                speed = int(rng.integers(*WORDS_PER_MINUTE))
                pitch = int(rng.integers(*PITCH))
                speak(espeak, word, f"{accent}+{variant}", speed, pitch, raw)
                wave = read_audio_at(raw, frontend.sample_rate)
                path = folder / f"{accent}-{variant}-{draw}.wav"
                sf.write(path, centred(wave, frontend), frontend.sample_rate)
                written += 1
    print(f"wrote {written} clips of {len(unique_words())} words to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
