"""Phrases longer than the base model's clip: heard through two windows, now and a little earlier.

The base model hears one clip (one second) at a time, so a phrase such as "hey computer" (up to
`kws_app.words.takes.MAX_UTTERANCE_SECONDS`) never fits one window whole, and a head that reads
only the latest window learns its last word alone. A long word's head therefore reads two
embeddings side by side: of the window ending `lag_ms` earlier (the phrase's start) and of the
latest one (its end); the two windows together cover the clip plus the lag. The pipeline hands
such a scorer the frames in between (`history_frames`), so it stays stateless and gives the same
scores whatever the block sizes; training cuts the same two windows from one longer window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.inference.operating_points import require_window_ms

FloatArray = npt.NDArray[np.float32]

# In a head's details: the lag (ms) of its earlier window; absent or 0 for a one-window word.
LAG_KEY = "window_lag_ms"


@dataclass(frozen=True)
class PhraseConfig:
    # A word whose spoken part (the median over its examples) is longer than this share of the
    # clip is a phrase: in one window it leaves too little room around it for the shifts and
    # context that single-window heads are trained with.
    long_word_clip_share: float = 0.8
    # How much earlier the second window ends: with a one-second clip, 500 ms lets the two windows
    # span the longest utterance a take may hold (1.5 s).
    lag_ms: int = 500
    # Share of held-out negatives a phrase's threshold may pass (WordCalibrationConfig's for
    # single words): a phrase's negatives include its own halves, and two-window heads fire far
    # less often on running speech; chosen on validation phrases (bench/words_phrases.py
    # --phrases, docs/benchmarks.md).
    negative_pass_rate: float = 0.001
    # The averaging window of a phrase (WordCalibrationConfig's for single words): a phrase's
    # two-window head already hears speech through both windows, and the words' longer window
    # cost phrases more than it quieted them on validation phrases (docs/benchmarks.md).
    average_window_ms: int = 400

    def __post_init__(self) -> None:
        if not 0.0 < self.long_word_clip_share:
            raise ValueError("long_word_clip_share must be positive")
        if self.lag_ms <= 0:
            raise ValueError("lag_ms must be positive")
        if not 0.0 < self.negative_pass_rate < 1.0:
            raise ValueError("negative_pass_rate must lie in (0, 1)")
        require_window_ms(self.average_window_ms, "average_window_ms")

    def is_phrase(self, spoken_samples: float, frontend: FrontendConfig) -> bool:
        return spoken_samples > self.long_word_clip_share * frontend.clip_samples

    def lag_samples(self, frontend: FrontendConfig) -> int:
        return lag_samples(self.lag_ms, frontend)


def lag_samples(lag_ms: int, frontend: FrontendConfig) -> int:
    return frontend.sample_rate * lag_ms // MS_PER_SECOND


def lag_frames(lag_ms: int, frontend: FrontendConfig) -> int:
    """The lag in front-end hops; a lag must be a whole number of hops (checked here)."""
    if lag_ms <= 0 or lag_ms % frontend.hop_ms:
        raise ValueError(f"a window lag of {lag_ms} ms is not a positive multiple of the hop")
    return lag_ms // frontend.hop_ms


def head_lag_ms(details: Mapping[str, float | int]) -> int:
    """The lag a head was fitted with (0: it reads the latest window only)."""
    return int(details.get(LAG_KEY, 0))


def window_pair(
    long_clip: FloatArray, frontend: FrontendConfig, lag_ms: int
) -> tuple[FloatArray, FloatArray]:
    """(earlier, latest) one-clip windows of a window `lag` longer than a clip: the two windows a
    phrase head reads when the longer window ends now."""
    clip = frontend.clip_samples
    lag = lag_samples(lag_ms, frontend)
    if long_clip.shape[0] != clip + lag:
        raise ValueError(f"a phrase window holds {clip + lag} samples, not {long_clip.shape[0]}")
    return long_clip[:clip], long_clip[lag:]


def paired(earlier: npt.ArrayLike, latest: npt.ArrayLike) -> FloatArray:
    """The head input of a phrase: earlier and latest embeddings side by side, per row."""
    return np.concatenate(
        (np.asarray(earlier, dtype=np.float32), np.asarray(latest, dtype=np.float32)), axis=1
    )
