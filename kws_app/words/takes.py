"""Takes as users make them: find the one spoken word in a recording and trim the rest away.

A take recorded by hand holds a pause before and after the word (the time to press a key, to
breathe, to stop the recorder); a take downloaded or cut by someone else may hold nothing audible,
or the word twice. The word store keeps short examples (the head is trained on one-second windows
around the word), so every take goes through `trim_take` first: the command line
(`kws-app words add --from-wav-dir`) and the window's Add-word dialog call the same function and
show the same one-line message for a take they refuse.

The detector is energy based and relative to the take itself, so it works for a quiet laptop
microphone and a loud headset alike: frames of short-time energy, smoothed; the take's floor is a
low percentile of them and its peak the highest; a frame is sound when it is close enough to the
peak and clearly above the floor. Runs of sound closer than a short pause (the closure of a stop
consonant, the gap between two syllables) are one utterance; runs too short or too quiet to be a
word (a click, a breath) are not counted. training/stream_data.py's `speech_extent` does the same
for one-second Speech Commands clips.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kws_app.config import MS_PER_SECOND
from kws_app.dsp.levels import frame_powers, powers_to_db
from kws_app.words.store import SILENT_TAKE_PEAK_DBFS, WordStoreError, is_silent_take

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# The longest recording accepted as one take: room for a pause, the word and a pause, but not for
# a whole session recorded in one file.
MAX_TAKE_SECONDS = 10.0
# The optional recording of the user talking normally (issue: 20-30 s of ordinary speech), kept
# as the word's background: its crops are negatives when the word is trained and calibrated, so
# the word learns not to fire on this voice in this room.
SPEECH_SECONDS = 25.0
# The longest utterance a custom word may be. The base model hears one-second windows; a word or a
# short phrase up to half as long again still leaves its heart inside one window.
MAX_UTTERANCE_SECONDS = 1.5
# Kept before and after the word when a take is trimmed, so soft onsets and endings survive and
# the stored example still shows the take's own noise floor (augmentation fills with it).
TRIM_MARGIN_SECONDS = 0.25
MAX_TRIMMED_SECONDS = MAX_UTTERANCE_SECONDS + 2 * TRIM_MARGIN_SECONDS

FRAME_MS = 10
SMOOTH_MS = 30
# The floor: the level all but the quietest frames stay above. Low, so that a file cut close
# around the word (little quiet part) still shows its dynamic range.
FLOOR_PERCENTILE = 5.0
# A frame is sound when it is within this of the peak ...
SOUND_BELOW_PEAK_DB = 30.0
# ... and at least this far above the floor.
SOUND_ABOVE_FLOOR_DB = 10.0
# A take whose loudest frame does not rise this far above its floor is noise only.
MIN_SPEECH_ABOVE_FLOOR_DB = 10.0
# Silence inside a word: stop closures and syllable gaps are shorter than this; a pause between
# two words said on purpose is longer.
MAX_GAP_IN_WORD_MS = 250
# A run of sound shorter than this (a click, a key press) is not an utterance.
MIN_UTTERANCE_MS = 80
# A run of sound whose loudest frame stays this far below the take's peak (a breath, a chair) is
# not a second utterance.
UTTERANCE_BELOW_PEAK_DB = 12.0
POWER_FLOOR = 1e-12
_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


class TakeError(WordStoreError):
    """A take that cannot be an example; str() is one line: which take, then why.

    `reason` is kept apart so the dialog can show it next to a take whose number changes when an
    earlier take is deleted.
    """

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} {reason}")
        self.what = what
        self.reason = reason


def take_label(number: int, file_name: str | None = None) -> str:
    """How messages name a take: "take 3", or "take 3 (b.wav)" for a file."""
    return f"take {number}" if file_name is None else f"take {number} ({file_name})"


def too_long_reason() -> str:
    return (
        f"is longer than the {MAX_TAKE_SECONDS:g} s a take may last: keep one word with a short "
        "pause around it"
    )


def check_take_duration(sample_count: int, sample_rate: int, what: str) -> None:
    """Refuse a take over MAX_TAKE_SECONDS; callers reading a file call it as blocks arrive."""
    if sample_count > MAX_TAKE_SECONDS * sample_rate:
        raise TakeError(what, too_long_reason())


def _frame_levels_db(samples: FloatArray, sample_rate: int) -> tuple[npt.NDArray[np.float64], int]:
    """Smoothed energy per frame in dB and the frame length in samples."""
    frame = max(1, sample_rate * FRAME_MS // MS_PER_SECOND)
    smooth = max(1, SMOOTH_MS // FRAME_MS)
    power = ndimage.uniform_filter1d(frame_powers(samples, frame), smooth, mode="nearest")
    return powers_to_db(power, POWER_FLOOR), frame


def _bridge(runs: list[tuple[int, int]], max_gap: int) -> list[tuple[int, int]]:
    """Runs (first, end) of frames, with runs closer than `max_gap` frames joined."""
    joined: list[tuple[int, int]] = []
    for first, end in runs:
        if joined and first - joined[-1][1] <= max_gap:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((first, end))
    return joined


def utterances(samples: npt.ArrayLike, sample_rate: int) -> list[tuple[int, int]]:
    """(start, end) samples of each utterance in a take, in order; empty when it holds no speech."""
    values = np.asarray(samples, dtype=np.float32).reshape(-1)
    if is_silent_take(values):
        return []
    level_db, frame = _frame_levels_db(values, sample_rate)
    if level_db.size == 0:
        return []
    peak = float(level_db.max())
    floor = float(np.percentile(level_db, FLOOR_PERCENTILE))
    if peak - floor < MIN_SPEECH_ABOVE_FLOOR_DB:
        return []
    threshold = max(peak - SOUND_BELOW_PEAK_DB, floor + SOUND_ABOVE_FLOOR_DB)
    labelled, _ = ndimage.label(level_db >= threshold)
    runs = [(run.start, run.stop) for (run,) in ndimage.find_objects(labelled)]
    runs = _bridge(runs, MAX_GAP_IN_WORD_MS // FRAME_MS)
    min_frames = MIN_UTTERANCE_MS // FRAME_MS
    spoken = [
        (first, end)
        for first, end in runs
        if end - first >= min_frames and level_db[first:end].max() >= peak - UTTERANCE_BELOW_PEAK_DB
    ]
    return [(first * frame, min(values.shape[0], end * frame)) for first, end in spoken]


def _count_text(count: int) -> str:
    return _COUNT_WORDS.get(count, str(count))


def word_extent(samples: npt.ArrayLike, sample_rate: int, what: str) -> tuple[int, int]:
    """(start, end) samples of the take's one utterance, or TakeError saying why there is none."""
    values = np.asarray(samples, dtype=np.float32).reshape(-1)
    check_take_duration(values.shape[0], sample_rate, what)
    if is_silent_take(values):
        raise TakeError(
            what,
            f"holds no speech (its peak is below {SILENT_TAKE_PEAK_DBFS:g} dBFS): is the "
            "microphone muted?",
        )
    found = utterances(values, sample_rate)
    if not found:
        raise TakeError(
            what,
            f"holds no speech: nothing in it rises {MIN_SPEECH_ABOVE_FLOOR_DB:g} dB above its "
            "quietest part; say the word with a short pause before and after it",
        )
    if len(found) > 1:
        raise TakeError(
            what, f"holds {_count_text(len(found))} utterances: record the word once per take"
        )
    start, end = found[0]
    seconds = (end - start) / sample_rate
    if seconds > MAX_UTTERANCE_SECONDS:
        raise TakeError(
            what,
            f"holds {seconds:.1f} s of sound without a pause, longer than the "
            f"{MAX_UTTERANCE_SECONDS:g} s a word may last: record one short word per take",
        )
    return start, end


def trim_take(samples: npt.ArrayLike, sample_rate: int, what: str) -> FloatArray:
    """The take's one utterance with TRIM_MARGIN_SECONDS either side (as far as the take goes).

    This is what the store keeps and the trainer embeds; a take that is not exactly one
    utterance of a word's length raises TakeError instead.
    """
    values = np.asarray(samples, dtype=np.float32).reshape(-1)
    start, end = word_extent(values, sample_rate, what)
    margin = int(round(TRIM_MARGIN_SECONDS * sample_rate))
    first, last = max(0, start - margin), min(values.shape[0], end + margin)
    logger.debug(
        "%s: word at %.2f-%.2f s, kept %.2f-%.2f s",
        what,
        start / sample_rate,
        end / sample_rate,
        first / sample_rate,
        last / sample_rate,
    )
    return values[first:last].copy()
