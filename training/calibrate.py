"""Calibrate per-label operating points on validation streams and write them into the model.

For every command label the threshold is the lowest one at which that label alone stays within
its share of the false-accept budget on the validation streams (the negatives-only stream plus the
command stream's own non-command words and noise). Lower thresholds catch more words, so the
lowest threshold that meets the budget is the best operating point for that label. Labels are
calibrated one at a time with the others silenced; RecognizeCommands reports only the top label of
the average, so a label's false accepts depend on the others only through suppression, and the
joint result is measured again after.

With `strictest_at_best_recall` a word stops going lower once its validation recall stops
growing: a word that validation speech never imitates would otherwise sink to the bottom of the
budget (or `min_threshold`), where only unseen speech can tell what it costs.

The decoder setting itself (clip stride, averaging window, minimum count) can be searched too:
each candidate is calibrated the same way and the one with the best validation recall within the
latency limit wins. Test streams never enter here (bench/stream_benchmark.py proves the
result on them).

Thresholds set so that the validation audio holds no false accept fit the validation speakers'
sentences; on other speakers they fire more often. The cross-check measures that inside
validation: calibrate on either half of the negatives stream, count false accepts on the other
half. Its mean is reported with every calibration, and with `cross_validated` the smallest logit
margin that brings it within the target is added to every threshold, so that the target rate is
the one expected on sentences calibration never saw, not only on those it did.

With `tail_fit` a word's threshold also heeds its near misses. The validation audio holds too few
false accepts at the thresholds words end up at (often none: the budget's share is a fraction of
one event), so counting alone cannot tell a word that nothing in validation imitates from one that
just stayed under the line. Below the line the counts are plentiful: followed down the thresholds,
they fall roughly log-linearly in log-odds, and the fitted line says where the word's share of the
target lies. That is extreme-value extrapolation from the tail of the score distribution, the
rule "look at near misses instead of waiting for false accepts" of docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from kws_app.config import MS_PER_SECOND, DecoderConfig, StreamConfig
from kws_app.inference.model import META_OPERATING_POINTS
from kws_app.inference.operating_points import (
    CALIBRATED_DECODER_FIELDS,
    CROSS_CHECK_KEY,
    MARGIN_KEY,
    TARGET_RATE_KEY,
    VALIDATION_HOURS_KEY,
    OperatingPoints,
    label_thresholds,
    logit,
    sigmoid,
)
from kws_app.inference.pipeline import Scorer, is_command_label
from training.stream_eval import (
    DEFAULT_TOLERANCE_MS,
    DecoderSweep,
    EvalStream,
    LatencyLimit,
    StreamMetrics,
    StreamScores,
    score_stream,
    stream_metrics,
)

logger = logging.getLogger(__name__)

# The slider value at which every label sits at its calibrated threshold (the app's default).
REFERENCE_THRESHOLD = 0.5
# Candidate thresholds: evenly spaced in log-odds, so the top of the scale (where command
# thresholds live) is resolved as finely as the middle.
GRID_LOGIT_RANGE = (-3.0, 9.0)
GRID_STEPS = 241
NEVER = 2.0  # above any probability: a silenced label
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CalibrationTarget:
    false_accepts_per_hour: float = 1.0
    # Added to every calibrated threshold in log-odds: a safety margin for unseen speakers.
    margin_logit: float = 0.0
    tolerance_ms: int = DEFAULT_TOLERANCE_MS
    # No word is calibrated below this: a label that never won the average on the validation
    # negatives would otherwise get the grid's bottom and fire on anything it tops on new speech.
    min_threshold: float = 0.5
    # Add the smallest margin (a multiple of `margin_step_logit`, at most `max_margin_logit`) that
    # keeps the cross-check within the target (module docstring).
    cross_validated: bool = False
    margin_step_logit: float = 0.5
    max_margin_logit: float = 4.0
    # Each word takes the strictest threshold that still finds as many validation words as its
    # lowest one within the budget. Without it a word that validation speech never imitates
    # ("left") sinks to the bottom of what the budget allows, though nothing below the point
    # where its recall stops growing was bought by validation, only risked on unseen speech.
    strictest_at_best_recall: bool = False
    # Also extrapolate each word's false accepts from its near misses (module docstring): the
    # word's false-accept count on the validation audio, followed down the thresholds until it
    # passes `tail_max_events`, is fitted as log(count) linear in the threshold's log-odds, and
    # the word takes at least the threshold where the fit predicts its share of the target.
    tail_fit: bool = False
    tail_max_events: int = 30
    tail_min_levels: int = 3


@dataclass(frozen=True)
class Calibration:
    points: OperatingPoints
    stream: StreamConfig
    decoder: DecoderConfig
    commands: StreamMetrics
    negatives: StreamMetrics
    # False accepts per hour on each half of the negatives with thresholds calibrated on the
    # other half, at the margin these points carry; None until `cross_check` ran.
    cross_half_per_hour: tuple[float, float] | None = None

    def summary(self) -> str:
        thresholds = ", ".join(f"{k} {v:.3f}" for k, v in self.points.thresholds.items())
        text = (
            f"stride {self.stream.clip_stride_ms} ms, window {self.decoder.average_window_ms} ms, "
            f"min count {self.decoder.minimum_count}, suppression {self.decoder.suppression_ms} ms"
            f"\n  thresholds: {thresholds}"
            f"\n  validation commands: {self.commands.summary()}"
            f"\n  validation negatives: {self.negatives.summary()}"
        )
        if self.cross_half_per_hour is not None:
            first, second = self.cross_half_per_hour
            text += (
                f"\n  cross-check (calibrated on one half of the negatives, counted on the other;"
                f" margin {self.points.details.get(MARGIN_KEY, 0.0):g} logit): "
                f"{(first + second) / 2:.2f} false accepts per hour ({first:.2f}, {second:.2f})"
            )
        return text


def threshold_grid() -> np.ndarray:
    low, high = GRID_LOGIT_RANGE
    return np.array([sigmoid(v) for v in np.linspace(low, high, GRID_STEPS)])


@dataclass
class ScoredStreams:
    """A command stream and a negatives stream scored once, with their decoder sweeps."""

    commands: StreamScores
    negatives: StreamScores
    command_sweep: DecoderSweep
    negative_sweep: DecoderSweep


def _false_accepts(
    scored: ScoredStreams,
    commands: EvalStream,
    negatives: EvalStream,
    thresholds: np.ndarray,
    suppression_ms: int,
    tolerance_ms: int,
) -> tuple[StreamMetrics, StreamMetrics]:
    on_commands = stream_metrics(
        commands.words,
        scored.command_sweep.detections(thresholds, suppression_ms),
        scored.commands.duration_s,
        tolerance_ms,
    )
    on_negatives = stream_metrics(
        negatives.words,
        scored.negative_sweep.detections(thresholds, suppression_ms),
        scored.negatives.duration_s,
        tolerance_ms,
    )
    return on_commands, on_negatives


def _shifted(points: OperatingPoints, margin_logit: float) -> OperatingPoints:
    thresholds = {k: sigmoid(logit(v) + margin_logit) for k, v in points.thresholds.items()}
    return OperatingPoints(points.reference_threshold, thresholds, points.details)


# Recorded in the model's details when each word took its strictest threshold at its best recall.
STRICTEST_KEY = "strictest_at_best_recall"


def _word_threshold(
    admissible: Sequence[tuple[float, int]], strictest: float, target: CalibrationTarget
) -> float:
    """The lowest admissible threshold, or with `strictest_at_best_recall` the strictest one
    that finds as many words; `strictest` where none is admissible."""
    if not admissible:
        return strictest
    if not target.strictest_at_best_recall:
        return admissible[-1][0]
    most = max(correct for _, correct in admissible)
    return next(value for value, correct in admissible if correct == most)


# Recorded in the model's details when thresholds were raised to the near-miss extrapolation.
TAIL_FIT_KEY = "tail_fit"


def tail_threshold(
    counts: Sequence[tuple[float, int]], wanted_events: float, min_levels: int
) -> float | None:
    """The threshold at which a log-linear fit of false-accept counts against log-odds predicts
    `wanted_events`, from (threshold, count) pairs; None when the counts hold too few levels.

    Each count level enters once, at the strictest threshold that reaches it: the step function
    of the counts is fitted where its steps are."""
    first_at: dict[int, float] = {}
    for value, count in sorted(counts, key=lambda pair: -pair[0]):
        if count > 0 and count not in first_at:
            first_at[count] = value
    if len(first_at) < min_levels:
        return None
    x = np.array([logit(v) for v in first_at.values()])
    y = np.log(np.array(list(first_at.keys()), dtype=np.float64))
    slope, intercept = np.polyfit(x, y, 1)
    if not slope < 0:
        return None
    return sigmoid((math.log(wanted_events) - intercept) / slope)


def calibrate_scored(
    scored: ScoredStreams,
    commands: EvalStream,
    negatives: EvalStream,
    stream: StreamConfig,
    decoder: DecoderConfig,
    target: CalibrationTarget,
) -> Calibration:
    labels = scored.commands.labels
    words = [label for label in labels if is_command_label(label)]
    hours = (scored.commands.duration_s + scored.negatives.duration_s) / SECONDS_PER_HOUR
    # Each word's share of the budget, in events on this audio: whole ones for counting, the
    # fraction itself for the near-miss fit.
    wanted_events = target.false_accepts_per_hour / max(1, len(words)) * hours
    allowed = math.floor(wanted_events + 1e-9)
    full_grid = threshold_grid()
    grid = full_grid[full_grid >= target.min_threshold]
    chosen: dict[str, float] = {}
    # Other words silenced; the non-command labels keep the app's threshold, since a reported
    # `_unknown_` or `_silence_` changes what the decoder lets through next.
    silenced = np.array(
        [NEVER if is_command_label(label) else REFERENCE_THRESHOLD for label in labels]
    )
    for word in words:
        column = labels.index(word)
        # (threshold, the word's correct detections) within the budget, strictest first.
        admissible: list[tuple[float, int]] = []
        # (threshold, false accepts) down the whole grid, for the near-miss fit.
        counts: list[tuple[float, int]] = []
        # Scan from the strictest threshold down; stop at the first that breaks the budget (or,
        # fitting the tail, once the false accepts pass what the fit reads).
        for value in (full_grid if target.tail_fit else grid)[::-1]:
            thresholds = silenced.copy()
            thresholds[column] = value
            on_commands, on_negatives = _false_accepts(
                scored, commands, negatives, thresholds, decoder.suppression_ms, target.tolerance_ms
            )
            false_accepts = on_commands.false_positives + on_negatives.false_positives
            counts.append((float(value), false_accepts))
            within = false_accepts <= allowed and value >= target.min_threshold
            if within and len(admissible) == len(counts) - 1:
                admissible.append((float(value), on_commands.correct))
            if false_accepts > (
                max(allowed, target.tail_max_events) if target.tail_fit else allowed
            ):
                break
        chosen[word] = _word_threshold(admissible, float(grid[-1]), target)
        if target.tail_fit and wanted_events > 0:
            fitted = tail_threshold(counts, wanted_events, target.tail_min_levels)
            if fitted is not None and fitted > chosen[word]:
                logger.info("%s: near misses raise %.3f to %.3f", word, chosen[word], fitted)
                chosen[word] = min(float(grid[-1]), fitted)
    details: dict[str, Any] = {
        TARGET_RATE_KEY: target.false_accepts_per_hour,
        MARGIN_KEY: target.margin_logit,
        "clip_stride_ms": stream.clip_stride_ms,
        **{name: getattr(decoder, name) for name in CALIBRATED_DECODER_FIELDS},
        "validation_streams": [commands.name, negatives.name],
        VALIDATION_HOURS_KEY: round(hours, 3),
    }
    if target.strictest_at_best_recall:
        details[STRICTEST_KEY] = True
    if target.tail_fit:
        details[TAIL_FIT_KEY] = True
    points = _shifted(OperatingPoints(REFERENCE_THRESHOLD, chosen, details), target.margin_logit)
    all_thresholds = label_thresholds(labels, REFERENCE_THRESHOLD, points)
    on_commands, on_negatives = _false_accepts(
        scored, commands, negatives, all_thresholds, decoder.suppression_ms, target.tolerance_ms
    )
    return Calibration(points, stream, decoder, on_commands, on_negatives)


def _time_slice(
    scores: StreamScores, stream: EvalStream, start_ms: int, end_ms: int
) -> tuple[StreamScores, EvalStream]:
    """The strides and ground truth of [start_ms, end_ms): a stream of its own."""
    keep = (scores.times_ms >= start_ms) & (scores.times_ms < end_ms)
    part = StreamScores(
        scores.labels,
        scores.times_ms[keep],
        scores.scores[keep],
        scores.clip_stride_ms,
        (min(end_ms, scores.duration_s * MS_PER_SECOND) - start_ms) / MS_PER_SECOND,
    )
    words = tuple(word for word in stream.words if start_ms <= word.time_ms < end_ms)
    return part, replace(stream, words=words)


def cross_check(
    scored: ScoredStreams,
    commands: EvalStream,
    negatives: EvalStream,
    calibration: Calibration,
    target: CalibrationTarget,
) -> Calibration:
    """`calibration` with its cross-check measured and, when `target.cross_validated`, the
    smallest margin that keeps it within the target applied (module docstring)."""
    middle_ms = int(scored.negatives.duration_s * MS_PER_SECOND) // 2
    end_ms = int(scored.negatives.duration_s * MS_PER_SECOND) + 1
    halves = [
        _time_slice(scored.negatives, negatives, 0, middle_ms),
        _time_slice(scored.negatives, negatives, middle_ms, end_ms),
    ]
    window, count = calibration.decoder.average_window_ms, calibration.decoder.minimum_count
    sweeps = [DecoderSweep(scores, window, count) for scores, _ in halves]
    # Points calibrated on each half without a margin; the margin is added below.
    unmargined = replace(target, margin_logit=0.0)
    fitted = [
        calibrate_scored(
            replace(scored, negatives=scores, negative_sweep=sweep),
            commands,
            stream,
            calibration.stream,
            calibration.decoder,
            unmargined,
        ).points
        for (scores, stream), sweep in zip(halves, sweeps, strict=True)
    ]
    labels = scored.commands.labels
    suppression = calibration.decoder.suppression_ms

    def rates(margin: float) -> tuple[float, float]:
        out = []
        for index in (0, 1):
            other = 1 - index
            thresholds = label_thresholds(
                labels, REFERENCE_THRESHOLD, _shifted(fitted[index], margin)
            )
            found = stream_metrics(
                halves[other][1].words,
                sweeps[other].detections(thresholds, suppression),
                halves[other][0].duration_s,
                target.tolerance_ms,
            )
            out.append(found.false_positives / halves[other][0].duration_s * SECONDS_PER_HOUR)
        return out[0], out[1]

    carried = float(calibration.points.details.get(MARGIN_KEY, 0.0))
    if target.cross_validated:
        steps = int(round(target.max_margin_logit / target.margin_step_logit))
        for step in range(steps + 1):
            margin = step * target.margin_step_logit
            cross = rates(margin)
            if sum(cross) / 2 <= target.false_accepts_per_hour:
                break
    else:
        margin = target.margin_logit
        cross = rates(margin)
    details = {
        **calibration.points.details,
        MARGIN_KEY: margin,
        CROSS_CHECK_KEY: round(sum(cross) / 2, 3),
    }
    if margin == carried:
        points = OperatingPoints(
            calibration.points.reference_threshold, calibration.points.thresholds, details
        )
        return replace(calibration, points=points, cross_half_per_hour=cross)
    moved = _shifted(calibration.points, margin - carried).thresholds
    points = OperatingPoints(calibration.points.reference_threshold, moved, details)
    thresholds = label_thresholds(labels, REFERENCE_THRESHOLD, points)
    on_commands, on_negatives = _false_accepts(
        scored, commands, negatives, thresholds, suppression, target.tolerance_ms
    )
    return Calibration(
        points, calibration.stream, calibration.decoder, on_commands, on_negatives, cross
    )


def score_pair(
    scorer: Scorer, commands: EvalStream, negatives: EvalStream, stream: StreamConfig
) -> tuple[StreamScores, StreamScores]:
    command_scores, _ = score_stream(scorer, commands.audio, commands.rate, stream, DecoderConfig())
    negative_scores, _ = score_stream(
        scorer, negatives.audio, negatives.rate, stream, DecoderConfig()
    )
    return command_scores, negative_scores


def calibrate(
    scorer: Scorer,
    commands: EvalStream,
    negatives: EvalStream,
    strides_ms: Sequence[int],
    windows_ms: Sequence[int],
    minimum_counts: Sequence[int],
    suppression_ms: int,
    target: CalibrationTarget,
    latency: LatencyLimit | None = None,
) -> tuple[Calibration, list[Calibration]]:
    """Calibrate every decoder candidate; the best validation recall within the latency limit
    (`choose_calibration`), cross-checked (and, with `target.cross_validated`, moved by its
    margin)."""
    results: list[Calibration] = []
    scored_of: list[ScoredStreams] = []
    for stride_ms in strides_ms:
        stream = replace(StreamConfig(), clip_stride_ms=stride_ms)
        logger.info("scoring the validation streams at a %d ms stride", stride_ms)
        command_scores, negative_scores = score_pair(scorer, commands, negatives, stream)
        for window in windows_ms:
            for count in minimum_counts:
                decoder = DecoderConfig(
                    average_window_ms=window,
                    detection_threshold=REFERENCE_THRESHOLD,
                    suppression_ms=suppression_ms,
                    minimum_count=count,
                )
                scored = ScoredStreams(
                    command_scores,
                    negative_scores,
                    DecoderSweep(command_scores, window, count),
                    DecoderSweep(negative_scores, window, count),
                )
                result = calibrate_scored(scored, commands, negatives, stream, decoder, target)
                logger.info("%s", result.summary())
                results.append(result)
                scored_of.append(scored)

    best = choose_calibration(results, latency or LatencyLimit())
    scored = next(x for x, r in zip(scored_of, results, strict=True) if r is best)
    checked = cross_check(scored, commands, negatives, best, target)
    return checked, results


def choose_calibration(results: Sequence[Calibration], latency: LatencyLimit) -> Calibration:
    """The candidate with the best validation recall within the latency limit; ties go to fewer
    wrong words, then lower p95 latency. If none is within the limit, the best of all (logged)."""
    if not results:
        raise ValueError("no calibration candidates")
    candidates = [r for r in results if latency.allows(r.commands)]
    if not candidates:
        logger.warning("no decoder setting is within %s; choosing among all of them", latency)
        candidates = list(results)

    def key(result: Calibration) -> tuple[float, float, float]:
        p95 = result.commands.latency_p95_ms
        return (
            -result.commands.correct_percent,
            result.commands.wrong_percent,
            p95 if p95 is not None else math.inf,
        )

    return min(candidates, key=key)


def write_operating_points(model_path: Path, points: OperatingPoints, out_path: Path) -> None:
    """Copy the model with `kws.operating_points` set (replacing any earlier value)."""
    from training.onnx_files import write_with_metadata  # deferred: onnx is a training extra

    write_with_metadata(model_path, {META_OPERATING_POINTS: points.to_json()}, out_path)
