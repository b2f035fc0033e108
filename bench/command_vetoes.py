"""What "Not 'on'" does for the command words: vetoes learned from a user's false alarms, replayed.

Usage: .venv/bin/python bench/command_vetoes.py [--model assets/kws-default.onnx]
           [--kept assets/command-kept.npz] [--negatives-wav runs/streams/test_neg.wav]
           [--commands-wav runs/streams/test_cmd_10db.wav] [--commands-wav ...]
           [--max-vetoed-share 0.01] [--l2-penalty 1.0] [--as-they-happen]

The app's own path (kws_app/words/vetoes.py), on streams of speakers the kept strides never
heard. The negatives stream is decoded at the app's defaults; each false accept in its first
half is "given back" as the window does it: the sound the word rested on (the model's clip and
the averaging window before the detection) is cut from the stream and joined to that word's
false alarms. Each command word that fired learns its veto from those sounds (embedded by the
custom-word trainer, clip by clip at the pipeline's stride) against the kept strides, and the
vetoes then move that word's probability to `_unknown_` wherever they fire. The second half of
the negatives stream and the command-word streams are decoded again: false accepts per hour and
command words found, before and after.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from words_fewshot import CachedStream, decode, load_models, run_stream

from kws_app.audio.files import read_audio_at
from kws_app.config import MS_PER_SECOND, DecoderConfig, StreamConfig
from kws_app.inference.pipeline import Detection, operating_points_of
from kws_app.paths import default_model_path
from kws_app.words.scorer import heard_span_ms
from kws_app.words.trainer import WordTrainer
from kws_app.words.vetoes import (
    CommandVeto,
    VetoConfig,
    apply_vetoes,
    kept_strides_path,
    learn_veto,
    load_kept_strides,
)
from training.stream_data import read_ground_truth
from training.stream_eval import Outcome, match_detections, stream_metrics

logger = logging.getLogger(__name__)

RATE = 16000
SECONDS_PER_HOUR = 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--kept", type=Path, help="default: the one beside the model")
    parser.add_argument("--negatives-wav", type=Path, default=Path("runs/streams/test_neg.wav"))
    parser.add_argument("--commands-wav", type=Path, action="append")
    defaults = VetoConfig()
    parser.add_argument("--max-vetoed-share", type=float, default=defaults.max_vetoed_share)
    parser.add_argument("--l2-penalty", type=float, default=defaults.l2_penalty)
    parser.add_argument(
        "--as-they-happen",
        action="store_true",
        help="give back every false alarm of the whole negatives stream the moment it shows, "
        "each word's veto learned again each time, instead of the first half's all at once",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    command_wavs = args.commands_wav or [Path("runs/streams/test_cmd_10db.wav")]
    config = VetoConfig(
        l2_penalty=args.l2_penalty,
        max_vetoed_share=args.max_vetoed_share,
        stride_ms=StreamConfig().clip_stride_ms,
    )
    model, paths = load_models(args.model, None)
    trainer = WordTrainer(model, paths)
    kept_path = args.kept or kept_strides_path(args.model)
    kept = load_kept_strides(kept_path, trainer.model_id, trainer.embedding_size)
    if kept is None:
        raise SystemExit(f"{kept_path} is missing or was not made for this model and embedder")
    labels = tuple(model.labels)
    decoder, stream = DecoderConfig(), StreamConfig()
    points = operating_points_of(model)  # type: ignore[arg-type]
    audio = read_audio_at(args.negatives_wav, RATE)
    negatives = run_stream(model, audio, [], stream)  # type: ignore[arg-type]
    half_ms = negatives.seconds * MS_PER_SECOND / 2
    fired = decode(labels, negatives.probabilities, negatives.times_ms, decoder, points)

    def heard(t: int, label: str) -> np.ndarray:
        """What the window's button keeps of a detection: the clip and averaging window."""
        span_ms = heard_span_ms(model, label, decoder.average_window_ms)  # type: ignore[arg-type]
        start = max(0, (t - span_ms) * RATE // MS_PER_SECOND)
        return audio[start : t * RATE // MS_PER_SECOND]

    sounds: dict[str, list[np.ndarray]] = {}
    vetoes_by_label: dict[str, CommandVeto] = {}

    def give_back(t: int, label: str) -> None:
        sounds.setdefault(label, []).append(heard(t, label))
        veto = learn_veto(label, sounds[label], kept, trainer.embed, model.frontend, config)
        if veto is not None:  # each sound windowed on its own, as the store keeps them apart
            vetoes_by_label[label] = veto

    if args.as_they_happen:
        # The user gives back every false alarm the moment it shows; the next ones meet the
        # vetoes learned so far.
        given_back: list[tuple[int, str]] = []
        while True:
            rows = apply_vetoes(
                negatives.probabilities,
                negatives.embeddings,
                labels,
                list(vetoes_by_label.values()),
            )
            after = [
                (t, label)
                for t, label in decode(labels, rows, negatives.times_ms, decoder, points)
                if not given_back or t > given_back[-1][0]
            ]
            if not after:
                break
            given_back.append(after[0])
            give_back(*after[0])
        hours = negatives.seconds / SECONDS_PER_HOUR
        second_seen = [label for t, label in given_back if t >= half_ms]
        print(
            f"every false alarm given back as it shows: {len(given_back)} shown in "
            f"{hours * 60:.0f} min ({len(given_back) / hours:.2f} per hour; without vetoes "
            f"{len(fired)}, {len(fired) / hours:.2f}); in the second half {len(second_seen)} "
            f"({', '.join(sorted(second_seen)) or 'none'}) against "
            f"{sum(t >= half_ms for t, _ in fired)} without"
        )
    else:
        given_back = [(t, label) for t, label in fired if t < half_ms]
        for t, label in given_back:
            sounds.setdefault(label, []).append(heard(t, label))
        for label, parts in sorted(sounds.items()):
            veto = learn_veto(label, parts, kept, trainer.embed, model.frontend, config)
            if veto is not None:
                vetoes_by_label[label] = veto
    for label, parts in sorted(sounds.items()):
        kept_rows = kept.of(label)
        veto = vetoes_by_label.get(label)
        print(
            f"{label}: {len(parts)} false alarms against "
            f"{0 if kept_rows is None else len(kept_rows)} kept strides: "
            + ("no veto" if veto is None else f"veto above {veto.threshold:+.2f}")
        )
    vetoes = list(vetoes_by_label.values())

    def detections(cached: CachedStream, vetoed: bool) -> list[tuple[int, str]]:
        rows = cached.probabilities
        if vetoed:
            rows = apply_vetoes(rows, cached.embeddings, labels, vetoes)
        return decode(labels, rows, cached.times_ms, decoder, points)

    if not args.as_they_happen:
        hours = (negatives.seconds - half_ms / MS_PER_SECOND) / SECONDS_PER_HOUR
        second = [label for t, label in fired if t >= half_ms]
        second_after = [label for t, label in detections(negatives, True) if t >= half_ms]
        print(
            f"given back: {len(given_back)} false alarms of the first half "
            f"({', '.join(sorted(sounds))})\n"
            f"second half: {len(second) / hours:.2f} -> {len(second_after) / hours:.2f} false "
            f"accepts per hour ({len(second)} -> {len(second_after)} in {hours * 60:.0f} min; "
            f"after: {', '.join(sorted(second_after)) or 'none'})"
        )
    for wav in command_wavs:
        commands = run_stream(model, read_audio_at(wav, RATE), [], stream)  # type: ignore[arg-type]
        words = read_ground_truth(wav.with_suffix(".csv"))

        shares, own = [], []
        for vetoed in (False, True):
            found = [Detection(t, label, 1.0) for t, label in detections(commands, vetoed)]
            metrics = stream_metrics(words, found, commands.seconds)
            shares.append(metrics.correct / max(1, metrics.command_words))
            correct = [
                match.detection.label
                for match in match_detections(words, found)
                if match.outcome is Outcome.CORRECT
            ]
            own.append(sum(label in sounds for label in correct))
        said = sum(word.label in sounds for word in words)
        print(
            f"{wav.stem}: command words found {shares[0]:.1%} -> {shares[1]:.1%}; "
            f"the vetoed words ({', '.join(sorted(sounds))}) {own[0]} -> {own[1]} of {said}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
