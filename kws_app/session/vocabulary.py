"""The vocabulary: the base model plus the store's custom words, as one scorer.

Heads that are missing or were fitted on another model are trained one word at a time, within a
budget of time and words, so a store full of imported words can never hold up listening: a word
that cannot train is skipped with a one-line message, and words past the budget wait (with a
message) for the next change. The window runs this on a background thread (`VocabularyJob`) and
listens with the base model meanwhile; the command line runs it, bounded the same way, before it
listens or replays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kws_app.errors import one_line
from kws_app.inference.pipeline import Scorer
from kws_app.words.head import WordHead
from kws_app.words.store import StoredWord, WordStore, WordStoreError
from kws_app.words.trainer import TrainingError, WordAudio, WordTrainer

logger = logging.getLogger(__name__)

# What can go wrong with one stored word (damaged recordings, a refused head, a full disk).
WORD_ERRORS = (WordStoreError, TrainingError, OSError, ValueError)

_running_lock = threading.Lock()
_running: set[VocabularyJob] = set()


def jobs_running() -> bool:
    """True while a job still trains: the interpreter's shutdown must not tear down the model
    under it (the entry point leaves with os._exit instead)."""
    with _running_lock:
        return bool(_running)


@dataclass(frozen=True)
class TrainingBudget:
    """How much training one change of vocabulary may do before it listens with what it has."""

    max_seconds: float = 120.0
    max_words: int = 20


@dataclass(frozen=True)
class Vocabulary:
    """One scorer for the pipeline, and what the user should hear about the custom words."""

    scorer: Any  # the base model, or a CustomWordScorer around it (both are Scorers)
    words: tuple[str, ...]  # the custom words in the scorer
    messages: tuple[str, ...]  # one line per word skipped or left for later

    @property
    def base(self) -> Any:
        return getattr(self.scorer, "base", self.scorer)


def build_vocabulary(
    base: Any,
    store: WordStore,
    budget: TrainingBudget | None = None,
    retrain_all: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    trainer: WordTrainer | None = None,
) -> Vocabulary:
    """The base model with every usable stored word whose head is current or can be trained now.

    With `retrain_all` (a word was added or imported: every head should know the new words as
    negatives) words past the budget keep their current head.
    """
    budget = budget or TrainingBudget()
    try:
        if not store.words():
            return Vocabulary(base, (), ())
        trainer = trainer or WordTrainer(base, Path(base.path))
        words = trainer.usable_words(store)
    except WORD_ERRORS as error:
        return _base_only(base, f"custom words are not used: {one_line(error)}")
    current: dict[str, WordHead] = {}
    stale: list[StoredWord] = []
    for word in words:
        head = store.head(word)
        if head is not None and trainer.head_is_current(head):
            current[word.name] = head
        if retrain_all or word.name not in current:
            stale.append(word)
    heads, messages = _train(trainer, store, words, stale, budget, should_stop)
    heads = {**current, **heads}
    usable = [(word.name, heads[word.name]) for word in words if word.name in heads]
    scorer = trainer.scorer(usable) if usable else base
    return Vocabulary(scorer, tuple(name for name, _ in usable), tuple(messages))


def _base_only(base: Any, message: str) -> Vocabulary:
    logger.warning("%s", message)
    return Vocabulary(base, (), (message,))


def _train(
    trainer: WordTrainer,
    store: WordStore,
    words: list[StoredWord],
    stale: list[StoredWord],
    budget: TrainingBudget,
    should_stop: Callable[[], bool],
) -> tuple[dict[str, WordHead], list[str]]:
    """Train `stale` one by one within the budget; each failure is a message, not the end."""
    heads: dict[str, WordHead] = {}
    messages: list[str] = []
    audio: dict[str, WordAudio | None] = {}

    def audio_of(word: StoredWord) -> WordAudio | None:
        if word.name not in audio:
            try:
                audio[word.name] = trainer.word_audio(store, word)
            except WORD_ERRORS as error:
                audio[word.name] = None
                messages.append(f"custom word {word.name!r} is not used: {one_line(error)}")
        return audio[word.name]

    started = time.monotonic()
    for count, word in enumerate(stale):
        if should_stop():
            break
        if count >= budget.max_words or time.monotonic() - started > budget.max_seconds:
            waiting = ", ".join(repr(w.name) for w in stale[count:])
            messages.append(f"custom words not trained yet (training limit reached): {waiting}")
            break
        own = audio_of(word)
        if own is None:
            continue
        others = [a for other in words if other is not word and (a := audio_of(other)) is not None]
        try:
            head = trainer.train_audio(own, others)
            store.save_head(word, head)
        except WORD_ERRORS as error:
            messages.append(f"custom word {word.name!r} is not used: {one_line(error)}")
            continue
        heads[word.name] = head
    if heads:
        logger.info("trained %d custom word(s) in %.1f s", len(heads), time.monotonic() - started)
    for message in messages:
        logger.warning("%s", message)
    return heads, messages


def with_custom_words(model: Any, store: WordStore | None = None) -> Scorer:
    """The model with the store's custom words (the model itself when there are none); what the
    command line listens with. Problems with the words are logged, never the end of listening."""
    return build_vocabulary(model, store or WordStore()).scorer  # type: ignore[no-any-return]


class VocabularyJob:
    """`build_vocabulary` on a daemon thread; `on_done(vocabulary)` is called on that thread.

    One job at a time is the caller's rule (the controller cancels the previous one, whose result
    it then ignores). `cancel` takes effect between words.
    """

    def __init__(
        self,
        base: Any,
        store: WordStore,
        on_done: Callable[[Vocabulary], None],
        budget: TrainingBudget | None = None,
        retrain_all: bool = False,
        trainer: WordTrainer | None = None,
    ) -> None:
        self.base = base
        self._store = store
        self._on_done = on_done
        self._budget = budget
        self._retrain_all = retrain_all
        self._trainer = trainer
        self._cancelled = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vocabulary", daemon=True)

    def start(self) -> None:
        with _running_lock:
            _running.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self.finished.wait(timeout_s)

    def _run(self) -> None:
        try:
            vocabulary = build_vocabulary(
                self.base,
                self._store,
                self._budget,
                self._retrain_all,
                self._cancelled.is_set,
                self._trainer,
            )
        except Exception as error:  # noqa: BLE001 - listening goes on with the base model
            logger.exception("building the vocabulary failed")
            vocabulary = _base_only(self.base, f"custom words are not used: {one_line(error)}")
        finally:
            self.finished.set()
            with _running_lock:
                _running.discard(self)
        if not self._cancelled.is_set():
            self._on_done(vocabulary)
