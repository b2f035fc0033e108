"""CustomWordScorer: the base model plus custom-word heads, as one Scorer for the pipeline.

One model call per batch gives both the base probabilities and the embedding; each head turns the
embedding into a word score. The combined row stays a probability distribution (the decoder and
the probability bars assume rows sum to 1): the strongest custom word takes its score's share of
the mass and the base labels share the rest in their own proportions, so a confident custom word
pushes the base words (and `_unknown_`) down instead of both firing on the same sound. Command
words the user gave false alarms of back have a veto (kws_app/words/vetoes.py), applied last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kws_app.config import DecoderConfig, FrontendConfig
from kws_app.inference.decoder import SILENCE_LABEL
from kws_app.inference.operating_points import OperatingPoints
from kws_app.inference.pipeline import Scorer, is_command_label, operating_points_of
from kws_app.words.calibration import THRESHOLD_KEY, head_window_ms
from kws_app.words.head import WordHead
from kws_app.words.phrases import head_lag_ms, lag_frames, paired
from kws_app.words.vetoes import CommandVeto, apply_vetoes

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
        vetoes: Sequence[CommandVeto] = (),
    ) -> None:
        self.base = model
        self._shares = available_shares(model.labels, command_share)
        self.word_names = tuple(name for name, _ in words)
        overlap = {name.casefold() for name in self.word_names} & {
            label.casefold() for label in model.labels
        }
        if overlap:
            raise ValueError(f"custom words clash with the model's labels: {sorted(overlap)}")
        self._heads = tuple(head for _, head in words)
        self._lags = tuple(head_lag_ms(head.details) for head in self._heads)
        # Frames back from the latest frame to the end of each phrase head's earlier window.
        self._lag_frames = {
            lag: lag_frames(lag, model.frontend) for lag in sorted(set(self._lags) - {0})
        }
        self.history_frames = max(self._lag_frames.values(), default=0)
        self._labels = tuple(model.labels) + self.word_names
        unknown_vetoes = sorted({veto.label for veto in vetoes} - set(model.labels))
        if unknown_vetoes:
            raise ValueError(f"vetoes for words the model does not have: {unknown_vetoes}")
        self.vetoes = tuple(vetoes)
        self.word_thresholds = {
            name: float(head.details.get(THRESHOLD_KEY, CUSTOM_WORD_THRESHOLD))
            for name, head in words
        }
        self.word_windows_ms = {
            name: window
            for name, head in words
            if (window := head_window_ms(head.details)) is not None
        }

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def lag_ms(self, label: str) -> int:
        """How far before its latest window a label's earlier window ends (a phrase's; else 0)."""
        if label not in self.word_names:
            return 0
        return self._lags[self.word_names.index(label)]

    @property
    def vetoed(self) -> tuple[str, ...]:
        """The command words with a veto."""
        return tuple(veto.label for veto in self.vetoes)

    @property
    def phrase_lags_ms(self) -> tuple[int, ...]:
        """The lags of the phrase heads' earlier windows (`scores_from_outputs` needs those)."""
        return tuple(self._lag_frames)

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
        """The base model's calibrated points, plus each custom word's own threshold and
        averaging window (calibrated when it was trained), so the sensitivity slider moves them
        all together. A base model without calibrated points (a user's own) keeps the slider's
        value for its words, and the custom words still sit at their own points when the
        slider is at its default."""
        base = operating_points_of(self.base)  # type: ignore[arg-type]
        if base is None:
            if not self.word_thresholds:
                return None
            return OperatingPoints(
                DecoderConfig().detection_threshold,
                self.word_thresholds,
                windows_ms=self.word_windows_ms,
            )
        return OperatingPoints(
            base.reference_threshold,
            {**base.thresholds, **self.word_thresholds},
            base.details,
            {**base.windows_ms, **self.word_windows_ms},
        )

    def word_scores(
        self, embeddings: FloatArray, earlier: Mapping[int, FloatArray] | None = None
    ) -> FloatArray:
        """(n, words) head scores; `earlier` maps a phrase head's lag (ms) to the embeddings of
        the windows ending that much before each row's (`kws_app.words.phrases`)."""
        columns = []
        for head, lag in zip(self._heads, self._lags, strict=True):
            if lag == 0:
                columns.append(head.scores(embeddings))
                continue
            if earlier is None or lag not in earlier:
                raise ValueError(f"a phrase head needs the embeddings of {lag} ms earlier")
            columns.append(head.scores(paired(earlier[lag], embeddings)))
        if not columns:
            return np.zeros((np.asarray(embeddings).shape[0], 0), dtype=np.float32)
        return np.stack(columns, axis=1).astype(np.float32)

    def scores_from_outputs(
        self,
        probabilities: FloatArray,
        embeddings: FloatArray | None,
        earlier: Mapping[int, FloatArray] | None = None,
    ) -> FloatArray:
        """The combined rows from already computed base outputs (benchmarks cache those)."""
        if not self.word_names and not self.vetoes:
            return np.asarray(probabilities, dtype=np.float32)
        if embeddings is None:
            raise ValueError("the base model has no embedding output")
        rows = combine(probabilities, self.word_scores(embeddings, earlier), self._shares)
        return apply_vetoes(rows, embeddings, self._labels, self.vetoes) if self.vetoes else rows

    def _outputs(
        self, features: FloatArray
    ) -> tuple[FloatArray, FloatArray | None, dict[int, FloatArray]]:
        """Base outputs of each row's latest window and, in the same model call, the embeddings
        of the earlier windows phrase heads read. Rows hold `history_frames` frames before the
        clip (the pipeline's `history_frames_of`)."""
        features = np.asarray(features, dtype=np.float32)
        clip = self.base.frontend.frames_per_clip
        if features.ndim != 3 or features.shape[1] < clip + self.history_frames:
            raise ValueError(
                f"rows of {clip + self.history_frames} frames expected, got shape {features.shape}"
            )
        total = features.shape[1]
        ends = [total, *(total - frames for frames in self._lag_frames.values())]
        windows = np.concatenate([features[:, end - clip : end] for end in ends])
        probabilities, embeddings = self.base.run(windows)
        rows = features.shape[0]
        latest_embeddings = None if embeddings is None else embeddings[:rows]
        earlier = {
            lag: embeddings[rows * (index + 1) : rows * (index + 2)]
            for index, lag in enumerate(self._lag_frames)
            if embeddings is not None
        }
        return probabilities[:rows], latest_embeddings, earlier

    def predict(self, features: FloatArray) -> FloatArray:
        probabilities, embeddings, earlier = self._outputs(features)
        return self.scores_from_outputs(probabilities, embeddings, earlier)

    def run(self, features: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        probabilities, embeddings, earlier = self._outputs(features)
        return self.scores_from_outputs(probabilities, embeddings, earlier), embeddings


def heard_span_ms(scorer: Scorer, label: str, default_window_ms: int) -> int:
    """How much audio before a detection of `label` its probability rested on: the model's
    clip, a phrase's earlier window, and the label's averaging window (`default_window_ms`, the
    decoder's, where its operating points give it none of its own). What "Not 'word'" keeps."""
    lag = scorer.lag_ms(label) if isinstance(scorer, CustomWordScorer) else 0
    points = operating_points_of(scorer)
    window = default_window_ms if points is None else points.window_for(label, default_window_ms)
    return scorer.frontend.clip_ms + lag + window
