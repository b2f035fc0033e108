"""Make the kept strides that command-word vetoes learn against (assets/command-kept.npz).

Usage: .venv/bin/python bench/command_kept.py [--data-dir ../shared/data] [--work-dir runs/streams]
           [--model assets/kws-default.onnx] [--out assets/command-kept.npz]
           [--max-rows-per-word 400] [--seed 0]

A veto ("Not 'on'" in the window, kws_app/words/vetoes.py) must let through the command words
other people say. What it is fitted against is, per command word, the word embedder's embedding
of the strides in the averaging window before each detection that a labelled command-word stream
calls correct: words of many speakers in running speech and noise, as the live stream hears
them. The streams are `KEPT_RECIPES`: validation speakers only, never the test speakers', at
three signal-to-noise ratios and several draws (the validation split holds few takes of some
words, "on" and "off" among them); missing ones are built as bench/stream_benchmark.py does.
Rerun whenever the model or its word embedder changes: the file records the pair's identity and
the app ignores it for any other.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from stream_benchmark import StreamRecipe, build_stream
from words_fewshot import decode, load_models, run_stream

from kws_app.audio.files import read_audio_at
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.operating_points import OperatingPoints
from kws_app.inference.pipeline import Detection, operating_points_of
from kws_app.paths import default_model_path
from kws_app.words.trainer import model_id_of
from kws_app.words.vetoes import kept_strides_path, save_kept_strides
from training.stream_data import read_ground_truth
from training.stream_eval import Outcome, match_detections

logger = logging.getLogger(__name__)

RATE = 16000
VALIDATION = "validation"
KEPT_RECIPES = (
    StreamRecipe("val_cmd_10db", VALIDATION, 10.0, 21),  # bench/stream_benchmark.py's own
    StreamRecipe("val2_cmd_10db", VALIDATION, 10.0, 23),
    StreamRecipe("val3_cmd_10db", VALIDATION, 10.0, 24),
    StreamRecipe("val_cmd_20db", VALIDATION, 20.0, 25),
    StreamRecipe("val_cmd_5db", VALIDATION, 5.0, 26),
)
FloatArray = npt.NDArray[np.float32]


def window_rows(times_ms: np.ndarray, time_ms: int, window_ms: int) -> np.ndarray:
    """The strides of the averaging window that ends with a detection at `time_ms`."""
    return (times_ms > time_ms - window_ms) & (times_ms <= time_ms)


def kept_strides(
    model: object,
    wav: Path,
    decoder: DecoderConfig,
    stream: StreamConfig,
    points: OperatingPoints | None,
) -> dict[str, list[FloatArray]]:
    """Per command word, for each detection of it that the stream's labels call correct, the
    embeddings of the strides in its averaging window: what a veto must let through."""
    cached = run_stream(model, read_audio_at(wav, RATE), [], stream)  # type: ignore[arg-type]
    labels = tuple(model.labels)  # type: ignore[attr-defined]
    found = decode(labels, cached.probabilities, cached.times_ms, decoder, points)
    matches = match_detections(
        read_ground_truth(wav.with_suffix(".csv")), [Detection(t, label, 1.0) for t, label in found]
    )
    kept: dict[str, list[FloatArray]] = {}
    for match in matches:
        if match.outcome is Outcome.CORRECT:
            t, label = match.detection.time_ms, match.detection.label
            default_ms = decoder.average_window_ms
            window_ms = default_ms if points is None else points.window_for(label, default_ms)
            rows = window_rows(cached.times_ms, t, window_ms)
            kept.setdefault(label, []).append(cached.embeddings[rows])
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=Path("runs/streams"))
    parser.add_argument("--out", type=Path, help="default: beside the model, where the app looks")
    parser.add_argument("--max-rows-per-word", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    streams = []
    for recipe in KEPT_RECIPES:
        build_stream(recipe, args.data_dir, args.work_dir)  # only where it is missing
        streams.append(args.work_dir / f"{recipe.name}.wav")
    model, paths = load_models(args.model, None)
    decoder, stream = DecoderConfig(), StreamConfig()
    points = operating_points_of(model)  # type: ignore[arg-type]
    gathered: dict[str, list[FloatArray]] = {}
    for wav in streams:
        for label, windows in kept_strides(model, wav, decoder, stream, points).items():
            gathered.setdefault(label, []).extend(windows)
    rng = np.random.default_rng(args.seed)
    chosen: dict[str, FloatArray] = {}
    for label in sorted(gathered):
        rows = np.concatenate(gathered[label])
        if len(rows) > args.max_rows_per_word:
            rows = rows[np.sort(rng.choice(len(rows), args.max_rows_per_word, replace=False))]
        chosen[label] = rows
        print(f"{label}: {len(gathered[label])} words found, {len(rows)} strides kept")
    out = args.out or kept_strides_path(args.model)
    save_kept_strides(out, model_id_of(paths), chosen)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
