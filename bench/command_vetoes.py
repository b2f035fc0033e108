"""What "Not 'word'" could do for the command words: a veto learned from a user's false alarms.

Usage: .venv/bin/python bench/command_vetoes.py [--model assets/kws-default.onnx]
           [--negatives-wav runs/streams/test_neg.wav]
           [--commands-wav runs/streams/test_cmd_10db.wav] [--max-vetoed-share 0.01]

A replay, not an app feature (yet): the command words come from the base model, which a user
cannot retrain, but a small veto per command word could learn what that user's false alarms of
it sound like. The negatives stream is decoded at the app's defaults; the false accepts in its
first half are "given back": for each command word that fired, a logistic regression on the
word embedder's embedding (the one custom words read) separates the strides of its averaging
window before each false accept from the shipped sample of that command word said by many
speakers (assets/words-negatives.npz), or, with --keep-wav, from the strides before the words a
command-word stream of other speakers finds correctly (what a user would keep). Its threshold
vetoes at most --max-vetoed-share of that other class. The veto then zeroes that word's
probability on every stride it fires on, and the stream's second half and a command-word stream
are decoded again: false accepts per hour before and after, and the command words found before
and after.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from words_fewshot import CachedStream, decode, load_models, run_stream

from kws_app.audio.files import read_audio_at
from kws_app.config import MS_PER_SECOND, DecoderConfig, StreamConfig
from kws_app.inference.pipeline import Detection, operating_points_of
from kws_app.paths import assets_dir, default_model_path
from kws_app.words.trainer import NEGATIVES_FILE_NAME, load_shipped_negatives, model_id_of
from training.stream_data import read_ground_truth
from training.stream_eval import Outcome, match_detections, stream_metrics

logger = logging.getLogger(__name__)

RATE = 16000
SECONDS_PER_HOUR = 3600
# The veto's L2 penalty on standardised embeddings: a few dozen false-alarm strides against
# sixty samples must not be separated by chance directions.
L2_PENALTY = 1.0
FloatArray = npt.NDArray[np.float32]
Veto = tuple[FloatArray, float, FloatArray, FloatArray]  # weights, bias, mean, scale


def fit_veto(alarms: FloatArray, word: FloatArray) -> Veto:
    """(weights, bias, mean, scale) of a logistic regression: 1 for a false alarm, 0 for the
    word; each class weighs the same, whatever its rows."""
    rows = np.concatenate([alarms, word]).astype(np.float64)
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    x = (rows - mean) / scale
    y = np.concatenate([np.ones(len(alarms)), np.zeros(len(word))])
    weight = np.where(y == 1, 0.5 / len(alarms), 0.5 / len(word))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = x @ theta[:-1] + theta[-1]
        p = 1 / (1 + np.exp(-logits))
        value = -np.sum(weight * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        value += 0.5 * L2_PENALTY * np.sum(theta[:-1] ** 2) / len(rows)
        error = weight * (p - y)
        grad = np.concatenate([x.T @ error + L2_PENALTY * theta[:-1] / len(rows), [error.sum()]])
        return float(value), grad

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return theta[:-1].astype(np.float32), float(theta[-1]), mean, scale


def veto_scores(embeddings: FloatArray, veto: Veto) -> FloatArray:
    weights, bias, mean, scale = veto
    return ((embeddings - mean) / scale) @ weights + bias


def kept_strides(
    model: object,
    wav: Path,
    decoder: DecoderConfig,
    stream: StreamConfig,
    points: object,
) -> dict[str, list[FloatArray]]:
    """Per command word, for each detection of it that the stream's labels call correct, the
    embeddings of the strides in the averaging window before it: what a veto must let through."""
    cached = run_stream(model, read_audio_at(wav, RATE), [], stream)  # type: ignore[arg-type]
    labels = tuple(model.labels)  # type: ignore[attr-defined]
    found = decode(labels, cached.probabilities, cached.times_ms, decoder, points)  # type: ignore[arg-type]
    matches = match_detections(
        read_ground_truth(wav.with_suffix(".csv")), [Detection(t, label, 1.0) for t, label in found]
    )
    kept: dict[str, list[FloatArray]] = {}
    for match in matches:
        if match.outcome is Outcome.CORRECT:
            t, label = match.detection.time_ms, match.detection.label
            window = window_rows(cached.times_ms, t, decoder.average_window_ms)
            kept.setdefault(label, []).append(cached.embeddings[window])
    return kept


def window_rows(times_ms: np.ndarray, time_ms: int, window_ms: int) -> np.ndarray:
    """The strides of the averaging window that ends with a detection at `time_ms`."""
    return (times_ms > time_ms - window_ms) & (times_ms <= time_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--negatives", type=Path, default=assets_dir() / NEGATIVES_FILE_NAME)
    parser.add_argument("--negatives-wav", type=Path, default=Path("runs/streams/test_neg.wav"))
    parser.add_argument("--commands-wav", type=Path, default=Path("runs/streams/test_cmd_10db.wav"))
    parser.add_argument("--max-vetoed-share", type=float, default=0.01)
    parser.add_argument(
        "--keep-wav",
        type=Path,
        help="a command-word stream with its labels CSV (e.g. runs/streams/val_cmd_10db.wav, "
        "other speakers than the test's): the strides before each word it finds correctly "
        "stand for the detections a user keeps, and are the veto's other class instead of "
        "the shipped samples",
    )
    parser.add_argument(
        "--at-detection",
        action="store_true",
        help="veto a detection when the veto's mean over its averaging window passes the "
        "threshold (chosen on the kept words' windows; needs --keep-wav), instead of zeroing "
        "the word on every stride the veto fires on",
    )
    args = parser.parse_args()
    if args.at_detection and args.keep_wav is None:
        raise SystemExit("--at-detection needs --keep-wav")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    model, paths = load_models(args.model, None)
    labels = tuple(model.labels)
    decoder, stream = DecoderConfig(), StreamConfig()
    points = operating_points_of(model)
    window = decoder.average_window_ms
    negatives = run_stream(model, read_audio_at(args.negatives_wav, RATE), [], stream)
    commands = run_stream(model, read_audio_at(args.commands_wav, RATE), [], stream)
    words = read_ground_truth(args.commands_wav.with_suffix(".csv"))
    shipped = load_shipped_negatives(
        args.negatives, model_id_of(paths), int(negatives.embeddings.shape[1])
    )
    if shipped is None:
        raise SystemExit(f"{args.negatives} was not made for this model and its word embedder")
    kept = (
        kept_strides(model, args.keep_wav, decoder, stream, points)
        if args.keep_wav is not None
        else None
    )
    half_ms = negatives.seconds * MS_PER_SECOND / 2
    fired = decode(labels, negatives.probabilities, negatives.times_ms, decoder, points)
    given_back = [(t, label) for t, label in fired if t < half_ms]
    vetoes: dict[str, tuple[Veto, float]] = {}
    for label in sorted({label for _, label in given_back}):
        near = np.zeros(negatives.times_ms.shape, dtype=bool)
        for t, fired_label in given_back:
            if fired_label == label:
                near |= (negatives.times_ms > t - window) & (negatives.times_ms <= t)
        if kept is None:
            samples = shipped.embeddings[np.array([name == label for name in shipped.labels])]
        else:
            samples = np.concatenate(kept[label])
        veto = fit_veto(negatives.embeddings[near], samples)
        if args.at_detection and kept is not None:  # the mean over each kept word's window
            scores = np.array([veto_scores(rows, veto).mean() for rows in kept[label]])
        else:
            scores = veto_scores(samples, veto)
        threshold = float(np.quantile(scores, 1 - args.max_vetoed_share))
        vetoes[label] = (veto, threshold)
        alarms = sum(fired_label == label for _, fired_label in given_back)
        print(
            f"{label}: {int(near.sum())} strides of {alarms} false alarms against "
            f"{len(samples)} samples; veto above {threshold:+.2f}"
        )

    def vetoed(probabilities: FloatArray, embeddings: FloatArray) -> FloatArray:
        out = probabilities.copy()
        for label, (veto, threshold) in vetoes.items():
            out[veto_scores(embeddings, veto) > threshold, labels.index(label)] = 0.0
        return out

    def kept_detections(cached: CachedStream) -> list[tuple[int, str]]:
        """The stream's detections after the vetoes: on every stride they fire on, or (with
        --at-detection) on the detections whose window they fire on, on average."""
        if not args.at_detection:
            rows = vetoed(cached.probabilities, cached.embeddings)
            return decode(labels, rows, cached.times_ms, decoder, points)
        out = []
        for t, label in decode(labels, cached.probabilities, cached.times_ms, decoder, points):
            if label in vetoes:
                veto, threshold = vetoes[label]
                rows = cached.embeddings[window_rows(cached.times_ms, t, window)]
                if veto_scores(rows, veto).mean() > threshold:
                    continue
            out.append((t, label))
        return out

    second = [(t, label) for t, label in fired if t >= half_ms]
    second_after = [(t, label) for t, label in kept_detections(negatives) if t >= half_ms]
    hours = (negatives.seconds - half_ms / MS_PER_SECOND) / SECONDS_PER_HOUR

    def found(detected: list[tuple[int, str]]) -> float:
        detections = [Detection(t, label, 1.0) for t, label in detected]
        metrics = stream_metrics(words, detections, commands.seconds)
        return metrics.correct / max(1, metrics.command_words)

    print(
        f"given back: {len(given_back)} false alarms of the first half "
        f"({', '.join(sorted({label for _, label in given_back}))})\n"
        f"second half: {len(second) / hours:.2f} -> {len(second_after) / hours:.2f} false accepts "
        f"per hour ({len(second)} -> {len(second_after)} in {hours * 60:.0f} min)\n"
        f"command words found at 10 dB: "
        f"{found(decode(labels, commands.probabilities, commands.times_ms, decoder, points)):.1%}"
        f" -> {found(kept_detections(commands)):.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
