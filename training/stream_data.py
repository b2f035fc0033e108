"""Long test streams for streaming evaluation, in the spirit of TF's generate_streaming_test_wav.

Clip accuracy says little about a continuous microphone stream, so this module lays words from one
split of a folder-per-word dataset end to end into a long 16 kHz signal over a bed of background
noise, and records where every spoken word really is. A negatives-only mode lays speech that holds
no command word (for false accepts per hour) instead.

Ground truth (one CSV row per placed clip, header `label,time_ms,start_ms,end_ms,source`):
- `start_ms`/`end_ms` bound the *spoken* word inside its clip, found by trimming the clip's leading
  and trailing low-energy frames, so latency is measured from the real end of speech;
- `time_ms` is the word's END (`end_ms`), the time the streaming matcher compares detections with:
  a keyword spotter can only be sure once the word is over, so the end is where detections cluster;
- `label` is the word for command words and `_unknown_` for every other clip (other words,
  negative sentences). Unknown rows are kept so a stream's content is fully documented; the matcher
  ignores them, so a detection on an unknown word counts as a false accept.

Levels: every clip is scaled so that its spoken part has an RMS of `speech_dbfs`, and the noise bed
has an RMS of `speech_dbfs - snr_db`, i.e. the SNR holds per word over its active part.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from kws_app.audio.files import EmptyAudioFileError, list_audio_files, read_audio_at
from kws_app.config import MS_PER_SECOND
from kws_app.dsp.levels import db_to_amplitude, frame_powers, powers_to_db, rms_of
from kws_app.dsp.noise import unit_rms_noise
from kws_app.errors import UserError
from training.config import BACKGROUND_NOISE_DIR, DEFAULT_WANTED_WORDS, UNKNOWN_LABEL
from training.data import word_folders

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

SAMPLE_RATE = 16000
SPLIT_LISTS = {"validation": "validation_list.txt", "testing": "testing_list.txt"}
SPLIT_ALIASES = {
    "test": "testing",
    "testing": "testing",
    "validation": "validation",
    "val": "validation",
    "train": "training",
    "training": "training",
}
# The folder README.md reserves for false-accept measurements, relative to the data root's parent.
RESERVED_NEGATIVES = Path("negatives") / "precise" / "heysavant" / "not-wake-words"
GROUND_TRUTH_FIELDS = ("label", "time_ms", "start_ms", "end_ms", "source")

# Speech extent: 10 ms energy frames smoothed over 30 ms; a frame is speech when it is within
# EXTENT_BELOW_PEAK_DB of the loudest frame AND EXTENT_ABOVE_FLOOR_DB above the clip's noise floor
# (its quietest decile); quiet gaps up to EXTENT_MAX_GAP_MS (a stop closure, as in "stop") stay
# inside the word. Clips too quiet or too flat to hold a word (the dataset has a few silent
# recordings) are skipped.
EXTENT_FRAME_MS = 10
EXTENT_SMOOTH_MS = 30
EXTENT_BELOW_PEAK_DB = 30.0
EXTENT_ABOVE_FLOOR_DB = 10.0
EXTENT_MAX_GAP_MS = 150
FLOOR_PERCENTILE = 10.0
MIN_PEAK_DBFS = -70.0
MIN_DYNAMIC_RANGE_DB = 10.0
POWER_FLOOR = 1e-12

# The noise bed: consecutive segments of this length, each from a randomly chosen source,
# joined with short crossfades so no segment boundary clicks.
NOISE_SEGMENT_S = (10.0, 30.0)
NOISE_CROSSFADE_MS = 50
GENERATED_NOISES = ("white", "pink")
FULL_SCALE = 1.0


class StreamError(UserError, ValueError):
    """A stream that cannot be built or read; str() is a one-line message for the user."""


@dataclass(frozen=True)
class StreamSpec:
    """What goes into a generated stream. Gaps are between consecutive clips (silence + noise).

    With 1-s clips, gaps uniform in [1, 3] s put a word about every 3 s, as the issue asks.
    """

    duration_s: float = 600.0
    min_gap_ms: int = 1000
    max_gap_ms: int = 3000
    snr_db: float | None = 10.0
    unknown_share: float = 0.3
    speech_dbfs: float = -26.0
    lead_in_ms: int = 1000
    seed: int = 0
    negatives_only: bool = False
    # Use every unknown/negative recording at most once; the stream ends early when they run out,
    # so an hour of stream is an hour of distinct sentences.
    no_repeat: bool = False

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise StreamError("stream duration must be positive")
        if not 0 <= self.min_gap_ms <= self.max_gap_ms:
            raise StreamError("gaps must satisfy 0 <= min gap <= max gap")
        if not 0.0 <= self.unknown_share <= 1.0:
            raise StreamError("the unknown share must be between 0 and 1")
        if self.speech_dbfs >= 0:
            raise StreamError("the speech level must be below full scale (negative dBFS)")
        if self.lead_in_ms < 0:
            raise StreamError("the lead-in cannot be negative")

    @property
    def total_samples(self) -> int:
        return int(round(self.duration_s * SAMPLE_RATE))


@dataclass(frozen=True)
class StreamSources:
    """The audio files a stream draws from."""

    commands: tuple[Path, ...]
    unknowns: tuple[Path, ...]
    noises: tuple[Path, ...]


@dataclass(frozen=True)
class PlacedWord:
    """One clip in the stream: `start_ms`/`end_ms` bound its spoken part, `time_ms` is the end."""

    label: str
    start_ms: int
    end_ms: int
    source: str

    @property
    def time_ms(self) -> int:
        return self.end_ms

    @property
    def is_command(self) -> bool:
        return not self.label.startswith("_")


@dataclass(frozen=True)
class GeneratedStream:
    audio: FloatArray
    words: tuple[PlacedWord, ...]
    spec: StreamSpec

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / SAMPLE_RATE


def canonical_split(name: str) -> str:
    try:
        return SPLIT_ALIASES[name.lower()]
    except KeyError:
        raise StreamError(
            f"unknown split {name!r}; use one of: {', '.join(sorted(set(SPLIT_ALIASES)))}"
        ) from None


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def split_files(data_dir: Path, split: str) -> list[Path]:
    """Word clips (not `_`-folders) of one split, using the dataset's list files.

    Datasets without `validation_list.txt`/`testing_list.txt` fall back to the speaker hashing
    rule of training.data, so the split stays speaker-disjoint either way.
    """
    split = canonical_split(split)
    if not data_dir.is_dir():
        raise StreamError(f"data folder not found: {data_dir}")
    lists = {name: data_dir / file for name, file in SPLIT_LISTS.items()}
    have_lists = any(path.exists() for path in lists.values())
    listed = {name: _read_list(path) if path.exists() else set() for name, path in lists.items()}
    word_dirs = word_folders(data_dir)
    chosen: list[Path] = []
    for folder in word_dirs:
        for path in list_audio_files(folder):
            if have_lists:
                relative = path.relative_to(data_dir).as_posix()
                if relative in listed["validation"]:
                    clip_split = "validation"
                elif relative in listed["testing"]:
                    clip_split = "testing"
                else:
                    clip_split = "training"
            else:
                from training.data import which_set

                clip_split = which_set(path.name, 10.0, 10.0)
            if clip_split == split:
                chosen.append(path)
    return chosen


def reserved_negatives_dir(data_dir: Path) -> Path:
    """`<root>/negatives/precise/heysavant/not-wake-words` for a `<root>/speech_commands` dir."""
    return data_dir.resolve().parent / RESERVED_NEGATIVES


def collect_sources(
    data_dir: Path,
    split: str,
    words: Sequence[str] = DEFAULT_WANTED_WORDS,
    negative_dirs: Sequence[Path] = (),
    negatives_only: bool = False,
    negative_files: Sequence[Path] = (),
) -> StreamSources:
    """Files for a stream: command words and unknown words of `split`, plus extra negatives.

    In negatives-only mode the stream holds only `negative_dirs` (default: the reserved folder),
    so no command word can occur in it.
    """
    background_dir = data_dir / BACKGROUND_NOISE_DIR
    noises = tuple(list_audio_files(background_dir)) if background_dir.is_dir() else ()
    extra: list[Path] = []
    for folder in negative_dirs:
        if not folder.is_dir():
            raise StreamError(f"negatives folder not found: {folder}")
        found = list_audio_files(folder)
        if not found:
            raise StreamError(f"no audio files in negatives folder {folder}")
        extra.extend(found)
    extra.extend(negative_files)
    if negatives_only:
        if not negative_dirs and not negative_files:
            default = reserved_negatives_dir(data_dir)
            if not default.is_dir():
                raise StreamError(
                    f"negatives-only mode needs --negatives DIR (no {RESERVED_NEGATIVES} "
                    f"next to {data_dir})"
                )
            extra = list_audio_files(default)
        if not extra:
            raise StreamError("negatives-only mode found no negative audio files")
        return StreamSources((), tuple(extra), noises)

    wanted = set(words)
    clips = split_files(data_dir, split)
    commands = tuple(p for p in clips if p.parent.name in wanted)
    unknowns = tuple(p for p in clips if p.parent.name not in wanted) + tuple(extra)
    if not commands:
        raise StreamError(
            f"no clips of the words {', '.join(words)} in the {canonical_split(split)} split "
            f"of {data_dir}"
        )
    return StreamSources(commands, unknowns, noises)


def read_mono_16k(path: Path) -> FloatArray:
    """Mono float32 at the streams' rate; an empty file gives no samples (it holds no word)."""
    try:
        return read_audio_at(path, SAMPLE_RATE)
    except EmptyAudioFileError:
        return np.zeros(0, dtype=np.float32)


def speech_extent(wave: FloatArray, rate: int = SAMPLE_RATE) -> tuple[int, int] | None:
    """(first, end) sample of the spoken part, or None when the clip holds no audible word.

    Speech Commands clips are 1 s with the word somewhere inside; measuring latency from the clip's
    end would flatter a slow detector by the clip's trailing silence. Frames (smoothed energy) loud
    enough to be speech form runs; runs closer than a stop-consonant closure are one word, and the
    word is the run holding the loudest frame, so a click or a neighbour's tail stays outside.
    """
    frame = max(1, rate * EXTENT_FRAME_MS // MS_PER_SECOND)
    count = wave.shape[0] // frame
    if count == 0:
        return None
    smooth = max(1, EXTENT_SMOOTH_MS // EXTENT_FRAME_MS)
    power = np.convolve(frame_powers(wave, frame), np.ones(smooth) / smooth, mode="same")
    level_db = powers_to_db(power, POWER_FLOOR)
    peak_index = int(np.argmax(level_db))
    peak = float(level_db[peak_index])
    floor = float(np.percentile(level_db, FLOOR_PERCENTILE))
    if peak < MIN_PEAK_DBFS or peak - floor < MIN_DYNAMIC_RANGE_DB:
        return None
    threshold = max(peak - EXTENT_BELOW_PEAK_DB, floor + EXTENT_ABOVE_FLOOR_DB)
    loud = level_db >= threshold
    max_gap = EXTENT_MAX_GAP_MS // EXTENT_FRAME_MS
    first = peak_index
    quiet = 0
    for index in range(peak_index - 1, -1, -1):
        quiet = 0 if loud[index] else quiet + 1
        if quiet > max_gap:
            break
        if loud[index]:
            first = index
    last = peak_index
    quiet = 0
    for index in range(peak_index + 1, count):
        quiet = 0 if loud[index] else quiet + 1
        if quiet > max_gap:
            break
        if loud[index]:
            last = index
    return first * frame, min(wave.shape[0], (last + 1) * frame)


def noise_bed(
    samples: int, recordings: Sequence[FloatArray], rng: np.random.Generator
) -> FloatArray:
    """Unit-RMS background: segments of random recordings (random crops) and generated noise.

    Consecutive segments overlap by a short linear crossfade so no boundary clicks.
    """
    kinds: list[FloatArray | str] = [*recordings, *GENERATED_NOISES]
    bed = np.zeros(samples, dtype=np.float32)
    fade = SAMPLE_RATE * NOISE_CROSSFADE_MS // MS_PER_SECOND
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    start = 0
    while start < samples:
        seconds = float(rng.uniform(*NOISE_SEGMENT_S))
        length = min(samples - start, int(seconds * SAMPLE_RATE) + fade)
        source = kinds[int(rng.integers(len(kinds)))]
        if isinstance(source, str):
            segment = unit_rms_noise(source, length, rng)
        else:
            segment = _loop_crop(source, length, rng)
            rms = rms_of(segment)
            segment = segment / rms if rms > 0 else segment
        last = start + length >= samples
        if start > 0 and length > fade:
            segment[:fade] *= ramp
        if not last and length > fade:
            segment[-fade:] *= ramp[::-1]
        bed[start : start + length] += segment
        if last:
            break
        start += length - fade
    return bed


def _loop_crop(wave: FloatArray, length: int, rng: np.random.Generator) -> FloatArray:
    """`length` samples from a random start, looping the recording when it is shorter."""
    if wave.shape[0] == 0:
        return np.zeros(length, dtype=np.float32)
    repeats = 1 + length // wave.shape[0] + 1
    looped = np.tile(wave, repeats)
    start = int(rng.integers(wave.shape[0]))
    return np.ascontiguousarray(looped[start : start + length], dtype=np.float32)


class _Cycler:
    """Draws files without replacement, reshuffling when a pool is used up."""

    def __init__(
        self, files: Sequence[Path], rng: np.random.Generator, repeat: bool = True
    ) -> None:
        self._files = list(files)
        self._rng = rng
        self._repeat = repeat
        self._order: list[int] = list(rng.permutation(len(self._files)))

    def __bool__(self) -> bool:
        return bool(self._files)

    def all_in(self, paths: set[Path]) -> bool:
        return all(path in paths for path in self._files)

    def draw(self) -> Path | None:
        """The next file; None once every file was used and repeats are off."""
        if not self._order:
            if not self._repeat:
                return None
            self._order = list(self._rng.permutation(len(self._files)))
        return self._files[self._order.pop()]


def _label_of(path: Path, commands: frozenset[Path]) -> str:
    return path.parent.name if path in commands else UNKNOWN_LABEL


def generate_stream(sources: StreamSources, spec: StreamSpec) -> GeneratedStream:
    """Lay clips end to end with random gaps over a noise bed; reproducible from `spec.seed`."""
    rng = np.random.default_rng(spec.seed)
    total = spec.total_samples
    commands = _Cycler(sources.commands, rng)
    unknowns = _Cycler(sources.unknowns, rng, repeat=not spec.no_repeat)
    if spec.negatives_only and not unknowns:
        raise StreamError("a negatives-only stream needs negative audio files")
    if not commands and not unknowns:
        raise StreamError("no audio files to build a stream from")
    command_set = frozenset(sources.commands)
    speech = np.zeros(total, dtype=np.float32)
    speech_amplitude = db_to_amplitude(spec.speech_dbfs)
    cache: dict[Path, tuple[FloatArray, int, int] | None] = {}
    placed: list[PlacedWord] = []
    skipped: set[Path] = set()
    cursor = spec.lead_in_ms * SAMPLE_RATE // MS_PER_SECOND
    while True:
        pick_unknown = (
            spec.negatives_only
            or not commands
            or (bool(unknowns) and rng.random() < spec.unknown_share)
        )
        pool = unknowns if pick_unknown else commands
        path = pool.draw()
        if path is None:
            logger.info("every negative recording used once; the stream ends here")
            total = min(total, cursor)
            speech = speech[:total]
            break
        if path not in cache:
            wave = read_mono_16k(path)
            extent = speech_extent(wave)
            cache[path] = None if extent is None else (wave, *extent)
        entry = cache[path]
        if entry is None:
            skipped.add(path)
            if pool.all_in(skipped):
                raise StreamError("no clip of the chosen words holds an audible word")
            continue
        wave, first, end = entry
        if cursor + wave.shape[0] > total:
            break
        level = rms_of(wave[first:end])
        gain = speech_amplitude / level if level > 0 else 0.0
        speech[cursor : cursor + wave.shape[0]] += wave * gain
        placed.append(
            PlacedWord(
                label=_label_of(path, command_set),
                start_ms=(cursor + first) * MS_PER_SECOND // SAMPLE_RATE,
                end_ms=(cursor + end) * MS_PER_SECOND // SAMPLE_RATE,
                source=str(path),
            )
        )
        gap_ms = int(rng.integers(spec.min_gap_ms, spec.max_gap_ms + 1))
        cursor += wave.shape[0] + gap_ms * SAMPLE_RATE // MS_PER_SECOND

    audio = speech
    if spec.snr_db is not None:
        recordings = [read_mono_16k(path) for path in sources.noises]
        bed = noise_bed(total, recordings, rng)
        audio = speech + bed * db_to_amplitude(spec.speech_dbfs - spec.snr_db)
    clipped = int(np.count_nonzero(np.abs(audio) > FULL_SCALE))
    if clipped:
        logger.warning("%d samples clipped at full scale; lower --speech-dbfs", clipped)
    audio = np.clip(audio, -FULL_SCALE, FULL_SCALE).astype(np.float32)
    if skipped:
        logger.info("skipped %d clips that hold no audible word", len(skipped))
    logger.info(
        "stream of %.1f s: %d clips (%d command words)",
        total / SAMPLE_RATE,
        len(placed),
        sum(word.is_command for word in placed),
    )
    return GeneratedStream(audio, tuple(placed), spec)


def write_stream(stream: GeneratedStream, wav_path: Path, labels_path: Path) -> None:
    """16-bit PCM WAV plus the ground-truth CSV (see the module docstring for its columns)."""
    for path in (wav_path, labels_path):
        if path.parent and not path.parent.exists():
            raise StreamError(f"output folder does not exist: {path.parent}")
    soundfile.write(str(wav_path), stream.audio, SAMPLE_RATE, subtype="PCM_16")
    write_ground_truth(stream.words, labels_path)


def write_ground_truth(words: Sequence[PlacedWord], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(GROUND_TRUTH_FIELDS)
        for word in words:
            writer.writerow([word.label, word.time_ms, word.start_ms, word.end_ms, word.source])


def read_ground_truth(path: Path) -> list[PlacedWord]:
    """Rows of a ground-truth CSV, sorted by time; also reads TF's headerless `label, time_ms`.

    A TF-style row has one time only, taken as both start and end of the word.
    """
    if not path.exists():
        raise StreamError(f"labels file not found: {path}")
    words: list[PlacedWord] = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells) or (number == 1 and cells[0] == "label"):
                continue
            words.append(_parse_row(cells, path, number))
    return sorted(words, key=lambda word: (word.time_ms, word.start_ms))


def _parse_row(cells: list[str], path: Path, number: int) -> PlacedWord:
    where = f"{path.name} line {number}"
    if len(cells) < 2 or not cells[0]:
        raise StreamError(f"{where}: expected 'label, time_ms[, start_ms, end_ms, source]'")
    try:
        times = [int(round(float(cell))) for cell in cells[1:4]]
    except ValueError:
        raise StreamError(f"{where}: times must be numbers in ms") from None
    time_ms = times[0]
    start_ms = times[1] if len(times) > 1 else time_ms
    end_ms = times[2] if len(times) > 2 else time_ms
    if end_ms != time_ms:
        raise StreamError(f"{where}: time_ms must equal end_ms (the word's end)")
    if start_ms > end_ms or time_ms < 0:
        raise StreamError(f"{where}: a word cannot start after it ends or before 0 ms")
    source = cells[4] if len(cells) > 4 else ""
    return PlacedWord(cells[0], start_ms, end_ms, source)


def iter_commands(words: Sequence[PlacedWord]) -> Iterator[PlacedWord]:
    return (word for word in words if word.is_command)
