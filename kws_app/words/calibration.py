"""A custom word's own operating point, chosen when its head is trained.

The decoder fires a word when its averaged probability passes that word's threshold. A command
word's threshold comes from the model file (calibrated on validation streams); a custom word has
no streams, only what its training saw. So its threshold is read off held-out scores at the
level the decoder compares: the head's calibrated score times the base-model mass a custom word
may take (`kws_app.words.scorer.combine`), for
- negatives the head was NOT fitted on (a held-out slice of speech windows, other words, noise
  and the user's own room or speech), and
- its own examples, each scored by a head fitted without it (leave-one-example-out).

The threshold lets through at most `negative_pass_rate` of the held-out negatives: continuous
speech is where false accepts happen, and a rate per window is what can be measured from a few
thousand windows. It is stored with the head, shown in the Words dialog, and moved by the
sensitivity slider like every command word's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

THRESHOLD_KEY = "threshold"
EXPECTED_DETECTION_KEY = "held_out_detection"
NEGATIVE_PASS_KEY = "held_out_negative_pass"


@dataclass(frozen=True)
class WordCalibrationConfig:
    """How strict a custom word's threshold is; chosen on bench/words_fewshot.py."""

    # Share of held-out negative windows allowed at or above the threshold.
    negative_pass_rate: float = 0.002
    # The threshold never leaves this range: below the lower bound a word would compete with
    # `_unknown_` on every sound, and the upper bound keeps the slider able to move it.
    min_threshold: float = 0.3
    max_threshold: float = 0.98

    def __post_init__(self) -> None:
        if not 0.0 < self.negative_pass_rate < 1.0:
            raise ValueError("negative_pass_rate must lie in (0, 1)")
        if not 0.0 < self.min_threshold <= self.max_threshold < 1.0:
            raise ValueError("thresholds must satisfy 0 < min <= max < 1")


@dataclass(frozen=True)
class WordOperatingPoint:
    threshold: float
    held_out_detection: float
    held_out_negative_pass: float

    def details(self) -> dict[str, float]:
        return {
            THRESHOLD_KEY: self.threshold,
            EXPECTED_DETECTION_KEY: self.held_out_detection,
            NEGATIVE_PASS_KEY: self.held_out_negative_pass,
        }


def word_operating_point(
    positive_probabilities: npt.ArrayLike,
    negative_probabilities: npt.ArrayLike,
    config: WordCalibrationConfig | None = None,
) -> WordOperatingPoint:
    """The lowest threshold passing at most `negative_pass_rate` of the negatives, within bounds."""
    config = config or WordCalibrationConfig()
    positives = np.asarray(positive_probabilities, dtype=np.float64).reshape(-1)
    negatives = np.asarray(negative_probabilities, dtype=np.float64).reshape(-1)
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("calibration needs held-out positives and negatives")
    # The k-th highest negative with k = allowed passes: a threshold just above it lets k through.
    allowed = int(np.floor(config.negative_pass_rate * negatives.size))
    ordered = np.sort(negatives)[::-1]
    boundary = float(np.nextafter(ordered[min(allowed, ordered.size - 1)], np.inf))
    threshold = float(np.clip(boundary, config.min_threshold, config.max_threshold))
    return WordOperatingPoint(
        threshold=threshold,
        held_out_detection=float(np.mean(positives >= threshold)),
        held_out_negative_pass=float(np.mean(negatives >= threshold)),
    )


def describe_operating_point(details: Mapping[str, float | int]) -> str:
    """One line for the Words dialog and `words list`: the word's threshold and what it costs."""
    if THRESHOLD_KEY not in details:
        return "not calibrated yet (retrains on next use)"
    text = f"threshold {float(details[THRESHOLD_KEY]):.2f}"
    if EXPECTED_DETECTION_KEY in details:
        text += f", passed by {float(details[EXPECTED_DETECTION_KEY]):.0%} of held-out takes"
    return text
