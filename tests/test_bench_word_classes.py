"""`bench/make_word_classes.py` makes classes for the word embedder's word task: none of them may
be a command word or one of the dataset's other words (the benchmark's reserved and validation
words must stay unseen), and each rendition is its spoken part centred in one clip."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from make_word_classes import centred, unique_words  # noqa: E402

from kws_app.config import FrontendConfig  # noqa: E402

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def test_no_word_class_is_a_command() -> None:
    assert not set(unique_words()) & set(COMMANDS)


def test_no_word_class_is_a_word_of_the_dataset(shared_data: Path) -> None:
    folders = (shared_data / "speech_commands").iterdir()
    dataset = {p.name for p in folders if p.is_dir() and not p.name.startswith("_")}
    assert not set(unique_words()) & dataset


def test_a_rendition_is_its_spoken_part_centred_in_one_clip() -> None:
    frontend = FrontendConfig()
    rate = frontend.sample_rate
    rng = np.random.default_rng(0)
    wave = 1e-4 * rng.standard_normal(2 * rate).astype(np.float32)
    spoken = slice(rate // 10, rate // 10 + rate // 4)  # a quarter second, early in the take
    wave[spoken] += 0.3 * np.sin(2 * np.pi * 300 * np.arange(rate // 4) / rate)
    clip = centred(wave, frontend)
    assert clip.shape == (frontend.clip_samples,)
    loud = np.flatnonzero(np.abs(clip) > 0.05)
    middle = (loud[0] + loud[-1]) / 2
    assert abs(middle - frontend.clip_samples / 2) < rate / 20


def test_a_rendition_longer_than_the_clip_keeps_its_middle() -> None:
    frontend = FrontendConfig()
    rate = frontend.sample_rate
    wave = 0.3 * np.sin(2 * np.pi * 300 * np.arange(3 * rate) / rate).astype(np.float32)
    assert centred(wave, frontend).shape == (frontend.clip_samples,)
