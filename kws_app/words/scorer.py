"""CustomWordScorer: the base model plus custom-word heads, as one Scorer for the pipeline.

One model call per batch gives both the base probabilities and the embedding; each head turns the
embedding into a word score. The combined row stays a probability distribution (the decoder and
the probability bars assume rows sum to 1): the strongest custom word takes its score's share of
the mass and the base labels share the rest in their own proportions, so a confident custom word
pushes the base words (and `_unknown_`) down instead of both firing on the same sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kws_app.config import DecoderConfig, FrontendConfig
from kws_app.inference.decoder import SILENCE_LABEL
from kws_app.inference.operating_points import OperatingPoints
from kws_app.inference.pipeline import is_command_label, operating_points_of
from kws_app.words.calibration import THRESHOLD_KEY
from kws_app.words.head import WordHead

FloatArray = npt.NDArray[np.float32]

# Share of a command word's probability a confident custom word may take; chosen on
# bench/words_fewshot.py (docs/custom-words.md).
DEFAULT_COMMAND_SHARE = 0.0
# A custom word's threshold at the model's reference sensitivity when its head carries none of
# its own (heads written before words were calibrated; the trainer retrains those).
CUSTOM_WORD_THRESHOLD = 0.8


class EmbeddingModel(Protocol):
    """What the scorer needs of the base model (kws_app.inference.model.OnnxModel has it)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def frontend(self) -> FrontendConfig: ...

    def run(self, features: FloatArray) -> tuple[FloatArray, FloatArray | None]: ...


def available_shares(labels: Sequence[str], command_share: float) -> FloatArray:
    """Per base label, the share of its probability a custom word may take (see `combine`).

    All of `_unknown_` (a new word is something the base model does not know), none of
    `_silence_` (the decoder's reset between words relies on silence winning in quiet gaps), and
    `command_share` of each command word.
    """
    return np.array(
        [
            0.0 if label == SILENCE_LABEL else 1.0 if not is_command_label(label) else command_share
            for label in labels
        ],
        dtype=np.float32,
    )


def normalised_rows(base_probabilities: FloatArray) -> npt.NDArray[np.float64]:
    """Rows scaled to sum to 1 (a row of zeros stays zeros): what `combine` splits."""
    base = np.asarray(base_probabilities, dtype=np.float64)
    totals = base.sum(axis=1, keepdims=True)
    return np.divide(base, totals, out=np.zeros_like(base), where=totals > 0)


def available_mass(base_probabilities: FloatArray, shares: FloatArray) -> FloatArray:
    """Per row, the most a custom word can take in `combine` (its score times this)."""
    mass = normalised_rows(base_probabilities) @ np.asarray(shares, dtype=np.float64)
    return mass.astype(np.float32)


def combine(
    base_probabilities: FloatArray, word_scores: FloatArray, shares: FloatArray
) -> FloatArray:
    """(n, base labels) and (n, words) in [0, 1] -> (n, base labels + words), rows summing to 1.

    The strongest custom word's score is the fraction of each base label's available mass
    (`shares`, per label) that moves to the custom words, split between them in proportion to
    their scores. A custom word is a part of what the base model calls `_unknown_`; with a
    command share of 0 it can never take a command word's place, so adding a word cannot lower
    the base words' detection, and with 1 a confident custom word also overrides a base model
    that mistakes it for a command word.
    """
    scores = np.clip(np.asarray(word_scores, dtype=np.float64), 0.0, 1.0)
    if scores.shape[1] == 0:
        return np.asarray(base_probabilities, dtype=np.float32)
    base = normalised_rows(base_probabilities)
    taken = base * np.asarray(shares, dtype=np.float64) * scores.max(axis=1, keepdims=True)
    score_totals = scores.sum(axis=1, keepdims=True)
    split = np.divide(scores, score_totals, out=np.zeros_like(scores), where=score_totals > 0)
    combined = np.concatenate((base - taken, split * taken.sum(axis=1, keepdims=True)), axis=1)
    return combined.astype(np.float32)


class CustomWordScorer:
    """Satisfies kws_app.inference.pipeline.Scorer, so `pipeline.set_scorer()` makes words live."""

    def __init__(
        self,
        model: EmbeddingModel,
        words: Sequence[tuple[str, WordHead]],
        command_share: float = DEFAULT_COMMAND_SHARE,
    ) -> None:
        self.base = model
        self._shares = available_shares(model.labels, command_share)
        self.word_names = tuple(name for name, _ in words)
        overlap = {name.casefold() for name in self.word_names} & {
            label.casefold() for label in model.labels
        }
        if overlap:
            raise ValueError(f"custom words clash with the model's labels: {sorted(overlap)}")
        if words:
            self._weights = np.stack([head.weights for _, head in words], axis=1)
            self._bias = np.array([head.bias for _, head in words], dtype=np.float32)
        else:
            self._weights = np.zeros((0, 0), dtype=np.float32)
            self._bias = np.zeros(0, dtype=np.float32)
        self._labels = tuple(model.labels) + self.word_names
        self.word_thresholds = {
            name: float(head.details.get(THRESHOLD_KEY, CUSTOM_WORD_THRESHOLD))
            for name, head in words
        }

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def frontend(self) -> FrontendConfig:
        return self.base.frontend

    # The window shows where and what the base model runs; these pass its answers through.
    @property
    def path(self):  # type: ignore[no-untyped-def]
        return getattr(self.base, "path", None)

    @property
    def provider(self) -> str:
        return str(getattr(self.base, "provider", ""))

    @property
    def info(self):  # type: ignore[no-untyped-def]
        return getattr(self.base, "info", None)

    @property
    def operating_points(self) -> OperatingPoints | None:
        """The base model's calibrated points, plus each custom word's own (calibrated when it
        was trained), so the sensitivity slider moves them all together. A base model without
        calibrated points (a user's own) keeps the slider's value for its words, and the custom
        words still sit at their own points when the slider is at its default."""
        base = operating_points_of(self.base)  # type: ignore[arg-type]
        if base is None:
            if not self.word_thresholds:
                return None
            return OperatingPoints(DecoderConfig().detection_threshold, self.word_thresholds)
        return OperatingPoints(
            base.reference_threshold, {**base.thresholds, **self.word_thresholds}, base.details
        )

    def word_scores(self, embeddings: FloatArray) -> FloatArray:
        logits = np.asarray(embeddings, dtype=np.float32) @ self._weights + self._bias
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))).astype(np.float32)

    def scores_from_outputs(
        self, probabilities: FloatArray, embeddings: FloatArray | None
    ) -> FloatArray:
        """The combined rows from already computed base outputs (benchmarks cache those)."""
        if not self.word_names:
            return np.asarray(probabilities, dtype=np.float32)
        if embeddings is None:
            raise ValueError("the base model has no embedding output")
        return combine(probabilities, self.word_scores(embeddings), self._shares)

    def predict(self, features: FloatArray) -> FloatArray:
        probabilities, embeddings = self.base.run(features)
        return self.scores_from_outputs(probabilities, embeddings)

    def run(self, features: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        probabilities, embeddings = self.base.run(features)
        return self.scores_from_outputs(probabilities, embeddings), embeddings
