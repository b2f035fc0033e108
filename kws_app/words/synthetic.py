"""Takes of a custom word in other voices, spoken from its spelling by espeak-ng.

A user teaches a word with five takes of one voice, and the head then learns that voice as much as
the word: other people saying it are found about half as often (docs/benchmarks.md, "Custom
words"). Synthetic voices are crude, but they vary exactly what the user's takes cannot (accent,
vocal tract, speaking rate) and the word embedder learned synthetic words among real ones. espeak-ng
runs as a separate program when it is installed (it is optional: a word trains without it), reads
the text from stdin (a spelling is never an option or a shell word) and writes a WAV to stdout.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile as sf

from kws_app.audio.resample import to_rate

logger = logging.getLogger(__name__)

# espeak-ng only: the voice names below are its own (the older espeak names them otherwise).
ESPEAK_PROGRAM = "espeak-ng"
# The synthetic negatives draw from a second random stream of the same seed.
OTHER_WORDS_STREAM = 1
# Text is cleaned (whitespace folded) only when it is at most this many times the limit long.
MAX_RAW_SPELLING_FACTOR = 4
# What Python makes of bytes that are not UTF-8 (a command-line argument in another encoding).
SURROGATES = (0xD800, 0xDFFF)
# A head's details: how many synthetic takes it learned from.
SYNTHETIC_TAKES_KEY = "synthetic_takes"
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SyntheticVoicesConfig:
    # A dozen voices vary accent and vocal tract enough; each costs an espeak-ng call (tens of ms)
    # and a share of the word's training time.
    takes: int = 12
    # English accents and voice variants of espeak-ng; each take draws one of each.
    accents: tuple[str, ...] = (
        "en-us",
        "en-gb",
        "en-gb-scotland",
        "en-gb-x-rp",
        "en-029",
        "en-gb-x-gbcwmd",
    )
    variants: tuple[str, ...] = (
        "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    )  # fmt: skip
    # Around espeak-ng's defaults (175 wpm, pitch 50): slow to brisk speech, low to high voices.
    words_per_minute: tuple[int, int] = (120, 200)
    pitch: tuple[int, int] = (25, 75)
    max_spelling_chars: int = 60
    # A word takes espeak-ng well under a second; past this it is hung, not slow.
    timeout_s: float = 10.0
    seed: int = 0
    # Other words said the same way, as negatives: with synthetic takes among the positives only,
    # "sounds synthetic" would tell them from the negatives; these take that away.
    other_words: int = 0


# General English words for the synthetic negatives: none is a command word or one of the
# Speech Commands words (the benchmark's reserved and validation words stay unheard).
OTHER_WORDS = (
    "apple", "window", "table", "garden", "morning", "paper", "music", "river", "yellow",
    "doctor", "money", "summer", "kitchen", "button", "pencil", "market", "family", "number",
    "water", "mountain", "travel", "butter", "camera", "island", "letter", "minute", "office",
    "people", "picture", "rabbit", "sister", "station", "teacher", "thunder", "village",
    "winter", "basket", "candle", "dinner", "engine", "finger", "forest", "hammer", "jacket",
    "ladder", "lemon", "magnet", "orange", "planet", "pocket", "rocket", "salad", "silver",
    "spider", "ticket", "tomato", "tunnel", "wallet", "zebra", "blanket",
)  # fmt: skip


class SyntheticVoiceError(RuntimeError):
    """espeak-ng is missing or failed; str() is one line for the user."""


def find_espeak() -> str | None:
    """espeak-ng's path, or None: synthetic voices are optional, so its absence is no error."""
    return shutil.which(ESPEAK_PROGRAM)


def clean_spelling(text: str, config: SyntheticVoicesConfig) -> str:
    """The text espeak-ng is asked to say: printable characters on one line, or ValueError."""
    if len(text) > MAX_RAW_SPELLING_FACTOR * config.max_spelling_chars:
        raise ValueError(f"the spelling is longer than {config.max_spelling_chars} characters")
    if any(SURROGATES[0] <= ord(c) <= SURROGATES[1] for c in text):
        raise ValueError("the spelling is not valid text (check its encoding)")
    spelling = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not spelling:
        raise ValueError("the spelling is empty")
    if len(spelling) > config.max_spelling_chars:
        raise ValueError(f"the spelling is longer than {config.max_spelling_chars} characters")
    return spelling


def synthetic_takes(
    text: str,
    sample_rate: int,
    config: SyntheticVoicesConfig | None = None,
    espeak: str | None = None,
) -> list[FloatArray]:
    """`config.takes` renditions of `text` at `sample_rate`, each in a random voice.

    Raises ValueError for an unusable spelling and SyntheticVoiceError when espeak-ng is missing or
    fails."""
    config = config or SyntheticVoicesConfig()
    spelling = clean_spelling(text, config)
    rng = np.random.default_rng(config.seed)
    return [_say(spelling, sample_rate, config, rng, espeak) for _ in range(config.takes)]


def synthetic_other_words(
    text: str,
    sample_rate: int,
    config: SyntheticVoicesConfig | None = None,
    espeak: str | None = None,
) -> list[FloatArray]:
    """`config.other_words` other words than `text` (none it contains), each once in a random
    voice: negatives said the way the synthetic takes are."""
    config = config or SyntheticVoicesConfig()
    said = set(clean_spelling(text, config).casefold().replace("-", " ").split())
    words = [word for word in OTHER_WORDS if word not in said]
    rng = np.random.default_rng([config.seed, OTHER_WORDS_STREAM])
    chosen = rng.permutation(len(words))[: config.other_words]
    return [_say(words[i], sample_rate, config, rng, espeak) for i in chosen]


def _say(
    spelling: str,
    sample_rate: int,
    config: SyntheticVoicesConfig,
    rng: np.random.Generator,
    espeak: str | None,
) -> FloatArray:
    program = espeak or find_espeak()
    if program is None:
        raise SyntheticVoiceError("espeak-ng is not installed (e.g. apt-get install espeak-ng)")
    accent = config.accents[int(rng.integers(len(config.accents)))]
    variant = config.variants[int(rng.integers(len(config.variants)))]
    speed = int(rng.integers(*config.words_per_minute))
    pitch = int(rng.integers(*config.pitch))
    command = [program, "--stdout", "--stdin", "-v", f"{accent}+{variant}"]
    command += ["-s", str(speed), "-p", str(pitch)]
    try:
        result = subprocess.run(
            command,
            input=spelling.encode("utf-8"),
            capture_output=True,
            timeout=config.timeout_s,
            check=True,
        )
        samples, rate = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    except (OSError, subprocess.SubprocessError, sf.LibsndfileError) as error:
        raise SyntheticVoiceError(f"espeak-ng could not say {spelling!r}: {error}") from error
    mono = samples.mean(axis=1)
    if mono.size == 0 or not np.any(mono):
        raise SyntheticVoiceError(f"espeak-ng said nothing for {spelling!r}")
    return to_rate(mono, rate, sample_rate)
