"""Continuous speech without command words, split by speaker into training, validation and test.

A folder of this kind (../shared/data/negatives/speech) carries a `manifest.csv` with one row per
recording: `path` (relative to the folder), `speaker`, `duration_s`, `has_command_word` and more.
Every speaker goes to exactly one split by a hash of its name, so the false accepts measured on
the test part come from voices the model never heard, and the split never moves when files are
added. Recordings whose transcript holds a command word are left out of every split: they are
neither clean negatives nor labelled positives. They are read on request, split by the same rule,
to measure what a user meets in conversation: command words said inside running speech.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from kws_app.errors import UserError

MANIFEST_NAME = "manifest.csv"
REQUIRED_COLUMNS = ("path", "speaker", "duration_s", "has_command_word")
TRAINING = "training"
VALIDATION = "validation"
TESTING = "testing"
SPLITS = (TRAINING, VALIDATION, TESTING)
_PERCENT = 100.0
_HASH_BUCKETS = 10_000


class SpeechNegativesError(UserError, ValueError):
    """A speech folder that cannot be used; str() is a one-line message for the user."""


@dataclass(frozen=True)
class SpeechSplit:
    """Shares of speakers in validation and test; the rest is training.

    A speaker's hash falls in [0, 100): validation takes the bottom `validation_percentage`, test
    the next `testing_percentage`, and `late_validation_percentage` more validation comes from the
    top. Validation grew after the test speakers were fixed (calibrating a false-accept rate of 1
    per hour needs hours of held-out speech); taking the new share from the top keeps every test
    speaker where it was, so test figures stay comparable across models.
    """

    validation_percentage: float = 12.0
    testing_percentage: float = 18.0
    late_validation_percentage: float = 12.0

    def __post_init__(self) -> None:
        shares = (
            self.validation_percentage,
            self.testing_percentage,
            self.late_validation_percentage,
        )
        if min(shares) < 0 or sum(shares) > _PERCENT:
            raise SpeechNegativesError("speech split percentages must be >= 0 and sum to <= 100")

    def split_of(self, speaker: str) -> str:
        digest = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
        percentage = (digest % _HASH_BUCKETS) * _PERCENT / _HASH_BUCKETS
        if percentage < self.validation_percentage:
            return VALIDATION
        if percentage < self.validation_percentage + self.testing_percentage:
            return TESTING
        if percentage >= _PERCENT - self.late_validation_percentage:
            return VALIDATION
        return TRAINING


@dataclass(frozen=True)
class SpeechRecording:
    path: Path
    speaker: str
    duration_s: float
    corpus: str
    transcript: str = ""


def read_manifest(folder: Path, saying_commands: bool = False) -> list[SpeechRecording]:
    """Every recording without a command word (with `saying_commands`: every recording whose
    transcript holds one), in manifest order."""
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        raise SpeechNegativesError(f"speech negatives need {MANIFEST_NAME} in {folder}")
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise SpeechNegativesError(f"{manifest} lacks the column(s) {', '.join(missing)}")
        recordings = []
        for row in reader:
            says_command = row["has_command_word"].strip().lower() in ("yes", "true", "1")
            if says_command != saying_commands:
                continue
            try:
                duration = float(row["duration_s"])
            except ValueError:
                raise SpeechNegativesError(
                    f"{manifest}: duration_s {row['duration_s']!r} is not a number"
                ) from None
            recordings.append(
                SpeechRecording(
                    folder / row["path"],
                    row["speaker"],
                    duration,
                    row.get("corpus") or row["path"].split("/")[0],
                    row.get("transcript") or "",
                )
            )
    return recordings


def speech_negatives(
    folder: Path, split: str, shares: SpeechSplit | None = None, saying_commands: bool = False
) -> list[SpeechRecording]:
    """The recordings of one split (training, validation or testing) that exist on disk; with
    `saying_commands`, those whose transcript holds a command word instead of those without."""
    if split not in SPLITS:
        raise SpeechNegativesError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    shares = shares or SpeechSplit()
    return [
        recording
        for recording in read_manifest(folder, saying_commands)
        if shares.split_of(recording.speaker) == split and recording.path.is_file()
    ]
