"""Streaming accuracy: replay a long stream through the app's own pipeline and score detections.

Matching follows TF speech_commands' test_streaming_accuracy (CalculateAccuracyStats): the ground
truth is sorted by time; each detection, in order, is matched with the FIRST command word whose
time lies within +-tolerance of it (edges included). Same label and word not matched before ->
correct; otherwise -> wrong (so a second hit on one word counts as wrong, as in TF); no word in
reach -> false positive. Only command words take part: a detection on an `_unknown_` word or in
noise is a false positive, i.e. a false accept. Ground-truth times are word ENDS (see
training.stream_data), and the default tolerance is TF's 750 ms.

Scores are computed once per stream and clip stride (`score_stream`); the decoder is pure, so any
number of decoder settings can then be evaluated on the stored scores (`decode`, `DecoderSweep`)
without running the model again, with exactly the detections the live pipeline would give.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from kws_app.config import MS_PER_SECOND, DecoderConfig, StreamConfig
from kws_app.inference.decoder import SILENCE_LABEL, RecognizeCommands
from kws_app.inference.operating_points import OperatingPoints, label_thresholds
from kws_app.inference.pipeline import (
    Detection,
    Scorer,
    StreamingPipeline,
    is_command_label,
    operating_points_of,
    replay_outputs,
)
from training.stream_data import PlacedWord

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE_MS = 750  # TF test_streaming_accuracy's --time_tolerance_ms
REPLAY_BLOCK_MS = 10_000  # big blocks: all strides inside one block share one model call
SECONDS_PER_HOUR = 3600.0
PERCENT = 100.0
LATENCY_PERCENTILE = 95.0
MAX_LABELLED_CURVES = 12


class Outcome(Enum):
    CORRECT = "correct"
    WRONG = "wrong"
    FALSE_POSITIVE = "false_positive"


@dataclass(frozen=True)
class MatchedDetection:
    detection: Detection
    outcome: Outcome
    word: PlacedWord | None  # the ground-truth word it was matched with, if any
    word_index: int | None = None  # that word's position among the stream's command words

    @property
    def latency_ms(self) -> int | None:
        """Detection time minus the end of the spoken word (negative: fired before the end)."""
        return None if self.word is None else self.detection.time_ms - self.word.end_ms


@dataclass(frozen=True)
class StreamMetrics:
    """TF's streaming figures plus false accepts per hour and latency from the word's end."""

    command_words: int
    matched: int
    correct: int
    wrong: int
    false_positives: int
    duration_s: float
    repeats: int  # wrong detections that hit a word already matched (TF counts them as wrong)
    latency_median_ms: float | None
    latency_p95_ms: float | None

    @property
    def matched_percent(self) -> float:
        return _percent(self.matched, self.command_words)

    @property
    def correct_percent(self) -> float:
        return _percent(self.correct, self.command_words)

    @property
    def wrong_percent(self) -> float:
        return _percent(self.wrong, self.command_words)

    @property
    def false_accepts_per_hour(self) -> float:
        hours = self.duration_s / SECONDS_PER_HOUR
        return self.false_positives / hours if hours > 0 else math.nan

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "command_words": self.command_words,
            "matched": self.matched,
            "correct": self.correct,
            "wrong": self.wrong,
            "false_positives": self.false_positives,
            "repeats": self.repeats,
            "duration_s": round(self.duration_s, 3),
            "matched_percent": round(self.matched_percent, 2),
            "correct_percent": round(self.correct_percent, 2),
            "wrong_percent": round(self.wrong_percent, 2),
            "false_accepts_per_hour": round(self.false_accepts_per_hour, 3),
            "latency_median_ms": self.latency_median_ms,
            "latency_p95_ms": self.latency_p95_ms,
        }

    def summary(self) -> str:
        latency = (
            "no correct detections"
            if self.latency_median_ms is None
            else f"median {self.latency_median_ms:.0f} ms, p95 {self.latency_p95_ms:.0f} ms"
        )
        if self.command_words == 0:
            return (
                f"no command words in {self.duration_s / 60:.1f} min: "
                f"{self.false_positives} false positives "
                f"({self.false_accepts_per_hour:.2f} false accepts per hour)"
            )
        return (
            f"{self.command_words} command words in {self.duration_s / 60:.1f} min: "
            f"{self.matched_percent:.1f}% matched, {self.correct_percent:.1f}% correct, "
            f"{self.wrong_percent:.1f}% wrong ({self.repeats} repeats), "
            f"{self.false_positives} false positives "
            f"({self.false_accepts_per_hour:.2f} false accepts per hour); "
            f"latency after word end: {latency}"
        )


def _percent(part: int, whole: int) -> float:
    return PERCENT * part / whole if whole else math.nan


def match_detections(
    words: Sequence[PlacedWord],
    detections: Sequence[Detection],
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> list[MatchedDetection]:
    """TF's matching rule (see the module docstring), one outcome per detection, in order."""
    if tolerance_ms < 0:
        raise ValueError("the matching tolerance cannot be negative")
    commands = sorted((w for w in words if w.is_command), key=lambda w: w.time_ms)
    times = np.array([w.time_ms for w in commands], dtype=np.int64)
    matched_before: set[int] = set()
    results: list[MatchedDetection] = []
    for detection in detections:
        first = int(np.searchsorted(times, detection.time_ms - tolerance_ms, side="left"))
        if first >= len(commands) or times[first] > detection.time_ms + tolerance_ms:
            results.append(MatchedDetection(detection, Outcome.FALSE_POSITIVE, None, None))
            continue
        word = commands[first]
        correct = word.label == detection.label and first not in matched_before
        matched_before.add(first)
        outcome = Outcome.CORRECT if correct else Outcome.WRONG
        results.append(MatchedDetection(detection, outcome, word, first))
    return results


def stream_metrics(
    words: Sequence[PlacedWord],
    detections: Sequence[Detection],
    duration_s: float,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> StreamMetrics:
    matches = match_detections(words, detections, tolerance_ms)
    matched_words = {m.word_index for m in matches if m.word_index is not None}
    latencies = [
        m.latency_ms for m in matches if m.outcome is Outcome.CORRECT and m.latency_ms is not None
    ]
    return StreamMetrics(
        command_words=sum(1 for w in words if w.is_command),
        matched=len(matched_words),
        correct=sum(m.outcome is Outcome.CORRECT for m in matches),
        wrong=sum(m.outcome is Outcome.WRONG for m in matches),
        false_positives=sum(m.outcome is Outcome.FALSE_POSITIVE for m in matches),
        duration_s=duration_s,
        repeats=_repeats(matches),
        latency_median_ms=float(np.median(latencies)) if latencies else None,
        latency_p95_ms=float(np.percentile(latencies, LATENCY_PERCENTILE)) if latencies else None,
    )


def _repeats(matches: Sequence[MatchedDetection]) -> int:
    seen: set[int] = set()
    repeats = 0
    for match in matches:
        if match.word_index is None:
            continue
        repeats += match.word_index in seen
        seen.add(match.word_index)
    return repeats


@dataclass(frozen=True)
class StreamScores:
    """Every stride's raw model scores: enough to replay any decoder setting exactly."""

    labels: tuple[str, ...]
    times_ms: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]  # (strides, labels)
    clip_stride_ms: int
    duration_s: float


def score_stream(
    scorer: Scorer,
    audio: npt.NDArray[np.float32],
    rate: int,
    stream: StreamConfig,
    decoder: DecoderConfig,
) -> tuple[StreamScores, list[Detection]]:
    """Replay `audio` through the app's StreamingPipeline; its scores and its own detections."""
    pipeline = StreamingPipeline(scorer, rate, stream, decoder)
    block = max(1, rate * REPLAY_BLOCK_MS // MS_PER_SECOND)
    times: list[int] = []
    rows: list[npt.NDArray[np.float32]] = []
    detections: list[Detection] = []
    for output in replay_outputs(pipeline, audio, block):
        detections.extend(output.detections)
        for stride in output.strides:
            times.append(stride.time_ms)
            rows.append(stride.scores)
    labels = tuple(scorer.labels)
    scores = np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(labels)), np.float32)
    result = StreamScores(
        labels=labels,
        times_ms=np.array(times, dtype=np.int64),
        scores=scores,
        clip_stride_ms=stream.clip_stride_ms,
        duration_s=audio.shape[0] / rate,
    )
    return result, detections


def decode(
    scores: StreamScores, config: DecoderConfig, points: OperatingPoints | None = None
) -> list[Detection]:
    """The detections the pipeline reports for these scores: the app's decoder, stride by stride."""
    recognizer = RecognizeCommands(scores.labels, config, points)
    detections: list[Detection] = []
    for time_ms, row in zip(scores.times_ms.tolist(), scores.scores, strict=True):
        decision = recognizer.process(row, time_ms)
        if decision.is_new_command and is_command_label(decision.label):
            detections.append(Detection(time_ms, decision.label, decision.score))
    return detections


class DecoderSweep:
    """Many thresholds and suppression times over one averaging setting, fast and exact.

    The averaged scores depend only on the averaging window and minimum count, so the app's
    RecognizeCommands computes them once; only its reporting rule (above threshold, new label,
    suppression over) is re-run per threshold and suppression. That rule changes state only when a
    stride's averaged top score exceeds the threshold, so only those strides are visited.
    `tests/test_stream_eval.py` checks the result equals `decode` for every setting it tries.
    """

    def __init__(self, scores: StreamScores, average_window_ms: int, minimum_count: int) -> None:
        self.labels = scores.labels
        self.average_window_ms = average_window_ms
        self.minimum_count = minimum_count
        # Threshold 1.0 and no suppression keep state changes rare; the averages do not care.
        recognizer = RecognizeCommands(
            scores.labels,
            DecoderConfig(
                average_window_ms=average_window_ms,
                detection_threshold=1.0,
                suppression_ms=0,
                minimum_count=minimum_count,
            ),
        )
        label_index = {label: i for i, label in enumerate(scores.labels)}
        count = scores.times_ms.shape[0]
        self._times = scores.times_ms
        self._top_index = np.zeros(count, dtype=np.int64)
        self._top_score = np.zeros(count, dtype=np.float64)
        for i, (time_ms, row) in enumerate(
            zip(scores.times_ms.tolist(), scores.scores, strict=True)
        ):
            decision = recognizer.process(row, time_ms)
            self._top_index[i] = label_index[decision.label]
            self._top_score[i] = decision.score

    def detections(
        self, threshold: float | npt.NDArray[np.float64], suppression_ms: int
    ) -> list[Detection]:
        """`threshold` is one value for every label or one per label (in label order)."""
        per_label = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (len(self.labels),))
        candidates = np.flatnonzero(self._top_score > per_label[self._top_index])
        previous_label = SILENCE_LABEL
        previous_time: int | None = None
        found: list[Detection] = []
        for i in candidates.tolist():
            label = self.labels[int(self._top_index[i])]
            time_ms = int(self._times[i])
            if not is_command_label(previous_label) or previous_time is None:
                since = math.inf
            else:
                since = time_ms - previous_time
            if label != previous_label and since > suppression_ms:
                previous_label = label
                previous_time = time_ms
                if is_command_label(label):
                    found.append(Detection(time_ms, label, float(self._top_score[i])))
        return found


@dataclass(frozen=True)
class SweepRow:
    """One decoder setting's figures on the command stream and (optionally) a negatives stream."""

    clip_stride_ms: int
    average_window_ms: int
    suppression_ms: int
    minimum_count: int
    threshold: float
    stream: StreamMetrics
    negatives: StreamMetrics | None

    @property
    def setting(self) -> str:
        """The curve a row belongs to: every setting except the threshold."""
        return (
            f"stride {self.clip_stride_ms} ms, window {self.average_window_ms} ms, "
            f"suppression {self.suppression_ms} ms, min count {self.minimum_count}"
        )

    @property
    def false_accepts_per_hour(self) -> float:
        """On the negatives-only stream when there is one, else on the command stream."""
        source = self.negatives if self.negatives is not None else self.stream
        return source.false_accepts_per_hour

    def decoder_config(self) -> DecoderConfig:
        return DecoderConfig(
            average_window_ms=self.average_window_ms,
            detection_threshold=self.threshold,
            suppression_ms=self.suppression_ms,
            minimum_count=self.minimum_count,
        )

    def as_dict(self) -> dict[str, float | int | None]:
        row: dict[str, float | int | None] = {
            "clip_stride_ms": self.clip_stride_ms,
            "average_window_ms": self.average_window_ms,
            "suppression_ms": self.suppression_ms,
            "minimum_count": self.minimum_count,
            "threshold": round(self.threshold, 4),
        }
        row.update(self.stream.as_dict())
        negatives = self.negatives
        row["negatives_duration_s"] = None if negatives is None else round(negatives.duration_s, 3)
        row["negatives_false_accepts"] = None if negatives is None else negatives.false_positives
        row["negatives_false_accepts_per_hour"] = (
            None if negatives is None else round(negatives.false_accepts_per_hour, 3)
        )
        return row


def sweep_rows(
    words: Sequence[PlacedWord],
    scores: StreamScores,
    negative_words: Sequence[PlacedWord] | None,
    negative_scores: StreamScores | None,
    thresholds: Sequence[float],
    average_windows_ms: Sequence[int],
    suppressions_ms: Sequence[int],
    minimum_counts: Sequence[int],
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
    points: OperatingPoints | None = None,
) -> list[SweepRow]:
    """Every combination of the decoder settings over stored scores of one clip stride.

    With operating points, a threshold is the slider's value: each label gets its own.
    """
    rows: list[SweepRow] = []
    for window in average_windows_ms:
        for count in minimum_counts:
            DecoderConfig(average_window_ms=window, minimum_count=count)  # validates
            sweep = DecoderSweep(scores, window, count)
            negative_sweep = (
                DecoderSweep(negative_scores, window, count)
                if negative_scores is not None
                else None
            )
            for suppression in suppressions_ms:
                for threshold in thresholds:
                    DecoderConfig(detection_threshold=threshold, suppression_ms=suppression)
                    per_label = label_thresholds(scores.labels, threshold, points)
                    metrics = stream_metrics(
                        words,
                        sweep.detections(per_label, suppression),
                        scores.duration_s,
                        tolerance_ms,
                    )
                    negatives = None
                    if negative_sweep is not None and negative_scores is not None:
                        negatives = stream_metrics(
                            negative_words or (),
                            negative_sweep.detections(per_label, suppression),
                            negative_scores.duration_s,
                            tolerance_ms,
                        )
                    rows.append(
                        SweepRow(
                            scores.clip_stride_ms,
                            window,
                            suppression,
                            count,
                            threshold,
                            metrics,
                            negatives,
                        )
                    )
    return rows


@dataclass(frozen=True)
class SweepGrid:
    """The decoder settings a sweep tries; every combination of them."""

    thresholds: tuple[float, ...]
    average_windows_ms: tuple[int, ...]
    suppressions_ms: tuple[int, ...]
    minimum_counts: tuple[int, ...]
    clip_strides_ms: tuple[int, ...]

    def __post_init__(self) -> None:
        for name in ("thresholds", "average_windows_ms", "suppressions_ms", "minimum_counts"):
            if not getattr(self, name):
                raise ValueError(f"the sweep needs at least one value of {name}")
        if not self.clip_strides_ms:
            raise ValueError("the sweep needs at least one clip stride")
        # Refuse an impossible value before any model time is spent (ConfigError says which).
        for threshold in self.thresholds:
            DecoderConfig(detection_threshold=threshold)
        for window in self.average_windows_ms:
            DecoderConfig(average_window_ms=window)
        for suppression in self.suppressions_ms:
            DecoderConfig(suppression_ms=suppression)
        for count in self.minimum_counts:
            DecoderConfig(minimum_count=count)
        for stride in self.clip_strides_ms:
            StreamConfig(clip_stride_ms=stride)


@dataclass(frozen=True)
class EvalStream:
    """A stream to evaluate on: its audio and its ground truth."""

    name: str
    audio: npt.NDArray[np.float32]
    rate: int
    words: tuple[PlacedWord, ...]


def run_sweep(
    scorer: Scorer,
    commands: EvalStream,
    negatives: EvalStream | None,
    grid: SweepGrid,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> list[SweepRow]:
    """Scores each stream once per clip stride (the only setting that needs the model again),
    then replays the decoder over the stored scores for every other setting."""
    for stride in grid.clip_strides_ms:
        StreamConfig(clip_stride_ms=stride).stride_frames(scorer.frontend)  # whole hops only
    rows: list[SweepRow] = []
    for stride in grid.clip_strides_ms:
        stream = StreamConfig(clip_stride_ms=stride)
        logger.info("scoring %s at a %d ms clip stride", commands.name, stride)
        scores, _ = score_stream(scorer, commands.audio, commands.rate, stream, DecoderConfig())
        negative_scores = None
        if negatives is not None:
            logger.info("scoring %s at a %d ms clip stride", negatives.name, stride)
            negative_scores, _ = score_stream(
                scorer, negatives.audio, negatives.rate, stream, DecoderConfig()
            )
        rows.extend(
            sweep_rows(
                commands.words,
                scores,
                None if negatives is None else negatives.words,
                negative_scores,
                grid.thresholds,
                grid.average_windows_ms,
                grid.suppressions_ms,
                grid.minimum_counts,
                tolerance_ms,
                operating_points_of(scorer),
            )
        )
    return rows


@dataclass(frozen=True)
class LatencyLimit:
    """The slowest decoder setting a sweep or a calibration may choose, in ms after each word's
    end on the command stream; None leaves that figure free. The median matters as much as the
    tail: a longer averaging window often buys recall at a median the user feels on every word."""

    p95_ms: float | None = None
    median_ms: float | None = None

    def allows(self, metrics: StreamMetrics) -> bool:
        return _within(metrics.latency_p95_ms, self.p95_ms) and _within(
            metrics.latency_median_ms, self.median_ms
        )


def _within(latency: float | None, limit: float | None) -> bool:
    return limit is None or (latency is not None and latency <= limit)


def choose_setting(
    rows: Sequence[SweepRow],
    max_false_accepts_per_hour: float,
    max_latency_p95_ms: float | None = None,
) -> SweepRow | None:
    """Best recall (correct %) within the false-accept budget (and, if given, the p95 latency
    limit); ties: fewer false accepts, fewer wrong words, lower p95 latency, then the higher
    threshold (the safer one)."""
    limit = LatencyLimit(p95_ms=max_latency_p95_ms)
    allowed = [
        r
        for r in rows
        if r.false_accepts_per_hour <= max_false_accepts_per_hour and limit.allows(r.stream)
    ]
    if not allowed:
        return None

    def key(row: SweepRow) -> tuple[float, float, float, float, float]:
        latency = row.stream.latency_p95_ms
        return (
            -row.stream.correct_percent,
            row.false_accepts_per_hour,
            row.stream.wrong_percent,
            latency if latency is not None else math.inf,
            -row.threshold,
        )

    return min(allowed, key=key)


def plot_sweep(
    rows: Sequence[SweepRow], path: str, title: str, highlight: Sequence[str] = ()
) -> None:
    """Recall against false accepts per hour, one curve per setting (a DET-style trade-off).

    With many settings the curves are drawn thin and grey except the `highlight`ed ones (e.g. the
    chosen setting's), so the plot stays readable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[str, list[SweepRow]] = {}
    for row in rows:
        curves.setdefault(row.setting, []).append(row)
    crowded = len(curves) > MAX_LABELLED_CURVES
    figure, axes = plt.subplots(figsize=(9, 6))
    for name, curve in curves.items():
        curve = sorted(curve, key=lambda r: r.threshold)
        shown = not crowded or name in highlight
        axes.plot(
            [r.false_accepts_per_hour for r in curve],
            [r.stream.correct_percent for r in curve],
            marker="." if shown else None,
            color=None if shown else "0.8",
            linewidth=1.5 if shown else 0.6,
            label=name if shown else None,
            zorder=2 if shown else 1,
        )
    axes.set_xscale("symlog", linthresh=1.0)
    axes.set_xlabel("false accepts per hour")
    axes.set_ylabel("correct % of command words")
    axes.set_ylim(0.0, PERCENT)
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    if not crowded or highlight:
        axes.legend(fontsize="x-small", loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
