"""Custom phrases longer than the model's one-second clip: two-window heads against one window.

Usage: .venv/bin/python bench/words_phrases.py [--model assets/kws-default.onnx]
           [--negatives assets/words-negatives.npz] [--data-dir ../shared/data] [--trials 3]
           [--negatives-wav runs/streams/test_neg.wav] [--phrases FIRST,SECOND ...]
           [--set FIELD=VALUE ...]

A phrase here is two words kept out of all training (words_data.RESERVED_WORDS), e.g. "marvin
sheila": the spoken part of a clip of the first word, a short pause, the spoken part of a clip of
the second, as one take (about 1.1-1.6 s of speech, longer than the model's window). Speech
Commands has too few speakers who recorded both words, so the two halves come from different
speakers. For each trial, 5 such takes (5 speakers per word) teach the phrase exactly as the app
learns a word (WordTrainer.train_audio), once as a phrase (its head reads two windows,
kws_app/words/phrases.py) and once forced into one window, as before phrases existed. Measured on
streams replayed through the app's pipeline, each take in its own 3 s slot:
- detection: phrases made of OTHER speakers' clips on which the phrase fires;
- half fires: clips of the first word alone, and of the second alone, on which it fires (a
  phrase should need both halves);
- false accepts per hour on the negatives (test_neg stream, or the reserved precise folder).
Decoding is the app's (default DecoderConfig and each word's own calibrated point; the decoder
flags, e.g. --threshold for the sensitivity slider, change it).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace

import numpy as np
from words_data import ClipRef, by_label, read_clips
from words_fewshot import (
    NOISE_DBFS,
    RATE,
    SECONDS_PER_HOUR,
    SLOT_S,
    CachedStream,
    at_windows,
    evaluate,
    load_models,
    negatives_stream,
    run_stream,
    with_settings,
    with_synthetic_takes,
    words_parser,
)

from kws_app.audio.files import read_audio_at
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import add_setting_flags, config_from_args
from kws_app.dsp.levels import db_to_amplitude
from kws_app.inference.model import OnnxModel
from kws_app.words.phrases import LAG_KEY, PhraseConfig
from kws_app.words.scorer import CustomWordScorer
from kws_app.words.takes import TRIM_MARGIN_SECONDS
from kws_app.words.trainer import (
    TrainerConfig,
    WordAudio,
    WordTrainer,
    word_span,
)

PHRASES = (("marvin", "sheila"), ("happy", "house"))
EXAMPLES = 5
PAUSE_S = 0.1
# A phrase never falls back to one window with this share (no utterance is 10 clips long).
NEVER_PHRASE = PhraseConfig(long_word_clip_share=10.0)


def spoken(clip: ClipRef) -> np.ndarray:
    wave = read_audio_at(clip.path, RATE)
    start, end = word_span(wave, RATE)
    return wave[start:end]


def quiet(seconds: float, rng: np.random.Generator) -> np.ndarray:
    samples = int(seconds * RATE)
    return (rng.standard_normal(samples) * db_to_amplitude(NOISE_DBFS)).astype(np.float32)


def phrase_take(first: ClipRef, second: ClipRef, rng: np.random.Generator) -> np.ndarray:
    """A trimmed take as the store keeps one: margin, first word, pause, second word, margin."""
    parts = [
        quiet(TRIM_MARGIN_SECONDS, rng),
        spoken(first),
        quiet(PAUSE_S, rng),
        spoken(second),
        quiet(TRIM_MARGIN_SECONDS, rng),
    ]
    return np.concatenate(parts).astype(np.float32)


def slots(
    model: OnnxModel, waves: list[np.ndarray], rng: np.random.Generator, stream: StreamConfig
) -> CachedStream:
    slot = int(SLOT_S * RATE)
    audio = quiet(SLOT_S * (len(waves) + 1), rng)
    for index, wave in enumerate(waves):
        audio[index * slot : index * slot + wave.size] += wave[:slot]
    return run_stream(model, audio, ["phrase"] * len(waves), stream)


def fired_share(
    scorer: CustomWordScorer,
    model: OnnxModel,
    stream: CachedStream,
    word: str,
    decoder: DecoderConfig,
) -> float:
    fired = evaluate(scorer, model, stream, decoder)
    return float(np.mean([word in f for f in fired]))  # type: ignore[operator]


def parse_phrase(text: str) -> tuple[str, str]:
    first, separator, second = text.partition(",")
    if not separator or not first or not second or "," in second:
        raise SystemExit(f"--phrases {text!r}: expected FIRST,SECOND")
    return first, second


def main() -> int:
    parser = words_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--phrases",
        nargs="+",
        metavar="FIRST,SECOND",
        help="phrases to make (default: "
        + " ".join(",".join(pair) for pair in PHRASES)
        + "; validation words, e.g. bird,zero cat,tree, for choosing settings)",
    )
    add_setting_flags(parser, DecoderConfig)
    args = parser.parse_args()
    phrases = [parse_phrase(text) for text in args.phrases] if args.phrases else list(PHRASES)
    config = with_settings(with_synthetic_takes(TrainerConfig(), args.synthetic_takes), args.set)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    decoder, stream = config_from_args(args, DecoderConfig), StreamConfig()
    model, model_paths = load_models(args.model, args.embedding_model)
    modes = {
        "two windows": config,
        "one window": replace(config, phrase=NEVER_PHRASE),
    }
    trainers = {
        mode: WordTrainer(model, model_paths, negatives_path=args.negatives, config=config)
        for mode, config in modes.items()
    }
    negatives = negatives_stream(model, args.data_dir, rng, stream, args.negatives_wav)
    print(f"negatives {negatives.seconds / 60:.1f} min ({time.perf_counter() - started:.0f} s)")
    groups = by_label(read_clips(args.data_dir))
    rows = []
    for first_word, second_word in phrases:
        name = f"{first_word} {second_word}"
        firsts, seconds = groups[first_word], groups[second_word]
        for trial in range(args.trials):
            chosen_first = [firsts[i] for i in rng.permutation(len(firsts))]
            chosen_second = [seconds[i] for i in rng.permutation(len(seconds))]
            example_first = _distinct_speakers(chosen_first, EXAMPLES)
            example_second = _distinct_speakers(chosen_second, EXAMPLES)
            used = {c.speaker for c in example_first + example_second}
            test_first = [c for c in firsts if c.speaker not in used]
            test_second = [c for c in seconds if c.speaker not in used]
            count = min(len(test_first), len(test_second))
            takes = [
                phrase_take(a, b, rng) for a, b in zip(example_first, example_second, strict=True)
            ]
            tests = [
                phrase_take(test_first[i], test_second[j], rng)
                for i, j in zip(
                    rng.permutation(len(test_first))[:count],
                    rng.permutation(len(test_second))[:count],
                    strict=True,
                )
            ]
            phrase_stream = slots(model, tests, rng, stream)
            first_alone = slots(model, [spoken(c) for c in test_first], rng, stream)
            second_alone = slots(model, [spoken(c) for c in test_second], rng, stream)
            spoken_s = np.median([t.size / RATE - 2 * TRIM_MARGIN_SECONDS for t in takes])
            for mode, trainer in trainers.items():
                train_started = time.perf_counter()
                audio = trainer.with_synthetic_voices(
                    WordAudio(name, takes, None), name if args.synthetic_takes else None
                )
                trained = trainer.train_audio(audio, [])
                train_s = time.perf_counter() - train_started
                for window_ms, head in at_windows(trained, args.word_windows_ms):
                    scorer = CustomWordScorer(model, [(name, head)])
                    false_accepts = [
                        d for d in evaluate(scorer, model, negatives, decoder) if d[1] == name
                    ]  # type: ignore[index]
                    row = {
                        "phrase": name,
                        "trial": trial,
                        "mode": mode,
                        "window_ms": window_ms,
                        "lag_ms": int(head.details.get(LAG_KEY, 0)),
                        "tests": count,
                        "detection": fired_share(scorer, model, phrase_stream, name, decoder),
                        "first_alone": fired_share(scorer, model, first_alone, name, decoder),
                        "second_alone": fired_share(scorer, model, second_alone, name, decoder),
                        "fa_per_hour": len(false_accepts) / negatives.seconds * SECONDS_PER_HOUR,
                        "train_s": train_s,
                    }
                    rows.append(row)
                    print(
                        f"{name:14s} trial {trial} {mode:11s} window {window_ms} ms (lag "
                        f"{row['lag_ms']} ms, spoken {spoken_s:.2f} s) n={count:3d} "
                        f"det {row['detection']:.2f} first alone {row['first_alone']:.2f} "
                        f"second alone {row['second_alone']:.2f} "
                        f"FA/h {row['fa_per_hour']:.1f} train {train_s:.1f} s",
                        flush=True,
                    )
    print()
    print(
        "| head | trials | detection | fires on first word alone | on second word alone "
        "| false accepts / h | training s |"
    )
    print("|---|---|---|---|---|---|---|")
    windows = sorted({r["window_ms"] for r in rows})
    for mode, window_ms in ((m, w) for m in modes for w in windows):
        picked = [r for r in rows if r["mode"] == mode and r["window_ms"] == window_ms]
        if not picked:  # phrases and single words keep windows of their own
            continue
        label = mode if len(windows) == 1 else f"{mode}, window {window_ms} ms"

        def mean(key: str, picked: list[dict] = picked) -> float:
            return float(np.mean([r[key] for r in picked]))

        print(
            f"| {label} | {len(picked)} | {mean('detection'):.1%} | {mean('first_alone'):.1%} | "
            f"{mean('second_alone'):.1%} | {mean('fa_per_hour'):.1f} "
            f"(max {max(r['fa_per_hour'] for r in picked):.1f}) | {mean('train_s'):.1f} |"
        )
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


def _distinct_speakers(clips: list[ClipRef], count: int) -> list[ClipRef]:
    picked: list[ClipRef] = []
    for clip in clips:
        if clip.speaker not in {c.speaker for c in picked}:
            picked.append(clip)
        if len(picked) == count:
            break
    return picked


if __name__ == "__main__":
    sys.exit(main())
