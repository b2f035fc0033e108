"""Few-shot custom words: detection, confusion and false accepts of words learned from 5 clips.

Usage: .venv/bin/python bench/words_fewshot.py [--model assets/kws-default.onnx]
           [--negatives assets/words-negatives.npz] [--data-dir ../shared/data] [--trials 3]
           [--sweep | --pass-rates R ...]

For each word reserved from all training (words_data.RESERVED_WORDS; --words for others), a head
is learned exactly as the app learns one (WordTrainer.train_audio, which also calibrates the
word's own threshold) from 5 clips, either from 5 different speakers (--trials draws) or, where a
speaker recorded the word 5 times, from that one speaker. It is then scored on streams replayed
through the app's pipeline and decoder (default DecoderConfig):
- detection: share of the word's clips from OTHER speakers (speaker-disjoint) on which it fires
  (each clip in its own 3 s slot, in -60 dBFS noise);
- base-on-new: share of those clips on which a base (command) word fires, with the custom word
  and, for reference, with the base model alone;
- new-on-base: share of command-word clips (testing split) on which the custom word fires, and
  the command words' own detection rate with and without the custom word;
- false accepts per hour of the custom word on the reserved negatives: --negatives-wav (the
  96-minute test_neg stream of bench/stream_benchmark.py: test speakers of negatives/speech and
  the reserved precise folder) or, without it, negatives/precise/heysavant/not-wake-words alone.
  Those sentences were chosen to hold no command word, but they may say the custom word ("how
  big is your house"): where the stream's ground-truth CSV lies beside it, a second rate leaves
  out the recordings whose transcript holds the word (or its plural), their time and the
  detections in them, since firing there is the word heard, not a false accept;
- latency: from the end of the clip's spoken part (training.stream_data.speech_extent, as the
  command-word streams measure it) to the word's first detection in its slot;
- own voice (one-speaker sets only): share of the same speaker's other takes of the word (the
  ones not learned from) on which it fires, and its false accepts per hour while that speaker
  talks in the negatives stream (their recordings that do not say the word): what a user meets
  who taught the word in their own voice. The takes' streams draw from a generator of their
  own, so every other figure stays what it was without them.
With `--own-speech SPLIT`, a one-speaker set also gets what the Words dialog's optional "your
speech" step records: SPEECH_SECONDS of that speaker's own sentences, from the ones of that
split that say a command word (no negatives stream holds those) and not the custom word; the
trainer uses it as the app does (WordAudio.background).
Words are decoded at the app's operating points (the model's per-word thresholds plus each custom
word's own, at sensitivity --threshold), as the app does. Only a base model trained with
RESERVED_WORDS excluded (docs/benchmarks.md) makes these words truly unheard.

The base model runs once per stream (its probabilities and embeddings are cached per stride);
each head is applied to the cached embeddings with CustomWordScorer.scores_from_outputs and the
rows go through RecognizeCommands, which is what StreamingPipeline does stride by stride.
Decoder: the app's defaults (config.py) unless --threshold/--average-window-ms/... say otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from transcripts import SpokenSpan, said_intervals, says, speaker_spans, spoken_spans, within
from words_data import (
    COMMAND_WORDS,
    DEFAULT_DATA_DIR,
    RESERVED_NEGATIVES,
    RESERVED_WORDS,
    SPEECH_NEGATIVES,
    VALIDATION_WORDS,
    ClipRef,
    by_label,
    read_clips,
    read_word_dir,
    speaker_name,
)

from kws_app.audio.files import list_audio_files, read_audio_at
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import add_setting_flags, config_from_args
from kws_app.dsp.levels import db_to_amplitude
from kws_app.inference.decoder import RecognizeCommands
from kws_app.inference.model import OnnxModel
from kws_app.inference.operating_points import OperatingPoints
from kws_app.inference.pipeline import (
    StreamingPipeline,
    is_command_label,
    operating_points_of,
    replay_outputs,
)
from kws_app.paths import assets_dir, default_model_path
from kws_app.words.calibration import LOGIT_SHIFT_KEY, WINDOW_KEY, WordCalibrationConfig
from kws_app.words.embedder import PairedModel, identity_paths, load_embedder, words_model
from kws_app.words.head import WordHead
from kws_app.words.scorer import DEFAULT_COMMAND_SHARE, CustomWordScorer, heard_span_ms
from kws_app.words.synthetic import find_espeak
from kws_app.words.takes import SPEECH_SECONDS
from kws_app.words.trainer import NEGATIVES_FILE_NAME, TrainerConfig, WordAudio, WordTrainer
from training.speech_negatives import SPLITS, SpeechRecording, speech_negatives
from training.stream_data import speech_extent

logger = logging.getLogger(__name__)

RATE = 16000
EXAMPLES = 5
MIN_WORD_CLIPS = 10
# Each clip sits at the start of a 3 s slot and detections are matched per slot. The gap must let
# the decoder report silence between two clips of the same word (its suppression time is 1 s after
# a detection), as a user pauses between two commands; 2 s slots left too little room for that.
SLOT_S = 3.0
# Seeds the own-voice streams' generator beside --seed (any constant other than a draw of it).
OWN_VOICE_STREAM = 1
NEGATIVE_GAP_S = 0.3
COMMAND_CLIPS_PER_WORD = 30
NOISE_DBFS = -60.0
REPLAY_BLOCK_S = 10
SECONDS_PER_HOUR = 3600.0
LATENCY_PERCENTILE = 95
# Calibration strictness tried by --sweep: the share of held-out negatives a threshold may pass.
SWEEP_PASS_RATES = (0.0005, 0.001, 0.002, 0.005, 0.01)


@dataclass
class CachedStream:
    """Per-stride base-model outputs for one replayed stream, and where its clips are."""

    times_ms: np.ndarray
    probabilities: np.ndarray
    embeddings: np.ndarray
    slot_labels: list[str]
    seconds: float
    spoken: list[SpokenSpan] = field(default_factory=list)
    # Per slot, where its clip's spoken part ends (ms into the stream); None where no word is
    # audible (training.stream_data.speech_extent, as the command-word streams measure it).
    word_ends_ms: list[int | None] = field(default_factory=list)

    def earlier(self, lag_ms: int) -> np.ndarray:
        """Each stride's embedding of the window ending `lag_ms` earlier (a phrase head's other
        window; the first strides, which have none yet, repeat the first row)."""
        stride_ms = int(self.times_ms[1] - self.times_ms[0]) if self.times_ms.size > 1 else lag_ms
        if lag_ms % stride_ms:
            raise ValueError(f"lag {lag_ms} ms is not a multiple of the {stride_ms} ms stride")
        rows = lag_ms // stride_ms
        shifted = np.concatenate((np.repeat(self.embeddings[:1], rows, axis=0), self.embeddings))
        return shifted[: self.embeddings.shape[0]]


class RecordingModel:
    """A Scorer that passes the base model through and keeps its outputs."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.labels = model.labels
        self.frontend = model.frontend
        self.probabilities: list[np.ndarray] = []
        self.embeddings: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> np.ndarray:
        probabilities, embeddings = self.model.run(features)
        self.probabilities.append(probabilities)
        self.embeddings.append(embeddings)
        return probabilities


def _noise(samples: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal(samples) * db_to_amplitude(NOISE_DBFS)).astype(np.float32)


def run_stream(
    model: OnnxModel, audio: np.ndarray, slot_labels: list[str], stream: StreamConfig
) -> CachedStream:
    recorder = RecordingModel(model)
    pipeline = StreamingPipeline(recorder, RATE, stream)
    times = [
        stride.time_ms
        for output in replay_outputs(pipeline, audio, REPLAY_BLOCK_S * RATE)
        for stride in output.strides
    ]
    return CachedStream(
        np.array(times),
        np.concatenate(recorder.probabilities),
        np.concatenate(recorder.embeddings),
        slot_labels,
        audio.size / RATE,
    )


def slot_stream(
    model: OnnxModel, clips: list[ClipRef], rng: np.random.Generator, stream: StreamConfig
) -> CachedStream:
    slot = int(SLOT_S * RATE)
    audio = _noise(slot * (len(clips) + 1), rng)
    ends: list[int | None] = []
    for index, clip in enumerate(clips):
        wave = read_audio_at(clip.path, RATE)[:RATE]
        audio[index * slot : index * slot + wave.size] += wave
        extent = speech_extent(wave, RATE)
        ends.append(None if extent is None else (index * slot + extent[1]) * 1000 // RATE)
    cached = run_stream(model, audio, [clip.label for clip in clips], stream)
    cached.word_ends_ms = ends
    return cached


def negatives_stream(
    model: OnnxModel,
    data_dir: Path,
    rng: np.random.Generator,
    stream: StreamConfig,
    wav: Path | None = None,
) -> CachedStream:
    if wav is not None:
        cached = run_stream(model, read_audio_at(wav, RATE), [], stream)
        cached.spoken = spoken_spans(wav.with_suffix(".csv"), data_dir)
        return cached
    files = list_audio_files(data_dir / RESERVED_NEGATIVES)
    gap = _noise(int(NEGATIVE_GAP_S * RATE), rng)
    parts = [gap]
    for path in files:
        parts += [read_audio_at(path, RATE), _noise(int(NEGATIVE_GAP_S * RATE), rng)]
    return run_stream(model, np.concatenate(parts), [], stream)


def unsaid_false_accepts(
    detections: list[tuple[int, str]],
    stream: CachedStream,
    word: str,
    span_ms: tuple[float, float] | None = None,
) -> tuple[int, float]:
    """Detections outside the recordings that say `word`, and the seconds left outside them;
    within `span_ms` (start, end) of the stream where given, else over all of it."""
    start, end = span_ms or (0.0, stream.seconds * 1000)
    said = said_intervals(stream.spoken, word)
    outside = [t for t, _ in detections if start <= t < end and not within(t, said)]
    said_ms = sum(max(0.0, min(b, end) - max(a, start)) for a, b in said)
    return len(outside), (end - start - said_ms) / 1000


def false_alarm_audio(
    detections: list[tuple[int, str]],
    stream: CachedStream,
    word: str,
    audio: np.ndarray,
    count: int,
    seconds: float,
) -> list[np.ndarray]:
    """The audio before each of the first `count` false accepts in the stream's first half
    (`seconds` of it, as much as the model's window and the word's averaging window span): what
    a user who says "that was not my word" would hand back to the trainer."""
    half_ms = stream.seconds * 1000 / 2
    said = said_intervals(stream.spoken, word)
    times = [t for t, _ in detections if t < half_ms and not within(t, said)][:count]
    length = int(seconds * RATE)
    return [audio[max(0, t * RATE // 1000 - length) : t * RATE // 1000] for t in times]


def decode(
    labels: tuple[str, ...],
    rows: np.ndarray,
    times: np.ndarray,
    config: DecoderConfig,
    points: OperatingPoints | None,
) -> list[tuple[int, str]]:
    decoder = RecognizeCommands(labels, config, points)
    found = []
    for row, time_ms in zip(rows, times, strict=True):
        decision = decoder.process(row, int(time_ms))
        if decision.is_new_command and is_command_label(decision.label):
            found.append((int(time_ms), decision.label))
    return found


def per_slot(detections: list[tuple[int, str]], slots: int) -> list[set[str]]:
    fired: list[set[str]] = [set() for _ in range(slots)]
    for time_ms, label in detections:
        index = int(time_ms // (SLOT_S * 1000))
        if index < slots:
            fired[index].add(label)
    return fired


def detections_in(
    scorer: CustomWordScorer | None,
    model: OnnxModel,
    stream: CachedStream,
    decoder: DecoderConfig,
) -> list[tuple[int, str]]:
    """(time, label) of every word the app would show for this stream."""
    if scorer is None:
        rows, labels, points = stream.probabilities, model.labels, operating_points_of(model)
    else:
        earlier = {lag: stream.earlier(lag) for lag in scorer.phrase_lags_ms}
        rows = scorer.scores_from_outputs(stream.probabilities, stream.embeddings, earlier)
        labels, points = scorer.labels, scorer.operating_points
    return decode(labels, rows, stream.times_ms, decoder, points)


def evaluate(
    scorer: CustomWordScorer | None,
    model: OnnxModel,
    stream: CachedStream,
    decoder: DecoderConfig,
) -> list[set[str]] | list[tuple[int, str]]:
    detections = detections_in(scorer, model, stream, decoder)
    if not stream.slot_labels:
        return detections
    return per_slot(detections, len(stream.slot_labels))


def latencies_ms(detections: list[tuple[int, str]], stream: CachedStream, word: str) -> list[int]:
    """For each slot where `word` fired, its first detection's time after the spoken part's end."""
    first: dict[int, int] = {}
    for time_ms, label in detections:
        index = int(time_ms // (SLOT_S * 1000))
        if label == word and index < len(stream.word_ends_ms):
            first.setdefault(index, time_ms)
    return [
        time_ms - end
        for index, time_ms in sorted(first.items())
        if (end := stream.word_ends_ms[index]) is not None
    ]


def measure(
    scorer: CustomWordScorer,
    model: OnnxModel,
    word: str,
    positives: CachedStream,
    commands: CachedStream,
    negatives: CachedStream,
    decoder: DecoderConfig,
    speakers: set[str],
) -> dict[str, Any]:
    found = detections_in(scorer, model, positives, decoder)
    fired = per_slot(found, len(positives.slot_labels))
    fired_base = evaluate(None, model, positives, decoder)
    pairs = list(zip(commands.slot_labels, evaluate(scorer, model, commands, decoder), strict=True))
    false_accepts = [d for d in evaluate(scorer, model, negatives, decoder) if d[1] == word]
    unsaid, unsaid_seconds = unsaid_false_accepts(false_accepts, negatives, word)
    speaker = next(iter(speakers)) if len(speakers) == 1 else None
    own_talk = speaker_spans(negatives.spoken, speaker, word) if speaker is not None else []
    own_seconds = sum(end - start for start, end in own_talk) / 1000
    return {
        "detection": float(np.mean([word in f for f in fired])),
        "base_on_new": float(np.mean([bool(f - {word}) for f in fired])),
        "base_on_new_without": float(np.mean([bool(f) for f in fired_base])),
        "new_on_base": float(np.mean([word in f for _, f in pairs])),
        "base_hits": float(np.mean([label in f for label, f in pairs])),
        "fa_per_hour": len(false_accepts) / negatives.seconds * SECONDS_PER_HOUR,
        "fa_per_hour_unsaid": unsaid / unsaid_seconds * SECONDS_PER_HOUR,
        "latencies_ms": latencies_ms(found, positives, word),
        **(
            {
                "own_talk_false_accepts": sum(within(t, own_talk) for t, _ in false_accepts),
                "own_talk_seconds": own_seconds,
            }
            if own_seconds
            else {}
        ),
    }


def example_sets(
    clips: list[ClipRef], trials: int, rng: np.random.Generator
) -> list[tuple[str, list[ClipRef]]]:
    speakers: dict[str, list[ClipRef]] = {}
    for clip in clips:
        speakers.setdefault(clip.speaker, []).append(clip)
    sets = []
    names = sorted(speakers)
    for _ in range(trials):
        chosen = rng.choice(len(names), EXAMPLES, replace=False)
        sets.append(("5 speakers", [speakers[names[i]][0] for i in chosen]))
    for name in names:
        if len(speakers[name]) >= EXAMPLES:
            sets.append(("1 speaker", speakers[name][:EXAMPLES]))
    return sets


def with_setting(config: Any, assignment: str) -> Any:
    """`config` with one frozen-dataclass field replaced: "field=value" or "nested.field=value",
    the value parsed as the field's current type (a tuple from comma-separated items)."""
    path, separator, text = assignment.partition("=")
    if not separator:
        raise SystemExit(f"--set {assignment!r}: expected FIELD=VALUE")
    name, _, rest = path.partition(".")
    if name not in {f.name for f in fields(config)}:
        raise SystemExit(f"--set {assignment!r}: {type(config).__name__} has no field {name!r}")
    current = getattr(config, name)
    if rest:
        return replace(config, **{name: with_setting(current, f"{rest}={text}")})
    if isinstance(current, tuple):
        value: Any = tuple(
            type(item)(part) for item, part in zip(current, text.split(","), strict=True)
        )
    elif isinstance(current, bool):
        value = text.lower() in ("1", "true", "yes")
    else:
        value = type(current)(text)
    return replace(config, **{name: value})


def own_speech(
    recordings: list[SpeechRecording], speaker: str, word: str, seconds: float
) -> np.ndarray | None:
    """Up to `seconds` of `speaker`'s recordings (in manifest order) that do not say `word` (or
    its plural), joined: a user's "your speech" recording for that word; None where none is."""
    wanted = int(seconds * RATE)
    parts: list[np.ndarray] = []
    gathered = 0
    for recording in recordings:
        if speaker_name(recording.speaker) != speaker or says(recording.transcript, word):
            continue
        parts.append(read_audio_at(recording.path, RATE))
        gathered += parts[-1].size
        if gathered >= wanted:
            break
    return np.concatenate(parts)[:wanted] if parts else None


def words_parser(description: str) -> argparse.ArgumentParser:
    """The flags every custom-word benchmark takes (this one and words_phrases.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--negatives", type=Path, default=assets_dir() / NEGATIVES_FILE_NAME)
    add_embedder_flag(parser)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--negatives-wav",
        type=Path,
        help="negatives-only stream (e.g. runs/streams/test_neg.wav); default: the reserved folder",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a TrainerConfig setting, dotted for nested ones (head.l2_penalty=0.003, "
        "speed_range=0.8,1.25, phrase.negative_pass_rate=0.001); repeatable",
    )
    parser.add_argument(
        "--synthetic-takes",
        type=int,
        default=0,
        help="teach each word with this many synthetic takes of its name in other voices "
        "(espeak-ng, kws_app/words/synthetic.py), as the app does for a word with a spelling",
    )
    parser.add_argument(
        "--word-windows-ms",
        type=int,
        nargs="+",
        help="custom words' own averaging windows to decode each trained head at (the command "
        "words keep the decoder's); default: calibration.average_window_ms",
    )
    return parser


def with_synthetic_takes(config: TrainerConfig, takes: int) -> TrainerConfig:
    """`config` making `takes` synthetic takes of a word the bench gives a spelling; the bench
    refuses to run without espeak-ng rather than measure the takes alone under that name."""
    if takes and find_espeak() is None:
        raise SystemExit("--synthetic-takes needs espeak-ng (apt-get install espeak-ng)")
    return replace(config, synthetic=replace(config.synthetic, takes=takes))


def add_embedder_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedding-model",
        type=Path,
        help="word embedder whose embedding custom words read (kws_app/words/embedder.py); "
        "default: the one the command model names, else its own embedding",
    )


def load_models(
    model_path: Path, embedder_path: Path | None
) -> tuple[OnnxModel | PairedModel, Path | tuple[Path, ...]]:
    """The model custom words are learned on, as the app pairs it (the command model with the
    word embedder it names, else alone) unless --embedding-model names another, and the file(s)
    a head's identity is taken from."""
    base = OnnxModel(model_path, prefer_gpu=False)
    if embedder_path is not None:
        model: OnnxModel | PairedModel = load_embedder(embedder_path, base)
    else:
        model, problem = words_model(base)
        if problem is not None:
            raise SystemExit(problem)
    return model, identity_paths(model)


def at_windows(head: WordHead, windows_ms: list[int] | None) -> list[tuple[int, WordHead]]:
    """The head as trained, decoded at each of its own averaging windows in turn (its threshold
    does not depend on the window, so this equals training it at each)."""
    if not windows_ms:
        return [(int(head.details[WINDOW_KEY]), head)]
    return [(w, replace(head, details={**head.details, WINDOW_KEY: w})) for w in windows_ms]


def with_settings(config: Any, assignments: list[str]) -> Any:
    """`config` with each `--set` assignment applied in turn (`with_setting`)."""
    for assignment in assignments:
        config = with_setting(config, assignment)
    return config


def pooled_latency(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Median and 95th percentile of the detections' latencies, pooled over the rows' trials;
    None where nothing was detected (or the rows predate latencies)."""
    pooled = [latency for row in rows for latency in row.get("latencies_ms", [])]
    if not pooled:
        return None
    return float(np.median(pooled)), float(np.percentile(pooled, LATENCY_PERCENTILE))


def learned_from_false_alarms(
    trainer: WordTrainer,
    audio: WordAudio,
    scorer: CustomWordScorer,
    window_ms: int,
    negatives_audio: np.ndarray,
    args: argparse.Namespace,
    model: OnnxModel,
    word: str,
    positives: CachedStream,
    negatives: CachedStream,
    decoder: DecoderConfig,
) -> dict[str, Any]:
    """The word's false accepts in the negatives stream's second half, and its share of the
    other speakers' takes found, before and after it is trained again with the audio of its
    first false accepts in the first half as its false alarms (`false_alarm_audio`; the
    trainer's WordAudio.false_alarms, as the window's "Not 'word'" gives them back)."""
    fired = [d for d in evaluate(scorer, model, negatives, decoder) if d[1] == word]
    second_half = (negatives.seconds * 1000 / 2, negatives.seconds * 1000)
    before, seconds = unsaid_false_accepts(fired, negatives, word, second_half)
    found = float(np.mean([word in f for f in evaluate(scorer, model, positives, decoder)]))
    span_s = heard_span_ms(scorer, word, window_ms) / 1000  # what the window's button cuts
    alarms = false_alarm_audio(
        fired, negatives, word, negatives_audio, args.learn_false_alarms, span_s
    )
    after, found_after = before, found
    if alarms:
        head = trainer.train_audio(replace(audio, false_alarms=np.concatenate(alarms)), [])
        ((_, corrected),) = at_windows(head, [window_ms])
        again = trainer.scorer([(word, corrected)])
        refired = [d for d in evaluate(again, model, negatives, decoder) if d[1] == word]
        after, _ = unsaid_false_accepts(refired, negatives, word, second_half)
        found_after = float(
            np.mean([word in f for f in evaluate(again, model, positives, decoder)])
        )
    return {
        "false_alarms_learned": len(alarms),
        "second_half_false_accepts": before,
        "second_half_false_accepts_after": after,
        "second_half_seconds": seconds,
        "found_after_learning": found_after,
    }


def false_alarm_summary(rows: list[dict[str, Any]]) -> str:
    """One line: what learning from the first half's false alarms did to the second half."""
    learned = [r for r in rows if "false_alarms_learned" in r]
    if not learned:
        return ""
    hours = sum(r["second_half_seconds"] for r in learned) / SECONDS_PER_HOUR
    before = sum(r["second_half_false_accepts"] for r in learned)
    after = sum(r["second_half_false_accepts_after"] for r in learned)
    taught = sum(1 for r in learned if r["false_alarms_learned"])
    return (
        f"learning from the first half's false alarms ({taught} of {len(learned)} sets had any, "
        f"{sum(r['false_alarms_learned'] for r in learned)} alarms): second half "
        f"{before / hours:.2f} -> {after / hours:.2f} false accepts per hour ({before} -> {after} "
        f"in {hours * 60:.0f} min); found {np.mean([r['detection'] for r in learned]):.1%} -> "
        f"{np.mean([r['found_after_learning'] for r in learned]):.1%}"
    )


def own_voice_summary(rows: list[dict[str, Any]]) -> str:
    """Two cells: the one-speaker sets' detection on their speaker's other takes, averaged over
    the sets that have any, and their false accepts per hour while their speaker talks, pooled
    over the sets whose speaker talks in the negatives stream (empty for sets of five speakers)."""
    own = [r for r in rows if "own_voice_detection" in r]
    found = (
        f"{np.mean([r['own_voice_detection'] for r in own]):.1%} "
        f"({len(own)}, {sum(r['own_voice_tests'] for r in own)})"
        if own
        else ""
    )
    talking = [r for r in rows if r.get("own_talk_seconds")]
    if not talking:
        return f"{found} | "
    hours = sum(r["own_talk_seconds"] for r in talking) / SECONDS_PER_HOUR
    fired = sum(r["own_talk_false_accepts"] for r in talking)
    return f"{found} | {fired / hours:.2f} ({fired} in {hours * 60:.0f} min, {len(talking)} sets)"


def latency_summary(rows: list[dict[str, Any]]) -> str:
    latency = pooled_latency(rows)
    return "none detected" if latency is None else f"{latency[0]:.0f}, {latency[1]:.0f}"


def main() -> int:
    parser = words_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--words",
        nargs="*",
        help=f"words to test (default: {', '.join(RESERVED_WORDS)}; 'validation' for "
        f"{len(VALIDATION_WORDS)} words to choose settings on: {', '.join(VALIDATION_WORDS)})",
    )
    parser.add_argument(
        "--word-threshold",
        type=float,
        default=WordCalibrationConfig().threshold,
        help="the probability a custom word is calibrated to reach (WordCalibrationConfig)",
    )
    parser.add_argument("--command-share", type=float, default=DEFAULT_COMMAND_SHARE)
    parser.add_argument(
        "--sweep", action="store_true", help="also try other calibration strictness values"
    )
    parser.add_argument(
        "--pass-rates", type=float, nargs="+", help="calibration strictness values to try"
    )
    parser.add_argument(
        "--unheard-tests",
        action="store_true",
        help="test only on clips of the validation and testing splits, which no model trained on "
        "(a word's training-split clips are among the `_unknown_` examples of every model but "
        "for the reserved words)",
    )
    parser.add_argument(
        "--words-dir",
        type=Path,
        help="take the words to learn from this folder-per-word directory (clips named "
        "<speaker>_nohash_<n>, e.g. bench/cut_speech_words.py --split validation) instead of "
        "the Speech Commands folders; default words: every word in it",
    )
    parser.add_argument(
        "--own-speech",
        choices=SPLITS,
        help="give each one-speaker set that speaker's own sentences of this split that say a "
        "command word (in no negatives stream) as its 'your speech' recording",
    )
    parser.add_argument(
        "--learn-false-alarms",
        type=int,
        default=0,
        metavar="K",
        help="also train each word again with the audio of its first K false accepts in the "
        "first half of --negatives-wav as its false alarms (what the window's \"Not 'word'\" "
        "gives back), and report the second half's false accepts and the words found before "
        "and after",
    )
    parser.add_argument("--json", type=Path, help="write every trial's figures here")
    add_setting_flags(parser, DecoderConfig)
    add_setting_flags(parser, StreamConfig)
    args = parser.parse_args()
    decoder = config_from_args(args, DecoderConfig)
    stream = config_from_args(args, StreamConfig)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    own_voice_rng = np.random.default_rng([args.seed, OWN_VOICE_STREAM])
    started = time.perf_counter()
    model, model_paths = load_models(args.model, args.embedding_model)
    config = TrainerConfig(command_share=args.command_share)
    config = replace(config, calibration=replace(config.calibration, threshold=args.word_threshold))
    config = with_settings(with_synthetic_takes(config, args.synthetic_takes), args.set)
    rates = args.pass_rates or (
        SWEEP_PASS_RATES if args.sweep else (config.calibration.negative_pass_rate,)
    )
    trainers = {
        rate: WordTrainer(
            model,
            model_paths,
            negatives_path=args.negatives,
            config=replace(
                config, calibration=replace(config.calibration, negative_pass_rate=rate)
            ),
        )
        for rate in rates
    }
    trainer = trainers[rates[0]]
    print(
        f"model {args.model.name}: {len(model.labels)} labels, embedding {trainer.embedding_size}; "
        f"shipped negatives: {'yes' if trainer.shipped is not None else 'NO (other model)'}; "
        f"word threshold {args.word_threshold}, command share {args.command_share}"
    )
    print(f"decoder: {decoder}, clip stride {stream.clip_stride_ms} ms")
    groups = by_label(read_clips(args.data_dir))
    word_groups = by_label(read_word_dir(args.words_dir)) if args.words_dir else groups
    words = args.words or (sorted(word_groups) if args.words_dir else list(RESERVED_WORDS))
    if words == ["validation"]:
        words = list(VALIDATION_WORDS)

    command_clips = []
    for word in COMMAND_WORDS:
        testing = [c for c in groups[word] if c.split == "testing"]
        picks = rng.choice(len(testing), min(COMMAND_CLIPS_PER_WORD, len(testing)), replace=False)
        command_clips += [testing[i] for i in picks]
    command_clips = [command_clips[i] for i in rng.permutation(len(command_clips))]
    commands = slot_stream(model, command_clips, rng, stream)
    negatives = negatives_stream(model, args.data_dir, rng, stream, args.negatives_wav)
    print(
        f"streams: {len(command_clips)} command clips, negatives {negatives.seconds / 60:.1f} min "
        f"({time.perf_counter() - started:.0f} s so far)"
    )
    base_commands = evaluate(None, model, commands, decoder)
    base_command_hits = np.mean(
        [label in fired for label, fired in zip(commands.slot_labels, base_commands, strict=True)]
    )
    base_negative_fa = (
        len(evaluate(None, model, negatives, decoder)) / negatives.seconds * SECONDS_PER_HOUR
    )

    if args.learn_false_alarms and args.negatives_wav is None:
        raise SystemExit("--learn-false-alarms needs --negatives-wav (its audio is cut from it)")
    negatives_audio = (
        read_audio_at(args.negatives_wav, RATE) if args.learn_false_alarms else np.zeros(0)
    )
    own_recordings = (
        speech_negatives(args.data_dir / SPEECH_NEGATIVES, args.own_speech, saying_commands=True)
        if args.own_speech
        else []
    )
    results = []
    for word in words:
        clips = word_groups[word]
        if len(clips) < MIN_WORD_CLIPS:
            print(f"{word}: only {len(clips)} clips, skipped")
            continue
        for condition, chosen in example_sets(clips, args.trials, rng):
            speakers = {c.speaker for c in chosen}
            tests = [
                c
                for c in clips
                if c.speaker not in speakers and not (args.unheard_tests and c.split == "training")
            ]
            if not tests:
                continue
            positives = slot_stream(model, tests, rng, stream)
            own_takes = [c for c in clips if c.speaker in speakers and c not in chosen]
            own_voice = (
                slot_stream(model, own_takes, own_voice_rng, stream)
                if condition == "1 speaker" and own_takes
                else None
            )
            background = (
                own_speech(own_recordings, next(iter(speakers)), word, SPEECH_SECONDS)
                if own_recordings and len(speakers) == 1
                else None
            )
            audio = trainer.with_synthetic_voices(
                WordAudio(word, [read_audio_at(c.path, RATE) for c in chosen], background),
                word if args.synthetic_takes else None,
            )
            for rate, word_trainer in trainers.items():
                train_started = time.perf_counter()
                trained = word_trainer.train_audio(audio, [])
                train_s = time.perf_counter() - train_started
                for window_ms, head in at_windows(trained, args.word_windows_ms):
                    scorer = word_trainer.scorer([(word, head)])
                    result = {
                        "word": word,
                        "condition": condition,
                        "rate": rate,
                        "window_ms": window_ms,
                        "shift": head.details[LOGIT_SHIFT_KEY],
                        "held_out_detection": head.details["held_out_detection"],
                        "tests": len(tests),
                        "train_s": round(train_s, 2),
                        **measure(
                            scorer, model, word, positives, commands, negatives, decoder, speakers
                        ),
                    }
                    if own_voice is not None:
                        fired = evaluate(scorer, model, own_voice, decoder)
                        result["own_voice_detection"] = float(np.mean([word in f for f in fired]))
                        result["own_voice_tests"] = len(own_takes)
                    if args.learn_false_alarms:
                        result.update(
                            learned_from_false_alarms(
                                word_trainer, audio, scorer, window_ms, negatives_audio, args,
                                model, word, positives, negatives, decoder,
                            )
                        )  # fmt: skip
                    results.append(result)
                    print(
                        f"{word:8s} {condition:10s} pass rate {rate:.4f} window {window_ms} ms "
                        f"shift {result['shift']:+.1f} held-out {result['held_out_detection']:.2f} "
                        f"n={len(tests):3d} "
                        f"det {result['detection']:.2f} "
                        f"base-on-new {result['base_on_new']:.2f} "
                        f"({result['base_on_new_without']:.2f} alone) "
                        f"new-on-base {result['new_on_base']:.3f} FA/h {result['fa_per_hour']:.1f} "
                        f"({result['fa_per_hour_unsaid']:.1f} where not said) "
                        f"train {train_s:.1f} s"
                        + (
                            f" own voice {result['own_voice_detection']:.2f} n={len(own_takes)}"
                            if own_voice is not None
                            else ""
                        ),
                        flush=True,
                    )

    print()
    print(
        f"base model alone: command detection {base_command_hits:.3f}, "
        f"false accepts {base_negative_fa:.1f}/h on {negatives.seconds / 60:.1f} min"
    )
    print(
        "| examples | trials | detection (other speakers) | base word fires on new word "
        "(with / base alone) | new word fires on command words | command detection "
        "(base alone) | new-word false accepts / h: mean (median, max) | the same where the "
        "word is not said | after the word's end, ms: median, p95 | training s | the speaker's "
        "own other takes: found (sets, takes) | false accepts per hour while the speaker talks "
        "(count, minutes, sets) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    windows = sorted({r["window_ms"] for r in results})
    for condition in ("5 speakers", "1 speaker"):
        for rate, window_ms in ((r, w) for r in rates for w in windows):
            rows = [
                r
                for r in results
                if r["condition"] == condition and r["rate"] == rate and r["window_ms"] == window_ms
            ]
            if not rows:
                continue

            def mean(key: str, rows: list[dict] = rows) -> float:
                return float(np.mean([r[key] for r in rows]))

            def spread(key: str, rows: list[dict] = rows) -> str:
                values = [r[key] for r in rows]
                middle, top = np.median(values), max(values)
                return f"{np.mean(values):.2f} (median {middle:.1f}, max {top:.1f})"

            label = condition if len(rates) == 1 else f"{condition}, pass rate {rate}"
            if len(windows) > 1:
                label += f", window {window_ms} ms"
            print(
                f"| {label} | {len(rows)} | {mean('detection'):.1%} | "
                f"{mean('base_on_new'):.1%} / {mean('base_on_new_without'):.1%} | "
                f"{mean('new_on_base'):.2%} | {mean('base_hits'):.1%} ({base_command_hits:.1%}) | "
                f"{spread('fa_per_hour')} | {spread('fa_per_hour_unsaid')} | "
                f"{latency_summary(rows)} | {mean('train_s'):.1f} | {own_voice_summary(rows)} |"
            )
            if args.learn_false_alarms:
                print(f"  {label}: {false_alarm_summary(rows)}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
