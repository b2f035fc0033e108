"""A thinned copy of a kws data folder, for timing training where the full data cannot go.

Usage: .venv/bin/python bench/data_subset.py OUT [--data ../shared/data] [--every 5]
                                             [--speech-every 10]

The GPU machine of the `device` tool takes at most 64 MiB a call, so bench/device_check.sh trains
on this copy: every Nth clip of each Speech Commands folder (the dataset's split lists are copied
whole; the loader uses them for the clips present), all background noise, and every Mth recording
of `negatives/speech` and `negatives/precise`, with the manifest rows of what was kept. The layout
is the original's, so the training command is the same one with another --data-dir.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from kws_app.audio.files import list_audio_files

SPEECH_COMMANDS = "speech_commands"
KEPT_WHOLE = ("_background_noise_",)
LISTS = ("validation_list.txt", "testing_list.txt", "LICENSE")
SPEECH = Path("negatives") / "speech"
PRECISE = Path("negatives") / "precise"
MANIFEST = "manifest.csv"


def copy_every(source: Path, target: Path, every: int) -> int:
    """Every `every`th audio file of each folder under `source` (sorted, so the copy is stable)."""
    copied = 0
    for folder in sorted({path.parent for path in list_audio_files(source, recursive=True)}):
        step = 1 if folder.name in KEPT_WHOLE else every
        for path in list_audio_files(folder, recursive=False)[::step]:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied += 1
    return copied


def copy_manifest(source: Path, target: Path) -> None:
    """The manifest's rows for the files that were copied, in its own order."""
    with (source / MANIFEST).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if (target / row["path"]).is_file()]
        fields = reader.fieldnames or []
    with (target / MANIFEST).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--every", type=int, default=5, help="for speech_commands")
    parser.add_argument("--speech-every", type=int, default=10, help="for negatives/")
    args = parser.parse_args()
    for part, every in (
        (Path(SPEECH_COMMANDS), args.every),
        (SPEECH, args.speech_every),
        (PRECISE, args.speech_every),
    ):
        count = copy_every(args.data / part, args.out / part, every)
        print(f"{part}: {count} files")
    for name in LISTS:
        shutil.copy2(args.data / SPEECH_COMMANDS / name, args.out / SPEECH_COMMANDS / name)
    copy_manifest(args.data / SPEECH, args.out / SPEECH)


if __name__ == "__main__":
    main()
