"""Index a folder-per-word dataset into train/validation/test clips and load them into memory.

Splits follow Speech Commands practice so figures stay comparable with published ones: the
dataset's own `validation_list.txt`/`testing_list.txt` when it has them (a subset such as
../shared/data carries the lists of the full dataset, and re-hashing it would put every clip taken
from the official test split into "testing"), otherwise the SHA1-of-speaker rule, which keeps every
speaker in one split. Clips the lists cannot cover (the `_silence_` folder, extra negative folders)
always use the hashing rule.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from tqdm import tqdm

from kws_app.audio.files import (
    AudioFileError,
    EmptyAudioFileError,
    list_audio_files,
    read_audio_at,
)
from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.dsp.frontend import fit_clip
from kws_app.errors import UserError
from training.config import BACKGROUND_NOISE_DIR, SILENCE_LABEL, UNKNOWN_LABEL, DataConfig

logger = logging.getLogger(__name__)

TRAINING = "training"
VALIDATION = "validation"
TESTING = "testing"
SPLITS = (TRAINING, VALIDATION, TESTING)
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
SILENCE_DIR = SILENCE_LABEL
# The reference rule's modulus: large enough that adding files never moves existing ones.
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
_NOHASH = re.compile(r"_nohash_.*$")

FloatArray = npt.NDArray[np.float32]


class DataError(UserError):
    """A dataset the training cannot use; str() is a one-line message for the user."""


@dataclass(frozen=True)
class Clip:
    """One example. `path` is None for generated silence, which `seed` makes reproducible.

    `start_ms` picks a fixed window of a longer recording; None takes a random one.
    """

    path: str | None
    label: str
    split: str
    seed: int = 0
    start_ms: int | None = None


@dataclass(frozen=True)
class DatasetIndex:
    clips: tuple[Clip, ...]
    background_paths: tuple[str, ...]
    labels: tuple[str, ...]
    used_lists: bool

    def split(self, name: str) -> list[Clip]:
        return [clip for clip in self.clips if clip.split == name]

    def summary(self) -> dict[str, dict[str, int]]:
        """Clips per split and label, stored in the exported model's metadata."""
        counts: dict[str, dict[str, int]] = {split: {} for split in SPLITS}
        for clip in self.clips:
            per_split = counts[clip.split]
            per_split[clip.label] = per_split.get(clip.label, 0) + 1
        return counts


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """TF speech_commands' rule: the speaker (name before `_nohash_`) decides, via SHA1."""
    base_name = Path(filename).name
    hash_name = _NOHASH.sub("", base_name)
    hashed = int(hashlib.sha1(hash_name.encode("utf-8")).hexdigest(), 16)
    percentage_hash = (hashed % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage_hash < validation_percentage:
        return VALIDATION
    if percentage_hash < testing_percentage + validation_percentage:
        return TESTING
    return TRAINING


def speaker_of(filename: str) -> str:
    return _NOHASH.sub("", Path(filename).name)


def _read_list(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _is_excluded(path: Path, excluded: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder) for folder in excluded)


def build_index(config: DataConfig, frontend: FrontendConfig | None = None) -> DatasetIndex:
    """All clips of every split with their labels; no audio is read here (only the lengths of
    extra negative recordings, when they are cut into several windows)."""
    clip_ms = (frontend or FrontendConfig()).clip_ms
    root = Path(config.data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if len(set(config.wanted_words)) != len(config.wanted_words) or not config.wanted_words:
        raise DataError("--wanted-words must list distinct words")
    excluded = [Path(p).resolve() for p in config.exclude_dirs]
    validation_list = _read_list(root / VALIDATION_LIST)
    testing_list = _read_list(root / TESTING_LIST)
    used_lists = bool(validation_list or testing_list)

    def split_of(path: Path, listed: bool) -> str:
        if listed and used_lists:
            relative = path.relative_to(root).as_posix()
            if relative in validation_list:
                return VALIDATION
            return TESTING if relative in testing_list else TRAINING
        return which_set(path.name, config.validation_percentage, config.testing_percentage)

    words: dict[str, list[Clip]] = {split: [] for split in SPLITS}
    unknown_pool: dict[str, list[Clip]] = {split: [] for split in SPLITS}
    silence_files: dict[str, list[Clip]] = {split: [] for split in SPLITS}
    word_dirs = word_folders(root)
    found_words = {p.name for p in word_dirs}
    missing = [w for w in config.wanted_words if w not in found_words]
    if missing:
        raise DataError(f"no folder for wanted word(s) {', '.join(missing)} in {root}")
    for folder in word_dirs:
        wanted = folder.name in config.wanted_words
        for path in list_audio_files(folder):
            if _is_excluded(path, excluded):
                continue
            split = split_of(path, listed=True)
            target = words if wanted else unknown_pool
            target[split].append(Clip(str(path), folder.name if wanted else UNKNOWN_LABEL, split))
    for extra in config.unknown_dirs:
        extra_root = Path(extra)
        if not extra_root.is_dir():
            raise DataError(f"unknown-word folder not found: {extra_root}")
        for path in list_audio_files(extra_root):
            if not _is_excluded(path, excluded):
                split = split_of(path, listed=False)
                unknown_pool[split].extend(
                    Clip(str(path), UNKNOWN_LABEL, split, start_ms=start_ms)
                    for start_ms in _window_starts_ms(path, config.unknown_window_hop_ms, clip_ms)
                )
    silence_root = root / SILENCE_DIR
    if silence_root.is_dir():
        for path in list_audio_files(silence_root):
            split = split_of(path, listed=False)
            silence_files[split].append(Clip(str(path), SILENCE_LABEL, split))
    background_root = root / BACKGROUND_NOISE_DIR
    background = (
        tuple(str(p) for p in list_audio_files(background_root)) if background_root.is_dir() else ()
    )

    rng = np.random.default_rng(config.seed)
    clips: list[Clip] = []
    for split in SPLITS:
        split_words = words[split]
        clips.extend(split_words)
        unknown_count = math.ceil(len(split_words) * config.unknown_percentage / 100)
        pool = unknown_pool[split]
        order = rng.permutation(len(pool))
        clips.extend(pool[i] for i in order[:unknown_count])
        silence_count = math.ceil(len(split_words) * config.silence_percentage / 100)
        clips.extend(_silence_clips(silence_files[split], silence_count, split, rng))
    if not any(c.label in config.wanted_words for c in clips if c.split == TRAINING):
        raise DataError(f"no training clips of the wanted words in {root}")
    return DatasetIndex(tuple(clips), background, config.labels, used_lists)


def _window_starts_ms(path: Path, hop_ms: int, clip_ms: int) -> list[int | None]:
    """Where the negative windows of one recording start; [None] is one random window.

    Windows step by `hop_ms` while a whole clip still fits; a recording too short for a second
    window keeps its one random window. An unreadable file keeps its single entry and is counted
    as skipped when the audio is loaded.
    """
    if hop_ms <= 0:
        return [None]
    try:
        duration_ms = int(sf.info(str(path)).duration * MS_PER_SECOND)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
        return [None]
    last_start_ms = duration_ms - clip_ms
    if last_start_ms < hop_ms:
        return [None]
    return list(range(0, last_start_ms + 1, hop_ms))


def _silence_clips(
    files: list[Clip], count: int, split: str, rng: np.random.Generator
) -> list[Clip]:
    """Half recorded room tone (when there is some), half generated noise or digital zero."""
    recorded = [files[i] for i in rng.permutation(len(files))][: count // 2]
    generated = [
        Clip(None, SILENCE_LABEL, split, seed=int(rng.integers(2**31)))
        for _ in range(count - len(recorded))
    ]
    return recorded + generated


@dataclass
class SkipCounter:
    """Files that could not be used; reported once at the end instead of crashing mid-load."""

    unreadable: int = 0
    empty: int = 0

    @property
    def total(self) -> int:
        return self.unreadable + self.empty

    def report(self, where: str, files: int) -> None:
        """One warning line for what `where` skipped of its `files`, if anything."""
        if self.total:
            logger.warning(
                "%s: skipped %d of %d files (%d unreadable, %d empty)",
                where,
                self.total,
                files,
                self.unreadable,
                self.empty,
            )


def is_word_name(name: str) -> bool:
    """In folder-per-word data every folder is a word but `_silence_`, `_background_noise_`
    and any other name starting with "_"."""
    return not name.startswith("_")


def word_folders(root: Path) -> list[Path]:
    """The word folders of a folder-per-word data directory, sorted."""
    return sorted(p for p in root.iterdir() if p.is_dir() and is_word_name(p.name))


def try_read_audio(path: str | Path, sample_rate: int, skipped: SkipCounter) -> FloatArray | None:
    try:
        wave = read_audio_at(path, sample_rate)
    except EmptyAudioFileError:
        skipped.empty += 1
        return None
    except AudioFileError as error:
        skipped.unreadable += 1
        logger.debug("skipping unreadable %s: %s", path, error)
        return None
    if wave.size == 0 or not np.all(np.isfinite(wave)):
        skipped.empty += 1
        return None
    return wave


def crop_clip(
    wave: FloatArray,
    frontend: FrontendConfig,
    rng: np.random.Generator,
    start_ms: int | None = None,
) -> FloatArray:
    """A clip-long window: at `start_ms`, else a random one of longer recordings, else the
    padded start."""
    if start_ms is not None:
        start = start_ms * frontend.sample_rate // MS_PER_SECOND
        return fit_clip(wave[start : start + frontend.clip_samples], frontend)
    if wave.shape[0] > frontend.clip_samples:
        start = int(rng.integers(wave.shape[0] - frontend.clip_samples + 1))
        return wave[start : start + frontend.clip_samples].copy()
    return fit_clip(wave, frontend)


@dataclass(frozen=True)
class LoadedSplit:
    """Waveforms of one split held in memory, so each epoch only pays for augmentation."""

    waves: FloatArray  # (clips, clip_samples)
    targets: npt.NDArray[np.int64]
    clips: tuple[Clip, ...]

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def class_counts(self, num_classes: int) -> npt.NDArray[np.int64]:
        return np.bincount(self.targets, minlength=num_classes)


def load_split(
    index: DatasetIndex,
    split: str,
    frontend: FrontendConfig,
    noises: list[FloatArray],
    seed: int,
    progress: bool = True,
) -> tuple[LoadedSplit, SkipCounter]:
    """Decode every clip of a split; generated silence is built from `noises` deterministically."""
    from training.augment import silence_wave  # augment imports nothing from here at import time

    label_ids = {label: i for i, label in enumerate(index.labels)}
    clips = index.split(split)
    waves: list[FloatArray] = []
    kept: list[Clip] = []
    skipped = SkipCounter()
    for position, clip in enumerate(tqdm(clips, desc=f"loading {split}", disable=not progress)):
        rng = np.random.default_rng([seed, SPLITS.index(split), position])
        if clip.path is None:
            waves.append(
                silence_wave(frontend.clip_samples, noises, np.random.default_rng(clip.seed))
            )
            kept.append(clip)
            continue
        wave = try_read_audio(clip.path, frontend.sample_rate, skipped)
        if wave is None:
            continue
        waves.append(crop_clip(wave, frontend, rng, clip.start_ms))
        kept.append(clip)
    skipped.report(split, len(clips))
    array = (
        np.stack(waves).astype(np.float32)
        if waves
        else np.zeros((0, frontend.clip_samples), dtype=np.float32)
    )
    targets = np.array([label_ids[c.label] for c in kept], dtype=np.int64)
    return LoadedSplit(array, targets, tuple(kept)), skipped


def load_background(index: DatasetIndex, sample_rate: int) -> tuple[list[FloatArray], SkipCounter]:
    skipped = SkipCounter()
    noises = [
        w
        for p in index.background_paths
        if (w := try_read_audio(p, sample_rate, skipped)) is not None
    ]
    return noises, skipped


def label_counts(clips: list[Clip]) -> Counter[str]:
    return Counter(c.label for c in clips)
