"""Choose the app's decoder defaults from data: streaming recall at <= 1 false accept per hour.

Usage:
  .venv/bin/python bench/stream_decoder_defaults.py [--model assets/kws-default.onnx]
      [--data-dir ../shared/data] [--work-dir /tmp/kws_stream_bench] [--threads 2]

Builds (once, by seed) a command-word stream from the speaker-disjoint TEST split at 10 dB SNR and
a negatives-only stream from the reserved negatives (heysavant/not-wake-words), sweeps decoder
settings and clip strides over them (model scores computed once per stride), picks the best recall
with at most --max-fa-per-hour false accepts per hour on the negatives-only stream, then replays
both streams through StreamingPipeline with the chosen and with the current config.py settings and
prints every figure. Writes sweep.csv and sweep.png to the work folder.
"""

from __future__ import annotations

import argparse
import csv
import logging
import platform
import time
from dataclasses import replace
from pathlib import Path

from kws_app.audio.files import read_audio
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.paths import default_model_path
from training.stream_data import (
    StreamSpec,
    collect_sources,
    generate_stream,
    read_ground_truth,
    reserved_negatives_dir,
    write_stream,
)
from training.stream_eval import (
    EvalStream,
    StreamMetrics,
    SweepGrid,
    choose_setting,
    plot_sweep,
    run_sweep,
    score_stream,
    stream_metrics,
)

SECONDS_PER_MINUTE = 60
COMMAND_SEED = 1
NEGATIVE_SEED = 2
NEGATIVE_GAP_MS = (200, 1000)
# Dense near the top: trained with label smoothing, the model's probabilities rarely pass ~0.96.
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.83, 0.86, 0.88, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95,
              0.96, 0.97, 0.98)  # fmt: skip
LATENCY_TARGET_P95_MS = 500.0
AVERAGE_WINDOWS_MS = (300, 500, 750, 1000)
SUPPRESSIONS_MS = (500, 1000, 1500)
MINIMUM_COUNTS = (3, 5)
CLIP_STRIDES_MS = (20, 30, 50)


def _stream(
    data_dir: Path, out: Path, minutes: float, snr_db: float, negatives: bool
) -> EvalStream:
    wav, labels = out.with_suffix(".wav"), out.with_suffix(".csv")
    if not wav.exists() or not labels.exists():
        speech_commands = data_dir / "speech_commands"
        if negatives:
            sources = collect_sources(
                speech_commands,
                "test",
                negative_dirs=(reserved_negatives_dir(speech_commands),),
                negatives_only=True,
            )
            spec = StreamSpec(
                duration_s=minutes * SECONDS_PER_MINUTE,
                min_gap_ms=NEGATIVE_GAP_MS[0],
                max_gap_ms=NEGATIVE_GAP_MS[1],
                snr_db=snr_db,
                seed=NEGATIVE_SEED,
                negatives_only=True,
            )
        else:
            sources = collect_sources(speech_commands, "test")
            spec = StreamSpec(
                duration_s=minutes * SECONDS_PER_MINUTE, snr_db=snr_db, seed=COMMAND_SEED
            )
        write_stream(generate_stream(sources, spec), wav, labels)
    audio, rate = read_audio(wav)
    return EvalStream(wav.name, audio, rate, tuple(read_ground_truth(labels)))


def _replay(
    model: OnnxModel, stream: EvalStream, clip_stride_ms: int, decoder: DecoderConfig
) -> StreamMetrics:
    """The figures of the app's own pipeline (not the sweep's replay) for one setting."""
    scores, detections = score_stream(
        model, stream.audio, stream.rate, replace(StreamConfig(), clip_stride_ms=clip_stride_ms),
        decoder,
    )  # fmt: skip
    return stream_metrics(stream.words, detections, scores.duration_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/kws_stream_bench"))
    parser.add_argument("--command-minutes", type=float, default=30.0)
    parser.add_argument("--negative-minutes", type=float, default=60.0)
    parser.add_argument("--snr-db", type=float, default=10.0)
    parser.add_argument("--max-fa-per-hour", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--strides", default=",".join(map(str, CLIP_STRIDES_MS)))
    parser.add_argument(
        "--extra-snr-db",
        default="",
        help="comma-separated SNRs of further test streams to report the chosen setting on",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    args.work_dir.mkdir(parents=True, exist_ok=True)
    snr_tag = f"{args.snr_db:g}db"
    commands = _stream(
        args.data_dir,
        args.work_dir / f"test_{snr_tag}_{args.command_minutes:g}min",
        args.command_minutes,
        args.snr_db,
        negatives=False,
    )
    negatives = _stream(
        args.data_dir,
        args.work_dir / f"negatives_{snr_tag}_{args.negative_minutes:g}min",
        args.negative_minutes,
        args.snr_db,
        negatives=True,
    )
    model = OnnxModel(args.model, prefer_gpu=False, cpu_threads=args.threads)
    strides = tuple(int(s) for s in args.strides.split(","))
    grid = SweepGrid(THRESHOLDS, AVERAGE_WINDOWS_MS, SUPPRESSIONS_MS, MINIMUM_COUNTS, strides)
    started = time.perf_counter()
    rows = run_sweep(model, commands, negatives, grid)
    sweep_s = time.perf_counter() - started
    with (args.work_dir / "sweep.csv").open("w", newline="") as handle:
        table = [row.as_dict() for row in rows]
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    best = choose_setting(rows, args.max_fa_per_hour)
    best_in_time = choose_setting(rows, args.max_fa_per_hour, LATENCY_TARGET_P95_MS)
    plot_sweep(
        rows,
        str(args.work_dir / "sweep.png"),
        f"{args.model.name}: test split at {args.snr_db:g} dB vs negatives-only FA/h",
        highlight=() if best is None else (best.setting,),
    )

    command_words = sum(w.is_command for w in commands.words)
    print(f"machine: {platform.processor() or platform.machine()}, model {args.model}")
    print(
        f"streams: {commands.name} ({len(commands.audio) / commands.rate / 60:.0f} min, "
        f"{command_words} command words), {negatives.name} "
        f"({len(negatives.audio) / negatives.rate / 60:.0f} min)"
    )
    print(f"sweep: {len(rows)} settings in {sweep_s:.0f} s -> {args.work_dir / 'sweep.csv'}")
    current_stream = StreamConfig()
    current = DecoderConfig()
    settings = [("current config.py defaults", current_stream.clip_stride_ms, current)]
    if best is None:
        print(f"no setting reaches <= {args.max_fa_per_hour:g} false accepts per hour")
    else:
        settings.append(("best recall", best.clip_stride_ms, best.decoder_config()))
    if best_in_time is not None and best_in_time != best:
        settings.append(
            (
                f"best recall with p95 latency <= {LATENCY_TARGET_P95_MS:g} ms",
                best_in_time.clip_stride_ms,
                best_in_time.decoder_config(),
            )
        )
    extra_snrs = [float(v) for v in args.extra_snr_db.split(",") if v.strip()]
    for name, stride, decoder in settings:
        on_commands = _replay(model, commands, stride, decoder)
        on_negatives = _replay(model, negatives, stride, decoder)
        print(f"{name}: clip stride {stride} ms, {decoder}")
        print(f"  test split, {args.snr_db:g} dB SNR: {on_commands.summary()}")
        print(
            f"  negatives-only: {on_negatives.false_positives} false accepts in "
            f"{on_negatives.duration_s / 60:.0f} min = "
            f"{on_negatives.false_accepts_per_hour:.2f} per hour"
        )
        for snr in extra_snrs:
            tag = f"{snr:g}db_{args.command_minutes:g}min"
            other = _stream(
                args.data_dir, args.work_dir / f"test_{tag}", args.command_minutes, snr, False
            )
            print(
                f"  test split, {snr:g} dB SNR: {_replay(model, other, stride, decoder).summary()}"
            )


if __name__ == "__main__":
    main()
