"""Shared helpers for the custom-word scripts: the Speech Commands split and clip embedding.

Split rule (../shared/data/README.md): a clip is validation or testing when its path is listed in
validation_list.txt / testing_list.txt, training otherwise. The reserved false-accept folder
(negatives/precise/heysavant/not-wake-words) is read only by the benchmark, never for negatives.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kws_app.audio.files import list_audio_files
from training.data import speaker_of, word_folders

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COMMAND_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
BACKGROUND = "_background_noise_"
RESERVED_NEGATIVES = Path("negatives") / "precise" / "heysavant" / "not-wake-words"
# Continuous speech of many speakers, with transcripts (training/speech_negatives.py).
SPEECH_NEGATIVES = Path("negatives") / "speech"
# Non-command words kept out of ALL training (the base model: `--exclude-dir` in
# docs/benchmarks.md, and the shipped negatives: words_negatives.py), so that the custom-word
# benchmark measures words the app has truly never heard.
RESERVED_WORDS = ("happy", "house", "marvin", "sheila", "wow")
# Words custom-word settings are chosen on: every non-reserved, non-command word with at least 12
# clips (enough speakers for five-speaker examples and a disjoint test). Five of them alone moved
# a choice by 5-10 points between draw counts and disagreed with the reserved words
# (docs/benchmarks.md, "A custom word's own averaging window").
VALIDATION_WORDS = (
    "bird", "cat", "dog", "tree", "zero", "bed", "eight", "five",
    "four", "nine", "one", "seven", "six", "three", "two", "forward",
)  # fmt: skip


@dataclass(frozen=True)
class ClipRef:
    path: Path
    label: str
    speaker: str
    split: str


def read_clips(data_dir: Path) -> list[ClipRef]:
    root = data_dir / "speech_commands"
    lists = {
        split: set((root / f"{split}_list.txt").read_text().split())
        for split in ("validation", "testing")
    }
    clips = []
    with (root / "manifest.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            split = next((s for s, names in lists.items() if row["path"] in names), "training")
            clips.append(ClipRef(root / row["path"], row["label"], row["speaker"], split))
    return clips


def speaker_name(speaker: str) -> str:
    """A manifest's speaker as cut clips name it (`<speaker>_nohash_<n>`): letters and digits."""
    return re.sub(r"[^A-Za-z0-9]", "", speaker)


def read_word_dir(root: Path, split: str = "validation") -> list[ClipRef]:
    """Clips of a folder-per-word directory whose names say their speaker (`<speaker>_nohash_<n>`,
    as bench/cut_speech_words.py writes them), all of one `split`."""
    return [
        ClipRef(path, folder.name, speaker_of(path.name), split)
        for folder in word_folders(root)
        for path in list_audio_files(folder, recursive=False)
    ]


def by_label(clips: list[ClipRef]) -> dict[str, list[ClipRef]]:
    grouped: dict[str, list[ClipRef]] = defaultdict(list)
    for clip in clips:
        grouped[clip.label].append(clip)
    return grouped
