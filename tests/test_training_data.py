"""Dataset indexing: the split rule, speaker separation, class proportions, bad files."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from training_helpers import SAMPLE_RATE, WORD_TONES_HZ, make_dataset, speaker_id, tone

from kws_app.config import FrontendConfig
from training.config import SILENCE_LABEL, UNKNOWN_LABEL, DataConfig
from training.data import (
    SPLITS,
    TESTING,
    TRAINING,
    VALIDATION,
    DataError,
    build_index,
    load_background,
    load_split,
    speaker_of,
    which_set,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WANTED = tuple(WORD_TONES_HZ)


def reference_which_set(
    filename: str, validation_percentage: float, testing_percentage: float
) -> str:
    """TF speech_commands input_data.which_set, verbatim apart from compat.as_bytes."""
    max_num_wavs_per_class = 2**27 - 1
    base_name = Path(filename).name
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_name_hashed = hashlib.sha1(hash_name.encode("utf-8")).hexdigest()
    percentage_hash = (int(hash_name_hashed, 16) % (max_num_wavs_per_class + 1)) * (
        100.0 / max_num_wavs_per_class
    )
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < (testing_percentage + validation_percentage):
        return "testing"
    return "training"


# Clips of the official v0.02 test archive: the hashing rule must put every one in "testing".
OFFICIAL_TEST_SET_NAMES = (
    "backward/0c540988_nohash_0.wav",
    "go/8fe67225_nohash_3.wav",
    "no/37dca74f_nohash_0.wav",
    "off/f6af2457_nohash_0.wav",
    "right/cfde27ba_nohash_1.wav",
    "up/63f7a489_nohash_2.wav",
    "zero/837a0f64_nohash_3.wav",
)


@pytest.mark.parametrize("name", OFFICIAL_TEST_SET_NAMES)
def test_hash_rule_puts_official_test_clips_in_testing(name: str) -> None:
    assert which_set(name, 10, 10) == TESTING


def test_hash_rule_matches_reference_on_many_names() -> None:
    names = [f"{speaker_id(i)}_nohash_{i % 5}.wav" for i in range(2000)]
    for name in names:
        assert which_set(name, 10, 10) == reference_which_set(name, 10, 10)
    counts = Counter(which_set(name, 10, 10) for name in names)
    assert 0.07 < counts[VALIDATION] / len(names) < 0.13
    assert 0.07 < counts[TESTING] / len(names) < 0.13


def test_no_speaker_in_two_splits(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", speakers=40, clips_per_speaker=2)
    index = build_index(DataConfig(data_dir=str(root), wanted_words=WANTED))
    assert not index.used_lists
    splits_of_speaker: dict[str, set[str]] = {}
    for clip in index.clips:
        if clip.path is not None and SILENCE_LABEL not in clip.path:
            splits_of_speaker.setdefault(speaker_of(clip.path), set()).add(clip.split)
    assert all(len(splits) == 1 for splits in splits_of_speaker.values())
    assert {s for splits in splits_of_speaker.values() for s in splits} == set(SPLITS)


def test_unknown_and_silence_proportions(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", speakers=40, clips_per_speaker=2)
    config = DataConfig(
        data_dir=str(root), wanted_words=WANTED, silence_percentage=20, unknown_percentage=15
    )
    index = build_index(config)
    assert index.labels == (SILENCE_LABEL, UNKNOWN_LABEL, *WANTED)
    for split in SPLITS:
        counts = Counter(clip.label for clip in index.split(split))
        words = sum(counts[w] for w in WANTED)
        assert counts[SILENCE_LABEL] == math.ceil(words * 0.20)
        assert counts[UNKNOWN_LABEL] == math.ceil(words * 0.15)
    unknown_sources = {Path(c.path).parent.name for c in index.clips if c.label == UNKNOWN_LABEL}
    assert unknown_sources <= {"cat", "dog"}


def test_list_files_override_the_hash_rule(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", speakers=10)
    listed = sorted(p.relative_to(root).as_posix() for p in (root / "yes").glob("*.wav"))
    (root / "validation_list.txt").write_text("\n".join(listed[:3]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(listed[3:5]) + "\n")
    index = build_index(DataConfig(data_dir=str(root), wanted_words=WANTED))
    assert index.used_lists
    yes = {
        Path(c.path).relative_to(root).as_posix(): c.split for c in index.clips if c.label == "yes"
    }
    assert [yes[name] for name in listed[:5]] == [VALIDATION] * 3 + [TESTING] * 2
    assert all(yes[name] == TRAINING for name in listed[5:])


def test_unknown_dirs_added_and_excluded_dirs_never_used(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", speakers=30)
    negatives = tmp_path / "negatives"
    rng = np.random.default_rng(1)
    for folder in ("keep", "reserved"):
        (negatives / folder).mkdir(parents=True)
        for n in range(20):
            sf.write(negatives / folder / f"{folder}-{n}.flac", tone(300.0, rng, 2.5), SAMPLE_RATE)
    config = DataConfig(
        data_dir=str(root),
        wanted_words=WANTED,
        unknown_dirs=(str(negatives),),
        exclude_dirs=(str(negatives / "reserved"),),
        unknown_percentage=100,
    )
    index = build_index(config)
    paths = [c.path for c in index.clips if c.path]
    assert any("keep-" in p for p in paths)
    assert not any("reserved" in p for p in paths)
    # Recordings longer than a clip give a random, seed-determined one-second crop.
    frontend = FrontendConfig()
    first, _ = load_split(index, TRAINING, frontend, [], seed=3, progress=False)
    second, _ = load_split(index, TRAINING, frontend, [], seed=3, progress=False)
    assert first.waves.shape[1] == frontend.clip_samples
    np.testing.assert_array_equal(first.waves, second.waves)


def test_long_negative_recordings_give_one_window_per_hop(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", speakers=30)
    negatives = tmp_path / "negatives"
    negatives.mkdir()
    rng = np.random.default_rng(2)
    seconds = 2.5
    # A rising ramp shows which part of the recording each window holds.
    ramp = np.linspace(0.0, 1.0, int(seconds * SAMPLE_RATE), dtype=np.float32)
    for n in range(12):
        sf.write(negatives / f"sentence-{n}.flac", ramp * 0.5, SAMPLE_RATE)
    sf.write(negatives / "short.flac", tone(300.0, rng, 0.5), SAMPLE_RATE)
    hop_ms = 500
    config = DataConfig(
        data_dir=str(root),
        wanted_words=WANTED,
        unknown_dirs=(str(negatives),),
        unknown_percentage=1000,  # more than the pool: every window is drawn
        unknown_window_hop_ms=hop_ms,
    )
    index = build_index(config)
    windows = [c for c in index.clips if c.path and "sentence-" in c.path]
    starts = Counter(c.start_ms for c in windows)
    # 2.5 s recordings, 1 s clips: windows at 0, 0.5, 1.0 and 1.5 s (the last ends with the file).
    assert set(starts) == {0, 500, 1000, 1500}
    assert len({c.path for c in windows}) == 12
    assert all(starts[s] == 12 for s in starts)
    short = [c for c in index.clips if c.path and "short" in c.path]
    assert [c.start_ms for c in short] == [None]

    frontend = FrontendConfig()
    for split in SPLITS:
        loaded, _ = load_split(index, split, frontend, [], seed=0, progress=False)
        for row, clip in enumerate(loaded.clips):
            if clip.path and "sentence-" in clip.path:
                first = int(clip.start_ms * SAMPLE_RATE / 1000)
                expected = ramp[first : first + frontend.clip_samples] * 0.5
                np.testing.assert_allclose(loaded.waves[row], expected, atol=1e-4)


def test_corrupt_empty_and_resampled_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_dataset(tmp_path / "data", speakers=12)
    names = [f"{speaker_id(100 + i)}_nohash_0" for i in range(3)]
    (root / "yes" / f"{names[0]}.wav").write_bytes(b"RIFF not really a wav file")
    (root / "yes" / f"{names[1]}.flac").write_bytes(b"")
    rate_8k = 8000
    sf.write(root / "no" / f"{names[2]}.wav", tone(440.0, np.random.default_rng(0))[::2], rate_8k)
    index = build_index(DataConfig(data_dir=str(root), wanted_words=WANTED))
    noises, _ = load_background(index, SAMPLE_RATE)
    skipped_total = 0
    frontend = FrontendConfig()
    for split in SPLITS:
        loaded, skipped = load_split(index, split, frontend, noises, seed=0, progress=False)
        skipped_total += skipped.total
        assert loaded.waves.shape == (len(loaded), frontend.clip_samples)
        resampled = [i for i, c in enumerate(loaded.clips) if c.path and names[2] in c.path]
        for row in resampled:
            assert np.abs(loaded.waves[row, : frontend.clip_samples - 100]).max() > 0.1
    assert skipped_total == 2
    assert "skipped" in caplog.text


def test_missing_folders_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        build_index(DataConfig(data_dir=str(tmp_path / "nothing")))
    root = make_dataset(tmp_path / "data", speakers=3)
    with pytest.raises(DataError, match="stop"):
        build_index(DataConfig(data_dir=str(root), wanted_words=("yes", "stop")))


def test_shared_data_uses_its_lists_and_keeps_reserved_negatives_out() -> None:
    speech = SHARED_DATA / "speech_commands"
    if not speech.is_dir():
        pytest.skip(f"shared recordings not found at {SHARED_DATA} (a fresh checkout has none)")
    negatives = SHARED_DATA / "negatives" / "precise"
    reserved = negatives / "heysavant" / "not-wake-words"
    config = DataConfig(
        data_dir=str(speech), unknown_dirs=(str(negatives),), exclude_dirs=(str(reserved),)
    )
    index = build_index(config)
    assert index.used_lists
    assert not any(c.path and "heysavant/not-wake-words" in c.path for c in index.clips)
    counts = Counter(c.split for c in index.clips if c.label in ("on", "off"))
    assert counts[TRAINING] > 500  # the hashing rule would leave ~6
