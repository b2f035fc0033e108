"""Bringing a store's custom-word heads up to date: the one loop that trains stored words.

The window's background job (kws_app/session/vocabulary.py) and the command line (`kws-app
words add|import`, and listening or replaying with custom words) all train through
`refresh_heads`, so a word is trained, skipped and reported the same way everywhere. Stale heads
(missing, fitted on another model or by an older recipe, or all of them when a word was added
and every head must learn it as a negative) are retrained one word at a time, the user's new
word first, within a budget of time and words: a store full of imported words can never hold up
listening. A word that cannot train is one line, never the end of the others; words past the
budget keep their current head (or wait, without one) until the next refresh.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kws_app.errors import one_line
from kws_app.inference.pipeline import is_command_label
from kws_app.words.head import WordHead
from kws_app.words.store import StoredWord, WordStore, WordStoreError
from kws_app.words.trainer import FALSE_ALARMS_KEY, TrainingError, WordAudio, WordTrainer
from kws_app.words.vetoes import CommandVeto

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# What can go wrong with one stored word (damaged recordings, a refused head, a full disk).
WORD_ERRORS = (WordStoreError, TrainingError, OSError, ValueError)
CLASH_REASON = "the model has its own word of that name (rename it to use both)"


@dataclass(frozen=True)
class TrainingBudget:
    """How much training one refresh may do before it listens with what it has."""

    max_seconds: float = 120.0
    max_words: int = 20

    @classmethod
    def unbounded(cls) -> TrainingBudget:
        """For commands whose whole job is training (`words add`, `words import`)."""
        return cls(max_seconds=math.inf, max_words=sys.maxsize)


@dataclass(frozen=True)
class HeadsRefresh:
    """Every usable stored word's head after a refresh, and what the user should hear."""

    heads: tuple[tuple[str, WordHead], ...]  # in the store's order
    trained: tuple[str, ...] = ()  # the words this refresh fitted
    messages: tuple[str, ...] = ()  # one line per word skipped or left for later
    waiting: tuple[str, ...] = ()  # stored words without a usable head, past the budget
    failed: tuple[tuple[str, str], ...] = ()  # (word, one-line reason) for words left out
    # The word the user just added, when it could not be trained: why (it has no head).
    new_word_problem: str | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.heads)


def never() -> bool:
    return False


@dataclass
class _Run:
    """One refresh's state, owned by `refresh_heads`."""

    trainer: WordTrainer
    store: WordStore
    new: StoredWord | None
    current: dict[str, WordHead]  # heads it listens with until retrained (kept if that fails)
    heads: dict[str, WordHead] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_word_problem: str | None = None
    audio: dict[str, WordAudio | None] = field(default_factory=dict)

    def fail(self, word: StoredWord, error: Exception) -> None:
        reason = one_line(error)
        if word is self.new:
            self.new_word_problem = reason
            return
        if word.name in self.current:
            self.messages.append(f"custom word {word.name!r} listens as trained before: {reason}")
            return
        self.failed.append((word.name, reason))
        self.messages.append(f"custom word {word.name!r} is not used: {reason}")

    def audio_of(self, word: StoredWord) -> WordAudio | None:
        if word.name not in self.audio:
            try:
                self.audio[word.name] = self.trainer.word_audio(self.store, word)
            except WORD_ERRORS as error:
                self.audio[word.name] = None
                self.fail(word, error)
        return self.audio[word.name]

    def train(self, word: StoredWord, words: Sequence[StoredWord]) -> WordHead | None:
        own = self.audio_of(word)
        if own is None:
            return None
        others = [a for o in words if o is not word and (a := self.audio_of(o)) is not None]
        try:
            head = self.trainer.train_stored(word, own, others)
            self.store.save_head(word, head)
        except WORD_ERRORS as error:
            self.fail(word, error)
            return None
        return head


def refresh_heads(
    trainer: WordTrainer,
    store: WordStore,
    stored: Sequence[StoredWord],
    *,
    retrain_all: bool = False,
    new_word: str | None = None,
    budget: TrainingBudget | None = None,
    should_stop: Callable[[], bool] = never,
) -> HeadsRefresh:
    """The heads of `stored` (the store's words, as `store.words()` gave them) with every stale
    one trained within `budget`. `new_word`, just added by the user, trains first and implies
    `retrain_all`; if it cannot train it is left out (its caller takes it out of the store) and
    the other words keep their heads. `should_stop` is asked between words."""
    budget = budget or TrainingBudget()
    clashes = trainer.clashes(stored)
    words = [word for word in stored if word.name not in clashes]
    current: dict[str, WordHead] = {}
    fallback: dict[str, WordHead] = {}  # current but for the false alarms it was trained with
    for word in words:
        head = store.head(word)
        if head is not None and trainer.head_is_current(head):
            if head.details.get(FALSE_ALARMS_KEY, 0) == store.false_alarms_id(word):
                current[word.name] = head
            else:  # false alarms given back or forgotten since: listens with it until retrained
                fallback[word.name] = head
    new = next((word for word in words if word.name == new_word), None)
    listening = {**fallback, **current}  # what each word listens with until it is retrained
    run = _Run(trainer, store, new, listening)
    retrain_all = retrain_all or new is not None

    def stale(candidates: list[StoredWord]) -> deque[StoredWord]:
        return deque(w for w in candidates if retrain_all or w.name not in current)

    queue = stale([new] if new is not None else []) + stale([w for w in words if w is not new])
    started = time.monotonic()
    attempted = 0
    while queue and not should_stop():
        if attempted >= budget.max_words or (time.monotonic() - started > budget.max_seconds):
            run.waiting = [w.name for w in queue]
            waiting = ", ".join(repr(name) for name in run.waiting)
            run.messages.append(f"custom words not trained yet (training limit reached): {waiting}")
            break
        word = queue.popleft()
        attempted += 1
        head = run.train(word, words)
        if head is not None:
            run.heads[word.name] = head
            run.trained.append(word.name)
        elif word is new:  # the others keep their heads and never learn it as a negative
            words = [w for w in words if w is not new]
            retrain_all = False
            queue = stale(list(queue))
    if run.trained:
        logger.info(
            "trained %d custom word(s) in %.1f s", len(run.trained), time.monotonic() - started
        )
    for message in run.messages:
        logger.warning("%s", message)
    heads = {**listening, **run.heads}
    return HeadsRefresh(
        heads=tuple((w.name, heads[w.name]) for w in words if w.name in heads),
        trained=tuple(run.trained),
        messages=tuple(run.messages),
        waiting=tuple(name for name in run.waiting if name not in heads),
        failed=(*((name, CLASH_REASON) for name in clashes), *run.failed),
        new_word_problem=run.new_word_problem,
    )


def train_words(trainer: WordTrainer, store: WordStore, retrain_all: bool = False) -> HeadsRefresh:
    """Every stored word's head, training all that are stale (or all of them), however long it
    takes: what the command line does before it reports the words."""
    return refresh_heads(
        trainer, store, store.words(), retrain_all=retrain_all, budget=TrainingBudget.unbounded()
    )


@dataclass(frozen=True)
class CommandVetoes:
    """The vetoes of the command words the user gave false alarms of back, and what failed."""

    vetoes: tuple[CommandVeto, ...] = ()
    messages: tuple[str, ...] = ()


def command_vetoes(
    trainer: WordTrainer, store: WordStore, should_stop: Callable[[], bool] = never
) -> CommandVetoes:
    """A veto for each command word of the trainer's model with false alarms in the store
    (kws_app/words/vetoes.py), learned also from the user's own takes of it that the store
    keeps, and reused from the trainer where neither changed. A word whose veto cannot be
    learned is one line, and is heard as the model hears it. `should_stop` is asked between
    words."""
    labels = [label for label in trainer.model.labels if is_command_label(label)]
    vetoes: list[CommandVeto] = []
    messages: list[str] = []
    vetoable = set(trainer.vetoable)
    for label in store.command_alarm_seconds(labels):
        if should_stop():
            break
        if label not in vetoable:
            messages.append(f"{label!r} cannot learn from its false alarms with this model")
            continue
        alarms = store.command_alarms(label)
        own, own_id = _own_takes(store, label)
        try:
            parts = alarms.parts()
            identity = (alarms.identity(), own_id)
            veto = None if parts is None else trainer.command_veto(label, parts, own, identity)
        except WORD_ERRORS as error:
            messages.append(f"{label!r} cannot learn from its false alarms: {one_line(error)}")
            continue
        if veto is None:
            messages.append(f"{label!r} cannot learn from its false alarms: none is long enough")
            continue
        vetoes.append(veto)
    for message in messages:
        logger.warning("%s", message)
    return CommandVetoes(tuple(vetoes), tuple(messages))


def _own_takes(store: WordStore, label: str) -> tuple[tuple[list[FloatArray], int] | None, int]:
    """The user's takes of a command word and their identity; none where they cannot be read
    (the veto is then learned without them, as before any were kept)."""
    takes = store.command_takes(label)
    try:
        return takes.parts(), takes.identity()
    except OSError as error:
        logger.warning("the takes of %r are not used: %s", label, one_line(error))
        return None, 0


def learn(
    trainer: WordTrainer,
    store: WordStore,
    name: str,
    examples: Sequence[npt.ArrayLike],
    sample_rate: int,
    background: npt.ArrayLike | None = None,
    spelling: str | None = None,
) -> HeadsRefresh:
    """Store a new word and retrain the vocabulary around it; if the new word cannot train it is
    removed again and TrainingError says why (the other words keep their heads).

    `examples` are trimmed takes (`kws_app.words.takes.trim_take`), as the store keeps them;
    `spelling` is what synthetic voices say to teach the word in other voices.
    """
    word = store.add(
        name, examples, sample_rate, background, reserved=trainer.model.labels, spelling=spelling
    )
    try:
        refresh = refresh_heads(
            trainer, store, store.words(), new_word=word.name, budget=TrainingBudget.unbounded()
        )
    except BaseException:
        store.remove(word.name)
        raise
    if refresh.new_word_problem is not None:
        store.remove(word.name)
        raise TrainingError(f"{word.name!r} could not be learned: {refresh.new_word_problem}")
    return refresh


__all__ = [
    "WORD_ERRORS",
    "CommandVetoes",
    "HeadsRefresh",
    "TrainingBudget",
    "command_vetoes",
    "learn",
    "refresh_heads",
    "train_words",
]
