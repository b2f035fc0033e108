"""`make-stream`, `eval-stream` and `sweep`: streaming accuracy from the command line.

`add_parser(subparsers)` registers the three commands with `python -m training`; `main()` runs them
on their own (`python -m training.stream_cli ...`) with the same error rules: a user mistake is one
`error: ...` line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kws_app.audio.files import read_audio
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import (
    add_setting_flags,
    config_from_args,
    given_lists,
    parse_value_list,
)
from kws_app.errors import UserError, one_line
from training.calibrate import CalibrationTarget, calibrate, write_operating_points
from training.config import DEFAULT_WANTED_WORDS
from training.speech_negatives import speech_negatives
from training.stream_data import (
    StreamError,
    StreamSpec,
    collect_sources,
    generate_stream,
    read_ground_truth,
    write_stream,
)
from training.stream_eval import (
    DEFAULT_TOLERANCE_MS,
    EvalStream,
    LatencyLimit,
    SweepGrid,
    SweepRow,
    choose_setting,
    match_detections,
    plot_sweep,
    run_sweep,
    score_stream,
    stream_metrics,
)

logger = logging.getLogger(__name__)

USER_ERROR_EXIT = 2
# Gaps between clips: about a word every 3 s for 1-s word clips; denser for negatives-only
# streams (their clips are ~2 s sentences), so an hour holds as much speech as it can.
WORD_GAP_MS = (1000, 3000)
NEGATIVE_GAP_MS = (200, 1000)
DEFAULT_THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 .. 0.95
DEFAULT_MAX_FALSE_ACCEPTS_PER_HOUR = 1.0


def _user_errors_as_stream_errors(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """File-system errors become StreamError, a UserError every caller reports as one line."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise StreamError(f"{where}{error.strerror or error}") from error

    return run


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _add_make_stream(subparsers)
    _add_eval_stream(subparsers)
    _add_sweep(subparsers)
    _add_calibrate(subparsers)


def _add_make_stream(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    spec = StreamSpec()
    parser = subparsers.add_parser(
        "make-stream",
        help="build a long test stream (WAV) and its ground-truth CSV",
        description=(
            "Lay words of one split over background noise into a long 16 kHz WAV, with a "
            "ground-truth CSV 'label,time_ms,start_ms,end_ms,source' where start/end bound the "
            "spoken word and time_ms is its END."
        ),
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="Speech Commands folder")
    parser.add_argument("--split", default="test", help="test, validation or train")
    parser.add_argument("--out", type=Path, required=True, help="output WAV file")
    parser.add_argument("--labels", type=Path, required=True, help="output ground-truth CSV")
    parser.add_argument("--duration-s", type=float, default=spec.duration_s)
    parser.add_argument(
        "--snr-db", type=float, default=spec.snr_db, help="speech-to-noise ratio per word"
    )
    parser.add_argument("--no-noise", action="store_true", help="no background noise at all")
    parser.add_argument(
        "--unknown-share",
        type=float,
        default=spec.unknown_share,
        help="share of clips that are not command words",
    )
    parser.add_argument("--seed", type=int, default=spec.seed)
    parser.add_argument(
        "--words",
        default=",".join(DEFAULT_WANTED_WORDS),
        help="comma-separated command words; other word folders are unknown words",
    )
    parser.add_argument(
        "--negatives",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="extra folder of speech without command words (repeatable); unknown clips",
    )
    parser.add_argument(
        "--speech-negatives",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of speech with a manifest.csv (negatives/speech): its --speech-split "
        "speakers' recordings without command words are negatives (repeatable)",
    )
    parser.add_argument(
        "--speech-split",
        default="testing",
        choices=("training", "validation", "testing"),
        help="which speakers of --speech-negatives to use (default: testing)",
    )
    parser.add_argument(
        "--no-repeat",
        action="store_true",
        help="use each negative recording at most once (the stream may end early)",
    )
    parser.add_argument(
        "--negatives-only",
        action="store_true",
        help=(
            "no command words at all: only --negatives folders (default: the reserved "
            "negatives/precise/heysavant/not-wake-words next to the data folder)"
        ),
    )
    parser.add_argument(
        "--gap-ms",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=None,
        help=f"gap between clips (default {WORD_GAP_MS}, negatives-only {NEGATIVE_GAP_MS})",
    )
    parser.add_argument("--speech-dbfs", type=float, default=spec.speech_dbfs)
    parser.set_defaults(func=_user_errors_as_stream_errors(run_make_stream))


# The decoder settings sweep and calibrate try several values of; --thresholds is the sweep's own.
SWEPT_DECODER_FIELDS = ("average_window_ms", "suppression_ms", "minimum_count")
# The decoder values calibrate searches (suppression is fixed; all three go into the model).
SEARCHED_DECODER_FIELDS = ("average_window_ms", "minimum_count")
STRIDE_FIELDS = ("clip_stride_ms",)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="ONNX model file")
    parser.add_argument("--provider", choices=("auto", "cpu"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the model")
    parser.add_argument(
        "--tolerance-ms",
        type=int,
        default=DEFAULT_TOLERANCE_MS,
        help="a detection matches a word whose end is within this many ms (TF default)",
    )


def _add_stream_pair_options(parser: argparse.ArgumentParser, negatives_required: bool) -> None:
    """A command-word stream and a negatives-only stream, each a WAV and its ground truth."""
    parser.add_argument("--wav", type=Path, required=True, help="command-word stream")
    parser.add_argument("--labels", type=Path, required=True, help="its ground-truth CSV")
    parser.add_argument(
        "--negatives-wav", type=Path, required=negatives_required, help="negatives-only stream"
    )
    parser.add_argument("--negatives-labels", type=Path, required=negatives_required)


def _add_eval_stream(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "eval-stream",
        help="replay a stream through the app's pipeline and score its detections",
    )
    _add_model_options(parser)
    parser.add_argument("--wav", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True, help="ground-truth CSV")
    add_setting_flags(parser, DecoderConfig)
    add_setting_flags(parser, StreamConfig)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--details", type=Path, help="write every detection and its outcome (CSV)")
    parser.set_defaults(func=_user_errors_as_stream_errors(run_eval_stream))


def _add_sweep(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sweep",
        help="streaming figures over a grid of decoder settings (CSV and PNG)",
        description=(
            "Scores each stream once per clip stride, then replays the app's decoder over the "
            "stored scores for every setting. Picks the best recall within --max-fa-per-hour, "
            "counted on the negatives-only stream when one is given."
        ),
    )
    _add_model_options(parser)
    _add_stream_pair_options(parser, negatives_required=False)
    parser.add_argument("--thresholds", default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS))
    add_setting_flags(parser, DecoderConfig, SWEPT_DECODER_FIELDS, value_lists=True)
    add_setting_flags(parser, StreamConfig, STRIDE_FIELDS, value_lists=True)
    parser.add_argument("--max-fa-per-hour", type=float, default=DEFAULT_MAX_FALSE_ACCEPTS_PER_HOUR)
    parser.add_argument(
        "--max-latency-p95-ms",
        type=float,
        default=None,
        help="also require this p95 latency after the word's end when choosing",
    )
    parser.add_argument("--csv", type=Path, required=True, help="output CSV, one row a setting")
    parser.add_argument("--png", type=Path, required=True, help="output trade-off plot")
    parser.set_defaults(func=_user_errors_as_stream_errors(run_sweep_command))


def run_make_stream(args: argparse.Namespace) -> int:
    words = tuple(w.strip() for w in args.words.split(",") if w.strip())
    if not words:
        raise StreamError("--words must name at least one word")
    gap = args.gap_ms or (NEGATIVE_GAP_MS if args.negatives_only else WORD_GAP_MS)
    spec = StreamSpec(
        duration_s=args.duration_s,
        min_gap_ms=gap[0],
        max_gap_ms=gap[1],
        snr_db=None if args.no_noise else args.snr_db,
        unknown_share=args.unknown_share,
        speech_dbfs=args.speech_dbfs,
        seed=args.seed,
        negatives_only=args.negatives_only,
        no_repeat=args.no_repeat,
    )
    speech_files = [
        recording.path
        for folder in args.speech_negatives
        for recording in speech_negatives(folder, args.speech_split)
    ]
    sources = collect_sources(
        args.data_dir, args.split, words, args.negatives, args.negatives_only, speech_files
    )
    stream = generate_stream(sources, spec)
    write_stream(stream, args.out, args.labels)
    commands = sum(word.is_command for word in stream.words)
    print(
        f"wrote {args.out} ({stream.duration_s / 60:.1f} min, {len(stream.words)} clips, "
        f"{commands} command words) and {args.labels}"
    )
    return 0


def _load_model(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from kws_app.inference.model import OnnxModel

    if args.threads < 1:
        raise StreamError("--threads must be at least 1")
    return OnnxModel(args.model, prefer_gpu=args.provider == "auto", cpu_threads=args.threads)


def _read_stream_audio(path: Path) -> tuple[np.ndarray, int]:
    return read_audio(path)


def _warn_unknown_words(labels: Sequence[str], model_labels: Sequence[str]) -> None:
    missing = sorted(set(labels) - set(model_labels))
    if missing:
        logger.warning("the model cannot say %s: those words count as missed", ", ".join(missing))


def run_eval_stream(args: argparse.Namespace) -> int:
    words = read_ground_truth(args.labels)
    audio, rate = _read_stream_audio(args.wav)
    decoder = config_from_args(args, DecoderConfig)
    stream = config_from_args(args, StreamConfig)
    model = _load_model(args)
    _warn_unknown_words([w.label for w in words if w.is_command], model.labels)
    scores, detections = score_stream(model, audio, rate, stream, decoder)
    metrics = stream_metrics(words, detections, scores.duration_s, args.tolerance_ms)
    print(f"model {args.model.name}, clip stride {stream.clip_stride_ms} ms, {decoder}")
    print(metrics.summary())
    if args.json:
        payload = {
            "model": str(args.model),
            "wav": str(args.wav),
            "clip_stride_ms": stream.clip_stride_ms,
            "decoder": json.loads(decoder.to_json()),
            "tolerance_ms": args.tolerance_ms,
            "metrics": metrics.as_dict(),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if args.details:
        with args.details.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("time_ms", "label", "score", "outcome", "word", "word_end_ms"))
            for match in match_detections(words, detections, args.tolerance_ms):
                word = match.word
                writer.writerow(
                    (
                        match.detection.time_ms,
                        match.detection.label,
                        f"{match.detection.score:.4f}",
                        match.outcome.value,
                        "" if word is None else word.label,
                        "" if word is None else word.end_ms,
                    )
                )
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    thresholds = parse_value_list(args.thresholds, float, "--thresholds")
    decoder_values = given_lists(args, DecoderConfig, SWEPT_DECODER_FIELDS)
    windows = decoder_values["average_window_ms"]
    suppressions = decoder_values["suppression_ms"]
    counts = decoder_values["minimum_count"]
    strides = given_lists(args, StreamConfig, STRIDE_FIELDS)["clip_stride_ms"]
    if (args.negatives_wav is None) != (args.negatives_labels is None):
        raise StreamError("give --negatives-wav and --negatives-labels together")
    words = read_ground_truth(args.labels)
    audio, rate = _read_stream_audio(args.wav)
    negative_words = None
    negative_audio = None
    if args.negatives_wav is not None:
        negative_words = read_ground_truth(args.negatives_labels)
        negative_audio = _read_stream_audio(args.negatives_wav)
    model = _load_model(args)
    _warn_unknown_words([w.label for w in words if w.is_command], model.labels)
    grid = SweepGrid(
        tuple(thresholds), tuple(windows), tuple(suppressions), tuple(counts), tuple(strides)
    )
    commands = EvalStream(args.wav.name, audio, rate, tuple(words))
    negatives = None
    if negative_audio is not None and negative_words is not None:
        negatives = EvalStream(args.negatives_wav.name, *negative_audio, tuple(negative_words))
    rows = run_sweep(model, commands, negatives, grid, args.tolerance_ms)
    _write_sweep_csv(rows, args.csv)
    fa_source = "negatives-only stream" if args.negatives_wav is not None else "command stream"
    best = choose_setting(rows, args.max_fa_per_hour, args.max_latency_p95_ms)
    plot_sweep(
        rows,
        str(args.png),
        f"{args.model.name}: recall vs false accepts ({fa_source})",
        highlight=() if best is None else (best.setting,),
    )
    print(f"wrote {len(rows)} settings to {args.csv} and {args.png}")
    if best is None:
        print(f"no setting keeps false accepts at or below {args.max_fa_per_hour}/h")
        return 0
    print(f"best within {args.max_fa_per_hour:g} false accepts/h ({fa_source}):")
    print(f"  {best.setting}, threshold {best.threshold:g}")
    print(f"  command stream: {best.stream.summary()}")
    if best.negatives is not None:
        print(f"  negatives-only stream: {best.negatives.summary()}")
    return 0


def _add_calibrate(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    target = CalibrationTarget()
    parser = subparsers.add_parser(
        "calibrate",
        help="per-label thresholds from validation streams, written into a copy of the model",
        description=(
            "Scores a validation command stream and a validation negatives-only stream, finds each "
            "command word's lowest threshold within its share of the false-accept budget for every "
            "decoder candidate, keeps the candidate with the best validation recall (within "
            "--max-latency-p95-ms) and writes its thresholds into --out (kws.operating_points)."
        ),
    )
    _add_model_options(parser)
    _add_stream_pair_options(parser, negatives_required=True)
    add_setting_flags(parser, StreamConfig, STRIDE_FIELDS, value_lists=True)
    add_setting_flags(parser, DecoderConfig, SEARCHED_DECODER_FIELDS, value_lists=True)
    add_setting_flags(parser, DecoderConfig, ("suppression_ms",))
    parser.add_argument("--target-fa-per-hour", type=float, default=target.false_accepts_per_hour)
    parser.add_argument("--margin-logit", type=float, default=target.margin_logit)
    parser.add_argument("--min-threshold", type=float, default=target.min_threshold)
    parser.add_argument(
        "--cross-validated-margin",
        action="store_true",
        help="add the smallest logit margin at which thresholds calibrated on one half of the "
        "negatives stay within the target on the other half",
    )
    parser.add_argument(
        "--strictest-at-best-recall",
        action="store_true",
        help="give each word the strictest threshold that finds as many validation words as "
        "the lowest one within the budget",
    )
    parser.add_argument(
        "--tail-fit",
        action="store_true",
        help="raise a word's threshold to where its near misses on the validation audio, "
        "extrapolated, predict its share of the target (for words validation never sees fire)",
    )
    parser.add_argument(
        "--max-latency-p95-ms",
        type=float,
        default=None,
        help="only decoder settings whose p95 latency after word end is at most this",
    )
    parser.add_argument(
        "--max-latency-median-ms",
        type=float,
        default=None,
        help="only decoder settings whose median latency after word end is at most this",
    )
    parser.add_argument("--out", type=Path, required=True, help="calibrated copy of the model")
    parser.add_argument("--json", type=Path, help="also write every candidate's figures here")
    parser.set_defaults(func=_user_errors_as_stream_errors(run_calibrate))


def run_calibrate(args: argparse.Namespace) -> int:
    strides = given_lists(args, StreamConfig, STRIDE_FIELDS)["clip_stride_ms"]
    decoder_values = given_lists(args, DecoderConfig, SEARCHED_DECODER_FIELDS)
    windows, counts = decoder_values["average_window_ms"], decoder_values["minimum_count"]
    suppression_ms = config_from_args(args, DecoderConfig, ("suppression_ms",)).suppression_ms
    commands = EvalStream(
        args.wav.name, *_read_stream_audio(args.wav), tuple(read_ground_truth(args.labels))
    )
    negatives = EvalStream(
        args.negatives_wav.name,
        *_read_stream_audio(args.negatives_wav),
        tuple(read_ground_truth(args.negatives_labels)),
    )
    model = _load_model(args)
    target = CalibrationTarget(
        args.target_fa_per_hour,
        args.margin_logit,
        args.tolerance_ms,
        args.min_threshold,
        cross_validated=args.cross_validated_margin,
        strictest_at_best_recall=args.strictest_at_best_recall,
        tail_fit=args.tail_fit,
    )
    best, results = calibrate(
        model,
        commands,
        negatives,
        strides,
        windows,
        counts,
        suppression_ms,
        target,
        LatencyLimit(args.max_latency_p95_ms, args.max_latency_median_ms),
    )
    write_operating_points(args.model, best.points, args.out)
    print(f"chosen: {best.summary()}")
    print(f"wrote {args.out}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "clip_stride_ms": r.stream.clip_stride_ms,
                        "average_window_ms": r.decoder.average_window_ms,
                        "minimum_count": r.decoder.minimum_count,
                        "thresholds": dict(r.points.thresholds),
                        "commands": r.commands.as_dict(),
                        "negatives": r.negatives.as_dict(),
                    }
                    for r in results
                ],
                indent=1,
            )
            + "\n"
        )
    return 0


def _write_sweep_csv(rows: Sequence[SweepRow], path: Path) -> None:
    if not rows:
        raise StreamError("the sweep produced no rows")
    table = [row.as_dict() for row in rows]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.stream_cli", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args))
    except (UserError, ValueError) as error:
        if args.verbose:
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        return USER_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
