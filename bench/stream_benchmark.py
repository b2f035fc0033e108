"""Streaming accuracy of models at the app's defaults, on streams never used to choose anything.

Usage:
  .venv/bin/python bench/stream_benchmark.py --model assets/kws-default.onnx \
      [--baseline old.onnx --baseline-window-ms 1000 --baseline-threshold 0.8] \
      [--data-dir ../shared/data] [--work-dir runs/streams] [--png docs/stream-tradeoff.png]

Streams (built once, by seed, into --work-dir; see bench/README.md for the split):
- validation (for `python -m training calibrate`, printed here only for reference):
  `val_cmd_10db` (Speech Commands validation split, 30 min, 10 dB SNR) and `val_neg` (the
  validation speakers of negatives/speech, each recording once);
- test: `test_cmd_{5,10,20}db` (test split, 30 min, seed 1) and `test2_cmd_10db` (seed 11),
  `test_neg`: the test speakers of negatives/speech plus the reserved
  negatives/precise/heysavant/not-wake-words, each recording once (distinct sentences only), and
  `test_conv`: the test speakers' sentences that say a command word inside running speech
  ("put it on the table"; LibriSpeech, each once), which no split trains on. In conversation a
  user wants none of these to fire; the benchmark counts its detections and how many of them are
  a word the sentence says, apart from the false accepts of `test_neg`.

For each model: its figures at the app's defaults (config.py plus the model's own operating
points), per-label false accepts on test_neg, and the recall / false-accept trade-off as the
sensitivity slider moves (one curve per SNR), drawn for every model into one PNG.
"""

from __future__ import annotations

import argparse
import logging
import platform
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from transcripts import SpokenSpan, said_intervals, spoken_spans, within

from kws_app.audio.files import read_audio
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import add_setting_flags, config_from_args
from kws_app.inference.model import OnnxModel
from kws_app.inference.operating_points import label_thresholds
from kws_app.inference.pipeline import Detection, operating_points_of
from kws_app.paths import default_model_path
from training.speech_negatives import TESTING, VALIDATION, speech_negatives
from training.stream_data import (
    StreamSpec,
    collect_sources,
    generate_stream,
    read_ground_truth,
    reserved_negatives_dir,
    write_stream,
)
from training.stream_eval import (
    DecoderSweep,
    EvalStream,
    StreamMetrics,
    StreamScores,
    score_stream,
    stream_metrics,
)

SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
SECONDS_PER_HOUR = SECONDS_PER_MINUTE * MINUTES_PER_HOUR
COMMAND_MINUTES = 30.0
NEGATIVE_MAX_MINUTES = 240.0
NEGATIVE_GAP_MS = (200, 1000)
# The decoder settings a run may change from the app's defaults.
DECODER_FIELDS = ("average_window_ms", "minimum_count")
SLIDER_VALUES = tuple(round(v, 3) for v in np.linspace(0.02, 0.98, 49))
LATENCY_TARGET_P95_MS = 500.0


@dataclass(frozen=True)
class StreamRecipe:
    name: str
    split: str
    snr_db: float
    seed: int
    negatives_split: str | None = None  # speech speakers for a negatives-only stream
    saying_commands: bool = False  # that stream's sentences say command words (test_conv)


RECIPES = (
    StreamRecipe("val_cmd_10db", "validation", 10.0, 21),
    StreamRecipe("val_neg", "validation", 10.0, 22, negatives_split=VALIDATION),
    StreamRecipe("test_cmd_10db", "test", 10.0, 1),
    StreamRecipe("test_cmd_20db", "test", 20.0, 1),
    StreamRecipe("test_cmd_5db", "test", 5.0, 1),
    StreamRecipe("test2_cmd_10db", "test", 10.0, 11),
    StreamRecipe("test_neg", "test", 10.0, 32, negatives_split=TESTING),
    StreamRecipe("test_conv", "test", 10.0, 33, negatives_split=TESTING, saying_commands=True),
)
TEST_COMMANDS = ("test_cmd_10db", "test2_cmd_10db", "test_cmd_20db", "test_cmd_5db")


def build_stream(recipe: StreamRecipe, data_dir: Path, work_dir: Path) -> EvalStream:
    wav, labels = work_dir / f"{recipe.name}.wav", work_dir / f"{recipe.name}.csv"
    if not wav.exists() or not labels.exists():
        speech_commands = data_dir / "speech_commands"
        if recipe.negatives_split is not None:
            files = [
                r.path
                for r in speech_negatives(
                    data_dir / "negatives" / "speech",
                    recipe.negatives_split,
                    saying_commands=recipe.saying_commands,
                )
            ]
            reserved = (
                (reserved_negatives_dir(speech_commands),)
                if recipe.negatives_split == TESTING and not recipe.saying_commands
                else ()
            )
            sources = collect_sources(
                speech_commands, recipe.split, negative_dirs=reserved, negatives_only=True,
                negative_files=files,
            )  # fmt: skip
            spec = StreamSpec(
                duration_s=NEGATIVE_MAX_MINUTES * SECONDS_PER_MINUTE,
                min_gap_ms=NEGATIVE_GAP_MS[0],
                max_gap_ms=NEGATIVE_GAP_MS[1],
                snr_db=recipe.snr_db,
                seed=recipe.seed,
                negatives_only=True,
                no_repeat=True,
            )
        else:
            sources = collect_sources(speech_commands, recipe.split)
            spec = StreamSpec(
                duration_s=COMMAND_MINUTES * SECONDS_PER_MINUTE,
                snr_db=recipe.snr_db,
                seed=recipe.seed,
            )
        write_stream(generate_stream(sources, spec), wav, labels)
    audio, rate = read_audio(wav)
    return EvalStream(recipe.name, audio, rate, tuple(read_ground_truth(labels)))


@dataclass
class ModelUnderTest:
    name: str
    model: OnnxModel
    stream: StreamConfig
    decoder: DecoderConfig


def _scores(subject: ModelUnderTest, stream: EvalStream) -> StreamScores:
    scores, _ = score_stream(
        subject.model, stream.audio, stream.rate, subject.stream, subject.decoder
    )
    return scores


def _metrics(
    subject: ModelUnderTest, stream: EvalStream, sweep: DecoderSweep, slider: float
) -> StreamMetrics:
    thresholds = label_thresholds(subject.model.labels, slider, operating_points_of(subject.model))
    detections = sweep.detections(thresholds, subject.decoder.suppression_ms)
    return stream_metrics(stream.words, detections, len(stream.audio) / stream.rate)


def report_conversation(
    stream: EvalStream, detections: list[Detection], spans: list[SpokenSpan]
) -> None:
    """Detections in sentences that say command words: the model may be right that the word was
    said, but a user talking to someone wants none of them."""
    per_label = Counter(d.label for d in detections)
    said_where = {label: said_intervals(spans, label) for label in per_label}
    said = [d for d in detections if within(d.time_ms, said_where[d.label])]
    hours = len(stream.audio) / stream.rate / SECONDS_PER_HOUR
    said_per_label = Counter(d.label for d in said)
    shown = {label: f"{said_per_label[label]}/{n}" for label, n in sorted(per_label.items())}
    print(
        f"   {stream.name} ({hours * MINUTES_PER_HOUR:.1f} min of sentences that say a command "
        f"word): {len(detections)} detections = {len(detections) / hours:.1f} per hour, "
        f"{len(said)} of them a word the sentence says; per label (said/all): {shown}"
    )


def report(
    subject: ModelUnderTest,
    streams: dict[str, EvalStream],
    conversation_spans: list[SpokenSpan],
) -> dict[str, list[tuple[float, float]]]:
    """Prints the model's figures; returns the trade-off curves (FA/h, correct %) per SNR."""
    decoder = subject.decoder
    print(f"\n== {subject.name}: clip stride {subject.stream.clip_stride_ms} ms, {decoder}")
    points = operating_points_of(subject.model)
    if points is not None:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in points.thresholds.items())
        print(f"   operating points (reference {points.reference_threshold}): {shown}")
    sweeps: dict[str, DecoderSweep] = {}
    for name, stream in streams.items():
        sweeps[name] = DecoderSweep(
            _scores(subject, stream), decoder.average_window_ms, decoder.minimum_count
        )
    slider = decoder.detection_threshold
    negatives = _metrics(subject, streams["test_neg"], sweeps["test_neg"], slider)
    print(
        f"   test_neg ({negatives.duration_s / 60:.1f} min of distinct sentences): "
        f"{negatives.false_positives} false accepts = "
        f"{negatives.false_accepts_per_hour:.2f} per hour"
    )
    thresholds = label_thresholds(subject.model.labels, slider, points)
    per_label = Counter(
        d.label for d in sweeps["test_neg"].detections(thresholds, decoder.suppression_ms)
    )
    print(f"   false accepts per label on test_neg: {dict(sorted(per_label.items()))}")
    conversation = sweeps["test_conv"].detections(thresholds, decoder.suppression_ms)
    report_conversation(streams["test_conv"], conversation, conversation_spans)
    for name in ("val_neg", "val_cmd_10db", *TEST_COMMANDS):
        metrics = _metrics(subject, streams[name], sweeps[name], slider)
        print(f"   {name}: {metrics.summary()}")
    curves: dict[str, list[tuple[float, float]]] = {}
    for name in ("test_cmd_5db", "test_cmd_10db", "test_cmd_20db"):
        curve = []
        for value in SLIDER_VALUES:
            on_commands = _metrics(subject, streams[name], sweeps[name], value)
            on_negatives = _metrics(subject, streams["test_neg"], sweeps["test_neg"], value)
            curve.append((on_negatives.false_accepts_per_hour, on_commands.correct_percent))
        curves[name] = curve
        best = max((c for fa, c in curve if fa <= 1.0), default=0.0)
        print(f"   {name}: best correct at <= 1 FA/h on test_neg over the slider: {best:.1f}%")
    return curves


def plot(curves: dict[str, dict[str, list[tuple[float, float]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 6))
    styles = ("-", "--", ":")
    colours = {"test_cmd_5db": "tab:red", "test_cmd_10db": "tab:blue", "test_cmd_20db": "tab:green"}
    for style, (model_name, by_snr) in zip(styles, curves.items(), strict=False):
        for stream_name, curve in by_snr.items():
            points = sorted(curve)
            axes.plot(
                [fa for fa, _ in points],
                [correct for _, correct in points],
                linestyle=style,
                color=colours.get(stream_name),
                marker=".",
                label=f"{model_name}, {stream_name.split('_')[-1].replace('db', ' dB')}",
            )
    axes.set_xscale("symlog", linthresh=1.0)
    axes.set_xlabel("false accepts per hour (test negatives: distinct sentences, unseen speakers)")
    axes.set_ylabel("correct % of command words (test split)")
    axes.set_ylim(0, 100)
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="lower right")
    axes.set_title("Recall vs false accepts as the sensitivity slider moves")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--name", default="new model")
    add_setting_flags(parser, DecoderConfig, DECODER_FIELDS)
    parser.add_argument("--baseline", type=Path, help="an older model to compare with")
    parser.add_argument("--baseline-name", default="old model")
    parser.add_argument("--baseline-window-ms", type=int, default=1000)
    parser.add_argument("--baseline-threshold", type=float, default=0.8)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=Path("runs/streams"))
    parser.add_argument("--png", type=Path, help="write the trade-off plot here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    streams = {r.name: build_stream(r, args.data_dir, args.work_dir) for r in RECIPES}
    print(f"machine: {platform.processor() or platform.machine()}")
    for name, stream in streams.items():
        words = sum(w.is_command for w in stream.words)
        print(
            f"stream {name}: {len(stream.audio) / stream.rate / 60:.1f} min, "
            f"{len(stream.words)} clips, {words} command words"
        )
    subjects = [
        ModelUnderTest(
            args.name,
            OnnxModel(args.model, prefer_gpu=False, cpu_threads=args.threads),
            StreamConfig(),
            config_from_args(args, DecoderConfig, DECODER_FIELDS),
        )
    ]
    if args.baseline is not None:
        subjects.append(
            ModelUnderTest(
                args.baseline_name,
                OnnxModel(args.baseline, prefer_gpu=False, cpu_threads=args.threads),
                StreamConfig(),
                replace(
                    DecoderConfig(),
                    average_window_ms=args.baseline_window_ms,
                    detection_threshold=args.baseline_threshold,
                ),
            )
        )
    spans = spoken_spans(args.work_dir / "test_conv.csv", args.data_dir)
    curves = {subject.name: report(subject, streams, spans) for subject in subjects}
    if args.png is not None:
        plot(curves, args.png)
        print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
