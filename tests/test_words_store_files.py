"""WordStore on disk: renaming frees the old name, and concurrent head writes never collide."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from words_helpers import RATE, WHISTLE_HZ, examples

from kws_app.words.head import WordHead
from kws_app.words.store import WORD_FILE, WordStore, WordStoreError

WRITER_THREADS = 8
WRITES_PER_THREAD = 40
EMBEDDING_SIZE = 40


@pytest.fixture
def store(tmp_path: Path) -> WordStore:
    return WordStore(tmp_path / "words")


def _head(seed: int) -> WordHead:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=EMBEDDING_SIZE).astype(np.float32)
    return WordHead("sha256:test", weights, float(seed), {"seed": seed})


def test_renamed_word_frees_its_old_name_for_a_new_word(store: WordStore) -> None:
    store.add("lights", examples(WHISTLE_HZ), RATE)
    renamed = store.rename("lights", "lamp")
    assert renamed.folder.is_dir() and store.get("lamp").folder == renamed.folder
    added = store.add("lights", examples(WHISTLE_HZ, seed=5), RATE)
    assert sorted(word.name for word in store.words()) == ["lamp", "lights"]
    assert added.folder != renamed.folder
    # Each word keeps its own recordings.
    lamp_examples = store.examples(store.get("lamp"))
    lights_examples = store.examples(store.get("lights"))
    assert not np.array_equal(lamp_examples[0][0], lights_examples[0][0])


def test_a_rename_back_and_forth_keeps_one_word(store: WordStore) -> None:
    store.add("lights", examples(WHISTLE_HZ), RATE)
    store.rename("lights", "lamp")
    store.rename("lamp", "Lights")
    assert [word.name for word in store.words()] == ["Lights"]
    assert len([p for p in store.root.iterdir() if p.is_dir()]) == 1


def test_a_store_renamed_by_an_older_app_still_takes_the_old_name(store: WordStore) -> None:
    """Older versions rewrote word.json in place, leaving the old name's folder behind."""
    word = store.add("lights", examples(WHISTLE_HZ), RATE)
    text = (word.folder / WORD_FILE).read_text(encoding="utf-8")
    (word.folder / WORD_FILE).write_text(text.replace('"lights"', '"lamp"'), encoding="utf-8")
    assert [w.name for w in store.words()] == ["lamp"]
    store.add("lights", examples(WHISTLE_HZ, seed=5), RATE)
    assert sorted(w.name for w in store.words()) == ["lamp", "lights"]


def test_concurrent_head_writes_never_fail_and_leave_a_whole_head(store: WordStore) -> None:
    word = store.add("lights", examples(WHISTLE_HZ), RATE)
    errors: list[BaseException] = []
    start = threading.Barrier(WRITER_THREADS)

    def write(thread_index: int) -> None:
        start.wait()
        try:
            for step in range(WRITES_PER_THREAD):
                store.save_head(word, _head(thread_index * WRITES_PER_THREAD + step))
        except BaseException as error:  # collected so the test reports it
            errors.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(WRITER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    head = store.head(word)
    assert head is not None and head.embedding_size == EMBEDDING_SIZE
    assert [p.name for p in word.folder.iterdir() if p.name.startswith(".")] == []


def test_a_silent_example_is_refused_and_nothing_is_stored(store: WordStore) -> None:
    takes = examples(WHISTLE_HZ)
    takes[1] = np.zeros_like(takes[1])
    with pytest.raises(WordStoreError, match="example 2 holds no sound"):
        store.add("lights", takes, RATE)
    assert store.words() == []


@pytest.mark.parametrize("number", ["1" * 5001, "NaN", "1e999"])
def test_a_word_file_with_an_absurd_number_is_skipped_not_a_traceback(
    store: WordStore, number: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.add("lamp", examples(WHISTLE_HZ, 5), RATE)
    folder = store.get("lamp").folder
    text = (folder / WORD_FILE).read_text()
    (folder / WORD_FILE).write_text(text.replace("{", '{"huge": ' + number + ",", 1))
    with caplog.at_level("WARNING"):
        assert store.words() == []
    assert any("skipping custom word folder" in r.message for r in caplog.records)
