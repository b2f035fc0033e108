"""Synthetic takes of a custom word (kws_app/words/synthetic.py): espeak-ng says the word's spelling
in several voices, a spelling is never read as an option, and a missing or failing espeak-ng is one
clear error."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kws_app.dsp.levels import peak_dbfs
from kws_app.words.archive import export_words, import_words
from kws_app.words.store import WORD_FILE, WordStore, WordStoreError
from kws_app.words.synthetic import (
    OTHER_WORDS,
    SyntheticVoiceError,
    SyntheticVoicesConfig,
    clean_spelling,
    find_espeak,
    synthetic_other_words,
    synthetic_takes,
)

RATE = 16000


def _needs_espeak() -> str:
    espeak = find_espeak()
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return espeak


def test_takes_are_speech_at_the_models_rate_in_different_voices() -> None:
    _needs_espeak()
    takes = synthetic_takes("marvin", RATE, SyntheticVoicesConfig(takes=4))
    assert len(takes) == 4
    for take in takes:
        assert take.dtype == np.float32 and take.ndim == 1
        assert 0.2 * RATE < take.size < 2 * RATE
        assert peak_dbfs(take) > -30.0
    lengths = {take.size for take in takes}
    assert len(lengths) > 1, "each take draws its own voice and speaking rate"


def test_the_same_seed_gives_the_same_takes() -> None:
    _needs_espeak()
    config = SyntheticVoicesConfig(takes=2, seed=7)
    first, second = synthetic_takes("hello", RATE, config), synthetic_takes("hello", RATE, config)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_spelling_that_looks_like_an_option_is_said_not_obeyed() -> None:
    _needs_espeak()
    takes = synthetic_takes("--help", RATE, SyntheticVoicesConfig(takes=1))
    assert peak_dbfs(takes[0]) > -30.0


def test_spellings_are_one_printable_line_of_bounded_length() -> None:
    config = SyntheticVoicesConfig(max_spelling_chars=12)
    assert clean_spelling("  hey\n\tcomputer ", config) == "hey computer"
    with pytest.raises(ValueError, match="empty"):
        clean_spelling(" \x00\n ", config)
    with pytest.raises(ValueError, match="longer than 12"):
        clean_spelling("a very long wake phrase", config)


def test_a_missing_espeak_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SyntheticVoiceError, match="could not say"):
        synthetic_takes("marvin", RATE, espeak=str(tmp_path / "no-such-program"))


def test_an_espeak_that_writes_no_audio_is_one_clear_error(tmp_path: Path) -> None:
    program = tmp_path / "espeak-ng"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SyntheticVoiceError, match="could not say"):
        synthetic_takes("marvin", RATE, espeak=str(program))


def test_a_words_spelling_is_kept_and_a_hostile_one_refused(tmp_path: Path) -> None:
    store = WordStore(tmp_path / "words")
    takes = [np.full(RATE // 2, 0.1, dtype=np.float32)] * 5
    word = store.add("lumos", takes, RATE, spelling="  loo\tmoss ")
    assert store.get("lumos").record.spelling == "loo moss"
    plain = store.add("nox", takes, RATE)
    assert store.get("nox").record.spelling is None
    assert "spelling" not in json.loads((plain.folder / WORD_FILE).read_text())
    with pytest.raises(WordStoreError, match="spelling"):
        store.add("incendio", takes, RATE, spelling="x" * 500)
    data = json.loads((word.folder / WORD_FILE).read_text())
    data["spelling"] = ["not", "text"]
    (word.folder / WORD_FILE).write_text(json.dumps(data))
    assert [w.name for w in store.words()] == ["nox"], "a hostile word.json is skipped"


def test_a_spelling_travels_in_a_word_file(tmp_path: Path) -> None:
    store = WordStore(tmp_path / "words")
    takes = [np.full(RATE // 2, 0.1, dtype=np.float32)] * 5
    store.add("lumos", takes, RATE, spelling="loo moss")
    export_words(store, [], tmp_path / "words.kwswords")
    elsewhere = WordStore(tmp_path / "other")
    import_words(elsewhere, tmp_path / "words.kwswords")
    assert elsewhere.get("lumos").record.spelling == "loo moss"


def test_other_words_are_said_as_negatives_and_never_the_word_itself() -> None:
    _needs_espeak()
    config = SyntheticVoicesConfig(other_words=3)
    others = synthetic_other_words("apple", RATE, config)
    assert len(others) == 3
    assert all(peak_dbfs(take) > -30.0 for take in others)
    assert "apple" in OTHER_WORDS  # so the word's own name had to be left out
    every = synthetic_other_words("apple", RATE, replace(config, other_words=len(OTHER_WORDS)))
    assert len(every) == len(OTHER_WORDS) - 1
