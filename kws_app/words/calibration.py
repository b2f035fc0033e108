"""A custom word's own operating point, chosen when its head is trained.

The decoder fires a word when its averaged probability is the top label's and passes the word's
threshold. A command word's threshold comes from the model file (calibrated on validation
streams); a custom word has no streams, only what its training saw. Its probability is the head's
score times the base-model mass it may take (`kws_app.words.scorer.combine`), and the rest of that
mass stays `_unknown_`'s, so it can only be the top label while its score is above one half.

So the word is calibrated by moving its head's decision point (a shift of the head's logit), not
its threshold: the shift is chosen so that at most `negative_pass_rate` of held-out negatives
(speech windows, other words, noise and the user's room the head was not fitted on) reach
`threshold`, a fixed point above one half where the slider has room both ways. Every custom word
then sits at the same place on the slider as the command words' calibrated points, and the share
of its own held-out examples (each scored by a head fitted without it) that still pass tells the
user how well it was learned. The shift is folded into the stored head; the threshold and those
shares are stored with it, shown in the Words dialog, and moved by the sensitivity slider like
every command word's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kws_app.config import MS_PER_SECOND
from kws_app.inference.operating_points import require_window_ms, valid_window_ms
from kws_app.words.phrases import head_lag_ms
from kws_app.words.synthetic import SYNTHETIC_TAKES_KEY

FloatArray = npt.NDArray[np.float32]

THRESHOLD_KEY = "threshold"
LOGIT_SHIFT_KEY = "calibration_logit_shift"
EXPECTED_DETECTION_KEY = "held_out_detection"
NEGATIVE_PASS_KEY = "held_out_negative_pass"
# The averaging window (ms) the word's operating point was chosen at; absent in heads made before
# words had their own, which are then averaged over the decoder's window.
WINDOW_KEY = "average_window_ms"
_SCORE_EPSILON = 1e-7
_BISECTION_STEPS = 60


@dataclass(frozen=True)
class WordCalibrationConfig:
    """How strict a custom word's operating point is; chosen on bench/words_fewshot.py."""

    # Share of held-out negative windows allowed to reach the threshold: chosen on validation
    # words and streams for the shipped model's embedding (docs/benchmarks.md, "Custom words").
    negative_pass_rate: float = 0.001
    # The probability a custom word must reach at the reference sensitivity; above one half, so a
    # word that reaches it is also the top label.
    threshold: float = 0.7
    # The head's logit moves at most this far either way: further than that the held-out scores
    # say nothing reliable (all negatives pass, or no example would).
    max_logit_shift: float = 20.0
    # The decoder averages a custom word's probability over this window instead of the command
    # words' (kws_app/inference/decoder.py): running speech lifts a head's score for a stride or
    # two, a said word for longer, so a longer average quiets speech more than the word, and the
    # calibration may pass more held-out negatives for the same false accepts in a stream; the
    # word answers later by about half the difference. Chosen with `negative_pass_rate` on
    # validation words (docs/benchmarks.md, "Custom words").
    average_window_ms: int = 600
    # Fewer held-out negatives than this cannot measure `negative_pass_rate` (a model without
    # shipped negatives leaves only the generated noise): the head then keeps its Platt-scaled
    # point, unshifted.
    min_negatives: int = 500

    def __post_init__(self) -> None:
        if not 0.0 < self.negative_pass_rate < 1.0:
            raise ValueError("negative_pass_rate must lie in (0, 1)")
        if not 0.5 <= self.threshold < 1.0:
            raise ValueError("the custom-word threshold must lie in [0.5, 1)")
        if not self.max_logit_shift > 0:
            raise ValueError("max_logit_shift must be positive")
        require_window_ms(self.average_window_ms, "average_window_ms")


@dataclass(frozen=True)
class WordOperatingPoint:
    threshold: float
    logit_shift: float
    held_out_detection: float
    held_out_negative_pass: float
    average_window_ms: int

    def details(self) -> dict[str, float | int]:
        return {
            THRESHOLD_KEY: self.threshold,
            LOGIT_SHIFT_KEY: self.logit_shift,
            EXPECTED_DETECTION_KEY: self.held_out_detection,
            NEGATIVE_PASS_KEY: self.held_out_negative_pass,
            WINDOW_KEY: self.average_window_ms,
        }


def head_window_ms(details: Mapping[str, float | int]) -> int | None:
    """The averaging window a head was calibrated at, or None: heads made before words had their
    own, and a value the decoder would refuse (a hand-edited head file), use the decoder's."""
    value = details.get(WINDOW_KEY)
    return int(value) if valid_window_ms(value) else None


def _logits(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    clipped = np.clip(np.asarray(scores, dtype=np.float64), _SCORE_EPSILON, 1.0 - _SCORE_EPSILON)
    return np.log(clipped / (1.0 - clipped))


def _probabilities(
    logits: npt.NDArray[np.float64], mass: npt.NDArray[np.float64], shift: float
) -> npt.NDArray[np.float64]:
    return mass / (1.0 + np.exp(-np.clip(logits + shift, -60.0, 60.0)))


def word_operating_point(
    positive_scores: npt.ArrayLike,
    positive_mass: npt.ArrayLike,
    negative_scores: npt.ArrayLike,
    negative_mass: npt.ArrayLike,
    config: WordCalibrationConfig | None = None,
) -> WordOperatingPoint:
    """The largest logit shift (the most sensitive head) that keeps held-out negatives reaching
    the threshold within `negative_pass_rate`; scores are the head's, masses the base model's
    share a custom word may take for the same windows."""
    config = config or WordCalibrationConfig()
    positives = _logits(positive_scores).reshape(-1)
    negatives = _logits(negative_scores).reshape(-1)
    positive_share = np.asarray(positive_mass, dtype=np.float64).reshape(-1)
    negative_share = np.asarray(negative_mass, dtype=np.float64).reshape(-1)
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("calibration needs held-out positives and negatives")
    if positives.shape != positive_share.shape or negatives.shape != negative_share.shape:
        raise ValueError("every held-out score needs its mass")

    def pass_rate(shift: float) -> float:
        probabilities = _probabilities(negatives, negative_share, shift)
        return float(np.mean(probabilities >= config.threshold))

    low, high = -config.max_logit_shift, config.max_logit_shift
    if negatives.size < config.min_negatives:
        low = 0.0
    elif pass_rate(high) <= config.negative_pass_rate:
        low = high
    elif pass_rate(low) > config.negative_pass_rate:
        high = low
    else:  # pass_rate rises with the shift: keep low passing the budget, high failing it
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2.0
            if pass_rate(middle) <= config.negative_pass_rate:
                low = middle
            else:
                high = middle
    shift = low
    detection = _probabilities(positives, positive_share, shift) >= config.threshold
    return WordOperatingPoint(
        threshold=config.threshold,
        logit_shift=float(shift),
        held_out_detection=float(np.mean(detection)),
        held_out_negative_pass=pass_rate(shift),
        average_window_ms=config.average_window_ms,
    )


def describe_operating_point(details: Mapping[str, float | int]) -> str:
    """One line for the Words dialog and `words list`: the word's threshold and what it costs."""
    if THRESHOLD_KEY not in details:
        return "not calibrated yet (retrains on next use)"
    text = f"threshold {float(details[THRESHOLD_KEY]):.2f}"
    if EXPECTED_DETECTION_KEY in details and NEGATIVE_PASS_KEY in details:
        text += (
            f": reached by {float(details[EXPECTED_DETECTION_KEY]):.0%} of held-out takes, "
            f"{float(details[NEGATIVE_PASS_KEY]):.1%} of held-out other sounds"
        )
    window_ms = head_window_ms(details)
    if window_ms is not None:
        text += f"; averaged over {window_ms} ms"
    lag_ms = head_lag_ms(details)
    if lag_ms:
        text += f"; a phrase, heard through two windows {lag_ms / MS_PER_SECOND:.1f} s apart"
    synthetic = int(details.get(SYNTHETIC_TAKES_KEY, 0))
    if synthetic:
        text += f"; also learned from {synthetic} synthetic voices"
    return text
