"""The vocabulary: the base model plus the store's custom words and command-word vetoes, as one
scorer.

Stale heads are trained by kws_app/words/refresh.py (one word at a time, within a budget of time
and words; a word that cannot train is one line, never the end of the others). The window runs
this on a background thread (`VocabularyJob`) and listens with the base model meanwhile; the
command line runs it, bounded the same way, before it listens or replays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import cast

from kws_app.errors import one_line
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import Scorer
from kws_app.session.jobs import BackgroundJob
from kws_app.words.embedder import (
    PairedModel,
    command_model,
    identity_paths,
    named_embedder,
    words_model,
)
from kws_app.words.refresh import (
    WORD_ERRORS,
    TrainingBudget,
    command_vetoes,
    never,
    refresh_heads,
)
from kws_app.words.store import StoredWord, WordStore
from kws_app.words.trainer import WordTrainer, model_id_of
from kws_app.words.vetoes import kept_labels, kept_strides_path

logger = logging.getLogger(__name__)

WAITING_NOTE = "waiting (training limit reached)"
COULD_NOT_TRAIN = "could not train"


@dataclass(frozen=True)
class Vocabulary:
    """One scorer for the pipeline, and what the user should hear about the custom words."""

    scorer: Scorer  # the base model, or a CustomWordScorer around it
    words: tuple[str, ...]  # the custom words in the scorer
    messages: tuple[str, ...]  # one line per word skipped or left for later
    waiting: tuple[str, ...] = ()  # stored words without a usable head, past the budget
    failed: tuple[tuple[str, str], ...] = ()  # (word, one-line reason) for words left out
    # The word the user just added, when it could not be trained: why (it is not in `words`).
    new_word_problem: str | None = None
    # The trainer it used (it embeds the fixed negatives once): the next build may reuse it.
    trainer: WordTrainer | None = None
    # The command words that can learn from false alarms given back (kws_app/words/vetoes.py:
    # the model's kept strides hold them), and those that have.
    vetoable: tuple[str, ...] = ()
    vetoed: tuple[str, ...] = ()

    @property
    def base(self) -> OnnxModel:
        """The command model under the custom words (the scorer itself when there are none)."""
        return command_model(cast(OnnxModel, getattr(self.scorer, "base", self.scorer)))

    def notes(self) -> dict[str, str]:
        """What to show next to a stored word that is not listening, until the next build."""
        notes = {name: WAITING_NOTE for name in self.waiting}
        notes.update((name, f"{COULD_NOT_TRAIN}: {reason}") for name, reason in self.failed)
        return notes


def build_vocabulary(
    base: OnnxModel,
    store: WordStore,
    budget: TrainingBudget | None = None,
    retrain_all: bool = False,
    should_stop: Callable[[], bool] = never,
    trainer: WordTrainer | None = None,
    new_word: str | None = None,
) -> Vocabulary:
    """The base model with every usable stored word whose head is current or can be trained now.

    With `retrain_all` (a word was added or imported: every head should know the new words as
    negatives) words past the budget keep their current head. `new_word`, just added by the user,
    trains first and implies `retrain_all`; if it cannot train it is left out (its caller takes
    it out of the store) and the other words keep their heads.
    """
    vocabulary = _build(base, store, budget, retrain_all, should_stop, trainer, new_word)
    if new_word is None or new_word in vocabulary.words or vocabulary.new_word_problem:
        return vocabulary
    reason = dict(vocabulary.failed).get(new_word, "it could not be trained")
    return replace(vocabulary, new_word_problem=reason)


def _build(
    base: OnnxModel,
    store: WordStore,
    budget: TrainingBudget | None,
    retrain_all: bool,
    should_stop: Callable[[], bool],
    trainer: WordTrainer | None,
    new_word: str | None,
) -> Vocabulary:
    try:
        stored = store.words()
        alarmed = store.command_alarm_seconds(base.labels)
    except WORD_ERRORS as error:
        return _base_only(base, f"custom words are not used: {one_line(error)}", [], trainer)
    if not stored and not alarmed:
        return Vocabulary(base, (), (), trainer=trainer, vetoable=_vetoable(base, trainer))
    notes: tuple[str, ...] = ()
    try:
        if trainer is None or not _reusable(trainer, base):
            model, problem = words_model(base)
            notes = () if problem is None else (problem,)
            trainer = WordTrainer(model, identity_paths(model))
        refresh = refresh_heads(
            trainer,
            store,
            stored,
            retrain_all=retrain_all,
            new_word=new_word,
            budget=budget,
            should_stop=should_stop,
        )
    except WORD_ERRORS as error:
        reason = one_line(error)
        return _base_only(base, f"custom words are not used: {reason}", stored, trainer, reason)
    vetoes = command_vetoes(trainer, store, should_stop)
    heads = refresh.heads
    scorer = trainer.scorer(heads, vetoes.vetoes) if heads or vetoes.vetoes else base
    return Vocabulary(
        scorer,
        refresh.words,
        (*notes, *refresh.messages, *vetoes.messages),
        refresh.waiting,
        refresh.failed,
        refresh.new_word_problem,
        trainer,
        vetoable=trainer.vetoable,
        vetoed=tuple(veto.label for veto in vetoes.vetoes),
    )


def _vetoable(base: OnnxModel, trainer: WordTrainer | None) -> tuple[str, ...]:
    """The command words of `base` that could learn vetoes, without building a trainer (it
    loads the shipped negatives, which a user without custom words never needs)."""
    if trainer is not None and _reusable(trainer, base):
        return trainer.vetoable
    model, _ = words_model(base)
    kept = kept_labels(kept_strides_path(base.path), model_id_of(identity_paths(model)))
    return tuple(label for label in base.labels if label in kept)


def _reusable(trainer: WordTrainer, base: OnnxModel) -> bool:
    """Whether the last build's trainer serves `base` as a new one would: a trainer that fell
    back to the command model's own embedding tries the named embedder again (the user may have
    put the file back)."""
    if command_model(trainer.model) is not base:  # type: ignore[arg-type]
        return False
    return isinstance(trainer.model, PairedModel) or not named_embedder(base)


def _base_only(
    base: OnnxModel,
    message: str,
    stored: list[StoredWord],
    trainer: WordTrainer | None,
    reason: str | None = None,
) -> Vocabulary:
    logger.warning("%s", message)
    failed = tuple((word.name, reason) for word in stored) if reason is not None else ()
    return Vocabulary(base, (), (message,), failed=failed, trainer=trainer)


def with_custom_words(model: OnnxModel, store: WordStore | None = None) -> Scorer:
    """The model with the store's custom words (the model itself when there are none); what the
    command line listens with. Problems with the words are logged, never the end of listening."""
    return build_vocabulary(model, store or WordStore()).scorer  # type: ignore[no-any-return]


class VocabularyJob(BackgroundJob[Vocabulary]):
    """`build_vocabulary` on a daemon thread; `on_done(vocabulary)` is called on that thread.

    One job at a time is the caller's rule (the controller cancels the previous one, whose result
    it then ignores). `cancel` takes effect between words.
    """

    def __init__(
        self,
        base: OnnxModel,
        store: WordStore,
        on_done: Callable[[Vocabulary], None],
        budget: TrainingBudget | None = None,
        retrain_all: bool = False,
        trainer: WordTrainer | None = None,
        new_word: str | None = None,
    ) -> None:
        self.base = base
        self.new_word = new_word
        self.retrain_all = retrain_all

        def work() -> Vocabulary:
            try:
                return build_vocabulary(
                    base, store, budget, retrain_all, lambda: self.cancelled, trainer, new_word
                )
            except Exception as error:  # noqa: BLE001 - listening goes on with the base model
                logger.exception("building the vocabulary failed")
                message = f"custom words are not used: {one_line(error)}"
                return replace(_base_only(base, message, [], None), new_word_problem=message)

        super().__init__("vocabulary", work, on_done)
