"""Build assets/words-negatives.npz: base-model embeddings of negatives for custom-word heads.

Usage: .venv/bin/python bench/words_negatives.py [--model assets/kws-default.onnx]
           [--data-dir ../shared/data] [--out assets/words-negatives.npz]

Only training data is used: TRAINING-split Speech Commands clips (the split of
../shared/data/README.md) of every non-command word except the words reserved for the custom-word
benchmark (words_data.RESERVED_WORDS), a sample of each command word, `_silence_` clips and crops
of the background-noise recordings, plus 1 s windows of continuous speech from negatives/precise
(the pool training uses for `_unknown_`) and from the TRAINING speakers of negatives/speech
(training/speech_negatives.py), some with the window ending the phrase lag earlier (phrase heads
read two windows, kws_app/words/phrases.py), filling the app's 20,000 rows: a word's threshold
is the tail of these, and more rows make it firmer. Half the speech windows (TrainerConfig's
noisy_fraction) are mixed with generated noise at the trainer's SNRs, as the trainer noises a
word's positives: with only clean speech among the negatives, a head could learn "noisy speech"
as the word. The reserved false-accept folder
negatives/precise/heysavant/not-wake-words is never read. Rows are labelled with their word so a
custom word with the same name as a negative word (e.g. "nine") leaves those rows out.
The file also carries the heads' within-word whitening (`within_whitening`), made from
TRAINING-split clips of the command words (docs/benchmarks.md, "Within-word whitening") and of
the words of any `--whitening-words` folder (e.g. bench/cut_speech_words.py's words of the
training speakers: many more words, each said by several real voices).
Embeddings and the base model's probabilities (a custom word's threshold is chosen on the mass it
may take from them, kws_app/words/calibration.py) are stored as float16 with the model's
SHA-256: the app ignores the file for any other model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from words_data import (
    BACKGROUND,
    COMMAND_WORDS,
    DEFAULT_DATA_DIR,
    RESERVED_NEGATIVES,
    RESERVED_WORDS,
    SILENCE,
    SPEECH_NEGATIVES,
    by_label,
    read_clips,
    read_word_dir,
)
from words_fewshot import add_embedder_flag, load_models

from kws_app.audio.files import list_audio_files, read_audio_at
from kws_app.dsp.frontend import fit_length
from kws_app.dsp.levels import db_to_amplitude
from kws_app.dsp.noise import NOISE_COLOURS
from kws_app.paths import assets_dir, default_model_path
from kws_app.words.head import SPREAD_FLOOR
from kws_app.words.phrases import PhraseConfig
from kws_app.words.trainer import (
    EARLIER_EMBEDDINGS_KEY,
    EARLIER_LAG_KEY,
    EARLIER_ROWS_KEY,
    MAX_SHIPPED_NEGATIVES,
    NEGATIVES_FILE_NAME,
    NEGATIVES_FORMAT,
    PROBABILITIES_KEY,
    WHITENING_KEY,
    Augmenter,
    TrainerConfig,
    WordTrainer,
    generated_noise,
    model_id_of,
)
from training.speech_negatives import TRAINING, speech_negatives

COMMANDS_PER_WORD = 60
SILENCE_CLIPS = 120
BACKGROUND_CROPS = 80
MAX_PER_OTHER_WORD = 100
# Continuous speech holding none of the words: 1 s windows every WINDOW_HOP_S from the precise
# negatives that training uses for `_unknown_`, never from the reserved false-accept folder.
SPEECH_DIR = Path("negatives") / "precise"
WINDOW_HOP_S = 0.5
MAX_SPEECH_WINDOWS = 3000
SPEECH_LABEL = "_speech_"
# Continuous speech of many speakers (SPEECH_NEGATIVES, training speakers only): where a custom
# word's false accepts happen, so most of its held-out negatives come from here.
MANY_SPEAKERS_WINDOWS = 17300
MANY_SPEAKERS_WINDOWS_PER_RECORDING = 8
# Of those, this many also keep the window ending the phrase lag earlier in the same recording
# (kws_app/words/phrases.py): running speech as a phrase head's two windows see it.
PHRASE_SPEECH_ROWS = 4000
# Generated noise of each colour, this many clips long, to mix into speech windows.
NOISE_CLIPS_LONG = 4
# TRAINING-split clips of each command word whose spread, word by word, is what the heads'
# whitening discounts (`within_whitening`).
WHITENING_CLIPS_PER_WORD = 400
# The whitening's share of the identity: 1 would leave the heads' input as it is.
WHITENING_SHRINK = 0.8


def within_whitening(
    embeddings: np.ndarray, labels: np.ndarray, negatives: np.ndarray, shrink: float
) -> np.ndarray:
    """The matrix a head's standardised embeddings are multiplied by before it is fitted.

    Five takes cannot show which directions of the embedding change from one speaker or room to
    the next, but thousands of speakers saying the same command words can: their within-word
    scatter S. The heads' inputs are multiplied by ((1 - shrink) S + shrink I)^(-1/2) (S scaled
    to a unit mean diagonal), so the L2 penalty costs more along those directions and a head
    leans less on them; scaled so the negatives keep a unit mean variance, as standardisation
    leaves them, which keeps the penalty's strength.
    """
    centre, spread = negatives.mean(axis=0), negatives.std(axis=0) + SPREAD_FLOOR
    standard = (embeddings - centre) / spread
    names = np.unique(labels)
    scatter = np.zeros((standard.shape[1],) * 2)
    for name in names:
        rows = standard[labels == name]
        rows = rows - rows.mean(axis=0)
        scatter += rows.T @ rows
    scatter /= np.mean(np.diag(scatter))
    mixed = (1.0 - shrink) * scatter + shrink * np.eye(scatter.shape[0])
    values, vectors = np.linalg.eigh(mixed)
    transform = (vectors * values**-0.5) @ vectors.T
    total = np.cov(((negatives - centre) / spread).T)
    transform *= np.sqrt(transform.shape[0] / np.trace(transform.T @ total @ transform))
    return transform.astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    add_embedder_flag(parser)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=assets_dir() / NEGATIVES_FILE_NAME)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--many-speakers-windows",
        type=int,
        default=MANY_SPEAKERS_WINDOWS,
        help="1 s windows of the training speakers' running speech (negatives/speech)",
    )
    parser.add_argument(
        "--windows-per-recording",
        type=int,
        default=MANY_SPEAKERS_WINDOWS_PER_RECORDING,
        help="at most this many of those windows from one recording",
    )
    parser.add_argument(
        "--whitening-shrink",
        type=float,
        default=WHITENING_SHRINK,
        help="the heads' within-word whitening's share of the identity (1: no whitening, none "
        "stored)",
    )
    parser.add_argument(
        "--whitening-words",
        type=Path,
        nargs="*",
        default=[],
        help="folder-per-word directories whose words' spread the whitening also discounts",
    )
    parser.add_argument(
        "--whitening-exclude",
        nargs="*",
        default=[],
        help="words of those folders left out (words a benchmark will learn)",
    )
    parser.add_argument(
        "--noisy-fraction",
        type=float,
        default=TrainerConfig().noisy_fraction,
        help="share of speech windows mixed with noise as the word trainer noises its positives "
        "(0 keeps every speech window clean)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    model, model_paths = load_models(args.model, args.embedding_model)
    trainer = WordTrainer(model, model_paths, negatives_path=Path("/nonexistent"))
    clip_samples = model.frontend.clip_samples
    rate = model.frontend.sample_rate
    groups = by_label([c for c in read_clips(args.data_dir) if c.split == "training"])

    waves: list[np.ndarray] = []
    labels: list[str] = []
    for label, clips in sorted(groups.items()):
        if label == BACKGROUND or label in RESERVED_WORDS:
            continue
        limit = {SILENCE: SILENCE_CLIPS}.get(
            label, COMMANDS_PER_WORD if label in COMMAND_WORDS else MAX_PER_OTHER_WORD
        )
        chosen = rng.permutation(len(clips))[:limit]
        for index in chosen:
            waves.append(read_audio_at(clips[index].path, rate))
            labels.append(label)
    noises = [read_audio_at(c.path, rate) for c in groups.get(BACKGROUND, [])]
    for _ in range(BACKGROUND_CROPS if noises else 0):
        noise = noises[int(rng.integers(len(noises)))]
        start = int(rng.integers(0, noise.size - clip_samples))
        gain = db_to_amplitude(rng.uniform(-30.0, 0.0))
        waves.append((noise[start : start + clip_samples] * gain).astype(np.float32))
        labels.append(BACKGROUND)

    speech_root = args.data_dir / SPEECH_DIR
    reserved = (args.data_dir / RESERVED_NEGATIVES).resolve()
    speech_files = [
        path
        for path in list_audio_files(speech_root)
        if not path.resolve().is_relative_to(reserved)
    ]
    hop = int(WINDOW_HOP_S * rate)
    windows: list[np.ndarray] = []
    for path in speech_files:
        wave = read_audio_at(path, rate)
        for start in range(0, max(1, wave.size - clip_samples + 1), hop):
            windows.append(wave[start : start + clip_samples])
    for index in rng.permutation(len(windows))[:MAX_SPEECH_WINDOWS]:
        waves.append(windows[index])
        labels.append(SPEECH_LABEL)

    recordings = speech_negatives(args.data_dir / SPEECH_NEGATIVES, TRAINING)
    phrase = PhraseConfig()
    lag = phrase.lag_samples(model.frontend)
    many: list[np.ndarray] = []
    earlier_waves: list[np.ndarray] = []
    earlier_rows: list[int] = []
    for index in rng.permutation(len(recordings)):
        if len(many) >= args.many_speakers_windows:
            break
        wave = read_audio_at(recordings[index].path, rate)
        if wave.size < clip_samples:
            continue
        starts = rng.integers(0, wave.size - clip_samples + 1, args.windows_per_recording)
        for start in starts[: args.many_speakers_windows - len(many)]:
            if len(earlier_rows) < PHRASE_SPEECH_ROWS and start >= lag:
                earlier_rows.append(len(waves) + len(many))
                earlier_waves.append(wave[start - lag : start - lag + clip_samples])
            many.append(wave[start : start + clip_samples])
    speech_rows = [i for i, label in enumerate(labels) if label == SPEECH_LABEL]
    # The trainer's own noises (generated colours; the user's room is not known here), not the
    # background recordings: those are also the bed of the benchmark streams.
    generated = [
        generated_noise(colour, NOISE_CLIPS_LONG * clip_samples, rng) for colour in NOISE_COLOURS
    ]
    augmenter = Augmenter(model.frontend, TrainerConfig(), rng)
    noisy = rng.random(len(speech_rows) + len(many)) < args.noisy_fraction

    def noised(wave: np.ndarray, mixed: bool) -> np.ndarray:
        return augmenter.mix(fit_length(wave, clip_samples), generated) if mixed else wave

    for row, mixed in zip(speech_rows, noisy[: len(speech_rows)], strict=True):
        waves[row] = noised(waves[row], mixed)
    many_noisy = noisy[len(speech_rows) :]
    many = [noised(wave, mixed) for wave, mixed in zip(many, many_noisy, strict=True)]
    # A phrase row's earlier window shares its row's draw: noise over both windows or neither.
    earlier_waves = [
        noised(wave, many_noisy[row - len(waves)])
        for wave, row in zip(earlier_waves, earlier_rows, strict=True)
    ]
    waves += many
    labels += [SPEECH_LABEL] * len(many)
    if len(waves) > MAX_SHIPPED_NEGATIVES:
        raise SystemExit(f"{len(waves)} rows: the app reads at most {MAX_SHIPPED_NEGATIVES}")

    probabilities, embeddings = trainer.outputs(waves)
    _, earlier_embeddings = trainer.outputs(earlier_waves)
    whitening: dict[str, np.ndarray] = {}
    if args.whitening_shrink < 1.0:
        kept_out = set(args.whitening_exclude) | set(COMMAND_WORDS)
        word_clips = [(word, groups[word]) for word in COMMAND_WORDS] + [
            (word, clips)
            for folder in args.whitening_words
            for word, clips in sorted(by_label(read_word_dir(folder, TRAINING)).items())
            if word not in kept_out
        ]
        whitening_waves, whitening_labels = [], []
        for word, clips in word_clips:
            for index in rng.permutation(len(clips))[:WHITENING_CLIPS_PER_WORD]:
                whitening_waves.append(read_audio_at(clips[index].path, rate))
                whitening_labels.append(word)
        whitening[WHITENING_KEY] = within_whitening(
            trainer.embed(whitening_waves),
            np.array(whitening_labels),
            # Standardised by the negatives as the app reads them back: rounded to float16.
            embeddings.astype(np.float16).astype(np.float64),
            args.whitening_shrink,
        )
    names = sorted(set(labels))
    np.savez_compressed(
        args.out,
        format=np.array(NEGATIVES_FORMAT),
        model_id=np.array(model_id_of(model_paths)),
        embeddings=embeddings.astype(np.float16),
        **{PROBABILITIES_KEY: probabilities.astype(np.float16)},
        label_index=np.array([names.index(label) for label in labels], dtype=np.int16),
        label_names=np.array(names),
        **{
            EARLIER_ROWS_KEY: np.array(earlier_rows, dtype=np.int32),
            EARLIER_EMBEDDINGS_KEY: earlier_embeddings.astype(np.float16),
            EARLIER_LAG_KEY: np.array(phrase.lag_ms),
        },
        **whitening,
    )
    counts = {name: labels.count(name) for name in names}
    print(
        f"wrote {args.out}: {len(labels)} x {embeddings.shape[1]} embeddings, "
        f"{len(earlier_rows)} speech rows with their window {phrase.lag_ms} ms earlier; {counts}"
    )
    print(f"size {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
