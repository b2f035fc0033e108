"""Cut real words out of the transcribed speech: word classes with many speakers for the word task.

Usage: .venv/bin/python bench/cut_speech_words.py --out runs/speech_words [--min-speakers 4]

The word embedder's word task (training/contrastive.py) needs many words, each said by many real
speakers; the Speech Commands folders hold about twenty such words and espeak-ng's voices are not
real speakers. The speech negatives (../shared/data/negatives/speech) hold hours of read English
by hundreds of speakers, with transcripts but without word timings, and no forced aligner can be
installed here. So this script aligns each transcript the way TTS-based aligners do (aeneas): it
speaks every word once with espeak-ng, joins the words' features into a template whose word
boundaries are known, and lays the template on the recording with dynamic time warping over
mean-normalised cepstra. A word is kept where the warp stays close to it (its own path cost), cut
with a margin, centred in one clip and written as `<word>/<speaker>_nohash_<n>.wav`, for
`python -m training train --contrastive-word-dirs`.

Only speakers of the speech split's training part are read (training/speech_negatives.py), so
validation and test speakers stay unheard; `--split validation` cuts the validation speakers'
words instead, for a custom-word benchmark whose one-speaker sets need a speaker who says a word
five times (bench/words_fewshot.py --words-dir; such words must then be left out of training).
Command words, the dataset's other words (the custom-word benchmark's validation and reserved
words) and their plurals are never written.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from make_near_miss import find_espeak, speak
from make_word_classes import centred
from scipy.fft import dct
from scipy.spatial.distance import cdist
from words_data import COMMAND_WORDS, DEFAULT_DATA_DIR, SPEECH_NEGATIVES, speaker_name

from kws_app.audio.files import AudioFileError, read_audio_at
from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.dsp.frontend import compute_features
from kws_app.words.trainer import word_span
from training.data import word_folders
from training.speech_negatives import (
    SPLITS,
    TRAINING,
    SpeechRecording,
    SpeechSplit,
    read_manifest,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
ENGLISH = ("librispeech", "librispeech_with_command_words", "speechocean762", "an4")
TEMPLATE_VOICE = "en-us"
TEMPLATE_WORDS_PER_MINUTE = 160
TEMPLATE_PITCH = 50
CEPSTRA = 13  # cepstral coefficients 1..CEPSTRA (c0, the level, is left out)
# Dynamic time warping steps (rows = recording frames, columns = template frames): diagonal, or
# two frames of one against one of the other, so the warp bends at most 2x either way.
STEPS = ((1, 1), (1, 2), (2, 1))
MARGIN_MS = 60  # kept on each side of an aligned word, for boundaries a few frames off
MIN_WORD_MS = 250
MIN_LETTERS = 4
# Words that sound like a command word: cut as negatives they would teach the model that the
# command itself is `_unknown_`, so they are never written.
COMMAND_HOMOPHONES = frozenset({"know", "write", "rite", "wright"})
CHECK_SHIFTS_MS = (-300, -150, -80, 0, 80, 150, 300)
WORD_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class AlignedWord:
    word: str
    start: int  # samples into the recording
    end: int
    cost: float  # mean frame distance along the warp inside the word


def words_of(transcript: str) -> list[str]:
    """The transcript's words, lower case, punctuation dropped (AN4's spelt letters stay words)."""
    return WORD_PATTERN.findall(transcript.lower())


def cepstra(mel: FloatArray) -> FloatArray:
    """Mean- and variance-normalised cepstra of log-mel frames: the normalisation takes out most
    of what a voice and a microphone add, which the warp must not follow."""
    coefficients = dct(mel, type=2, norm="ortho", axis=1)[:, 1 : CEPSTRA + 1]
    centre = coefficients - coefficients.mean(axis=0)
    return (centre / (centre.std(axis=0) + np.finfo(np.float32).eps)).astype(np.float32)


def warp(cost: FloatArray) -> npt.NDArray[np.int64]:
    """For each template frame (column), the first recording frame (row) the cheapest warp from
    corner to corner maps to it. Rows are filled one at a time: no step stays in its row, so each
    row depends on earlier rows only and is one vectorised update."""
    rows, columns = cost.shape
    total = np.full((rows, columns), np.inf, dtype=np.float64)
    choice = np.zeros((rows, columns), dtype=np.int8)
    total[0, 0] = cost[0, 0]
    for i in range(1, rows):
        candidates = np.full((len(STEPS), columns), np.inf)
        for k, (di, dj) in enumerate(STEPS):
            if i - di >= 0:
                candidates[k, dj:] = total[i - di, : columns - dj]
        best = candidates.argmin(axis=0)
        total[i] = candidates[best, np.arange(columns)] + cost[i]
        choice[i] = best
    if not np.isfinite(total[-1, -1]):
        raise ValueError("the recording and the template are too different in length to warp")
    first_row = np.full(columns, rows - 1, dtype=np.int64)
    i, j = rows - 1, columns - 1
    while i > 0 or j > 0:
        first_row[j] = i
        di, dj = STEPS[choice[i, j]]
        if dj == 2:
            first_row[j - 1] = i  # the skipped column maps with the one beside it
        i, j = i - di, j - dj
    first_row[0] = 0
    return first_row


def stretch(features: FloatArray, frames: int) -> FloatArray:
    """The template resampled in time to the recording's length, so the warp's 2x bound is
    around the recording's own speaking rate rather than espeak-ng's."""
    source = np.linspace(0.0, 1.0, features.shape[0])
    target = np.linspace(0.0, 1.0, frames)
    return np.stack(
        [np.interp(target, source, features[:, c]) for c in range(features.shape[1])], axis=1
    ).astype(np.float32)


class Templates:
    """Each word spoken once by espeak-ng, trimmed to its loud part, as log-mel frames (a
    sentence's template is normalised whole, once its words are joined)."""

    def __init__(self, espeak: str, frontend: FrontendConfig, scratch: Path) -> None:
        self._espeak = espeak
        self._frontend = frontend
        self._scratch = scratch
        self._cache: dict[str, FloatArray] = {}

    def __call__(self, word: str) -> FloatArray:
        if word not in self._cache:
            path = self._scratch / "word.wav"
            speak(
                self._espeak,
                word,
                TEMPLATE_VOICE,
                TEMPLATE_WORDS_PER_MINUTE,
                TEMPLATE_PITCH,
                path,
            )
            wave = read_audio_at(path, self._frontend.sample_rate)
            start, end = word_span(wave, self._frontend.sample_rate)
            self._cache[word] = compute_features(wave[start:end], self._frontend)
        return self._cache[word]


def align(
    wave: FloatArray, words: list[str], templates: Templates, frontend: FrontendConfig
) -> list[AlignedWord]:
    """Where each word of the transcript lies in the recording's spoken part."""
    start, end = word_span(wave, frontend.sample_rate)
    spoken = wave[start:end]
    mels = [templates(w) for w in words]
    bounds = np.cumsum([0] + [m.shape[0] for m in mels])
    joined = np.concatenate(mels, axis=0)
    recording = cepstra(compute_features(spoken, frontend))
    # The template is normalised over the whole sentence, as the recording is.
    template = cepstra(stretch(joined, recording.shape[0]))
    scale = recording.shape[0] / joined.shape[0]
    cost = cdist(recording, template)
    first_row = warp(cost.astype(np.float32))
    hop = frontend.hop_samples
    aligned = []
    columns = template.shape[0]
    for k, word in enumerate(words):
        a = min(int(round(bounds[k] * scale)), columns - 1)
        b = min(int(round(bounds[k + 1] * scale)), columns - 1)
        rows = first_row[a : b + 1]
        inside = float(cost[rows, np.arange(a, b + 1)].mean())
        first, last = start + int(rows[0]) * hop, start + int(rows[-1]) * hop
        aligned.append(AlignedWord(word, first, last, inside))
    return aligned


def cut_word(
    wave: FloatArray, word: AlignedWord, frontend: FrontendConfig, shift_ms: int = 0
) -> FloatArray:
    """The aligned word with MARGIN_MS either side, moved by `shift_ms` (the alignment check)."""
    margin = frontend.sample_rate * MARGIN_MS // MS_PER_SECOND
    moved = shift_ms * frontend.sample_rate // MS_PER_SECOND
    first = max(0, word.start + moved - margin)
    return wave[first : max(first, word.end + moved + margin)]


def excluded_words(data_dir: Path) -> set[str]:
    """Every word of the Speech Commands folders (commands, validation and reserved words) and
    the command words' homophones."""
    return {p.name for p in word_folders(data_dir / "speech_commands")} | COMMAND_HOMOPHONES


def keep(word: str, excluded: set[str], min_letters: int = MIN_LETTERS) -> bool:
    singular = word[:-1] if word.endswith("s") else word
    return len(word) >= min_letters and word not in excluded and singular not in excluded


Take = tuple[AlignedWord, str, Path]


def spread_over_speakers(takes: list[Take], per_speaker: int) -> list[Take]:
    """The best-aligned takes, at most `per_speaker` of each speaker, the speakers' best first:
    a reader who says a word thirty times must not make the word his voice."""
    rank: dict[str, int] = defaultdict(int)
    ordered = []
    for take in sorted(takes, key=lambda t: t[0].cost):
        if rank[take[1]] < per_speaker:
            ordered.append((rank[take[1]], take[0].cost, take))
            rank[take[1]] += 1
    return [take for _, _, take in sorted(ordered, key=lambda o: (o[0], o[1]))]


def transcribed(folder: Path, part: str, split: SpeechSplit | None = None) -> list[SpeechRecording]:
    """The English recordings with a transcript of one part of the speech split (a speaker's
    recordings all fall in one part), those that say command words included."""
    split = split or SpeechSplit()
    return [
        r
        for r in read_manifest(folder) + read_manifest(folder, saying_commands=True)
        if r.corpus in ENGLISH and split.split_of(r.speaker) == part and r.transcript
    ]


def check_alignment(
    recordings: list[SpeechRecording],
    templates: Templates,
    model_path: Path,
    frontend: FrontendConfig,
    shifts_ms: tuple[int, ...],
) -> dict[int, list[bool]]:
    """Whether the model hears each command word of the recordings in a cut moved by each shift:
    if the aligner is right, the unmoved cut is heard most often."""
    from kws_app.inference.model import OnnxModel

    model = OnnxModel(model_path, prefer_gpu=False)
    heard: dict[int, list[bool]] = {shift: [] for shift in shifts_ms}
    for recording in recordings:
        wave = read_audio_at(recording.path, frontend.sample_rate)
        for word in align(wave, words_of(recording.transcript), templates, frontend):
            if word.word not in COMMAND_WORDS:
                continue
            for shift in shifts_ms:
                cut = cut_word(wave, word, frontend, shift)
                if cut.shape[0] < frontend.window_samples:
                    continue
                scores = model.predict(compute_features(centred(cut, frontend), frontend))[0]
                heard[shift].append(model.labels[int(scores.argmax())] == word.word)
    return heard


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--min-speakers", type=int, default=4, help="speakers a word needs")
    parser.add_argument("--max-clips", type=int, default=40, help="clips kept of one word")
    parser.add_argument(
        "--max-per-speaker", type=int, default=2, help="clips of one word kept from one speaker"
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default=TRAINING,
        help="whose words to cut: the speech split's training speakers (for training) or "
        "another part's (for a benchmark)",
    )
    parser.add_argument("--limit", type=int, default=0, help="recordings read (0: all)")
    parser.add_argument(
        "--min-letters",
        type=int,
        default=MIN_LETTERS,
        help="shortest word kept, in letters (short words are the nearest misses of the command "
        "words, for negatives; the word task wants longer ones)",
    )
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=[],
        metavar="WORD",
        help="more words never written (e.g. a benchmark's one-speaker words)",
    )
    parser.add_argument(
        "--max-cost-quantile",
        type=float,
        default=0.7,
        help="words whose warp cost is above this quantile of all words are dropped",
    )
    parser.add_argument(
        "--check",
        type=int,
        default=0,
        metavar="N",
        help="instead of cutting: align N training recordings that say command words, and print "
        "how often --model hears each command word cut where aligned and cut moved",
    )
    parser.add_argument("--model", type=Path, default=Path("assets/kws-default.onnx"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    espeak = find_espeak()
    if espeak is None:
        return 2
    frontend = FrontendConfig()
    excluded = excluded_words(args.data_dir) | {w.lower() for w in args.exclude}
    recordings = transcribed(args.data_dir / SPEECH_NEGATIVES, args.split)
    if args.check:
        saying = [r for r in recordings if any(w in COMMAND_WORDS for w in words_of(r.transcript))]
        with tempfile.TemporaryDirectory() as scratch:
            templates = Templates(espeak, frontend, Path(scratch))
            heard = check_alignment(
                saying[: args.check], templates, args.model, frontend, CHECK_SHIFTS_MS
            )
        for shift, hits in heard.items():
            share = float(np.mean(hits)) if hits else 0.0
            print(f"cut moved {shift:+5d} ms: {share:6.1%} of {len(hits)} command words heard")
        return 0
    if args.limit:
        recordings = recordings[: args.limit]
    found: dict[str, list[Take]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        templates = Templates(espeak, frontend, Path(scratch))
        for n, recording in enumerate(recordings):
            words = words_of(recording.transcript)
            if not any(keep(w, excluded, args.min_letters) for w in words):
                continue
            try:
                wave = read_audio_at(recording.path, frontend.sample_rate)
                aligned = align(wave, words, templates, frontend)
            except (AudioFileError, ValueError) as error:
                logger.warning("skipped %s: %s", recording.path.name, error)
                continue
            for word in aligned:
                if keep(word.word, excluded, args.min_letters):
                    found[word.word].append((word, recording.speaker, recording.path))
            if n % 200 == 0:
                logger.info("%d / %d recordings, %d words", n, len(recordings), len(found))
    costs = np.array([w.cost for takes in found.values() for w, _, _ in takes])
    ceiling = float(np.quantile(costs, args.max_cost_quantile)) if costs.size else 0.0
    shortest = frontend.sample_rate * MIN_WORD_MS // MS_PER_SECOND
    classes = 0
    # Clips to write, by the recording they come from, so that each recording is read once.
    cuts: dict[Path, list[tuple[AlignedWord, Path]]] = defaultdict(list)
    for word, takes in sorted(found.items()):
        good = [
            t
            for t in takes
            if t[0].cost <= ceiling and shortest <= t[0].end - t[0].start <= frontend.clip_samples
        ]
        chosen = spread_over_speakers(good, args.max_per_speaker)[: args.max_clips]
        if len({speaker for _, speaker, _ in chosen}) < args.min_speakers:
            continue
        classes += 1
        (args.out / word).mkdir(parents=True, exist_ok=True)
        for n, (aligned, speaker, path) in enumerate(chosen):
            name = f"{speaker_name(speaker)}_nohash_{n}.wav"
            cuts[path].append((aligned, args.out / word / name))
    for path, words in cuts.items():
        wave = read_audio_at(path, frontend.sample_rate)
        for aligned, clip_path in words:
            clip = centred(cut_word(wave, aligned, frontend), frontend)
            sf.write(clip_path, clip, frontend.sample_rate)
    written = sum(len(words) for words in cuts.values())
    logger.info("wrote %d clips of %d words to %s", written, classes, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
