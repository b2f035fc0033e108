"""Per-class operating points: a threshold per label, moved together by one sensitivity value.

Words differ in how often ordinary speech resembles them ("no", "down" fire far more often than
"left"), so one shared threshold is too strict for some and too loose for others. Training
calibrates a threshold per label on validation streams for a target false-accept rate and stores
them in the model file (docs/model-format.md, `kws.operating_points`). The user still sets one
"probability threshold" (the slider): at the model's `reference_threshold` every label sits at its
calibrated point, and moving the slider shifts every label's threshold by the same amount in
log-odds, so all of them become stricter or looser together and none leaves (0, 1).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from kws_app.config import MAX_AVERAGE_WINDOW_MS, ConfigError, DecoderConfig
from kws_app.errors import UserError

logger = logging.getLogger(__name__)

FORMAT = "kws-operating-points"
VERSION = 1
# Log-odds are unbounded at 0 and 1; the slider's ends map to these instead.
_PROBABILITY_EPSILON = 1e-6
MAX_LABELS = 4096
MAX_JSON_BYTES = 1 << 20
# Keys of `OperatingPoints.details` that training writes and the app reads (docs/model-format.md).
TARGET_RATE_KEY = "target_false_accepts_per_hour"
MARGIN_KEY = "margin_logit"
VALIDATION_HOURS_KEY = "validation_hours"
CROSS_CHECK_KEY = "cross_check_false_accepts_per_hour"
# DecoderConfig fields that a calibration fixes along with the thresholds, recorded in `details`
# under the fields' own names: the thresholds hold only at the window and count they were chosen at.
CALIBRATED_DECODER_FIELDS = ("average_window_ms", "minimum_count", "suppression_ms")
WINDOWS_KEY = "windows_ms"


class OperatingPointsError(UserError, ValueError):
    """Operating points that cannot be used; str() is a one-line message for the user."""


def logit(probability: float) -> float:
    p = min(max(float(probability), _PROBABILITY_EPSILON), 1.0 - _PROBABILITY_EPSILON)
    return math.log(p / (1.0 - p))


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def shift_threshold(calibrated: float, slider: float, reference: float) -> float:
    """`calibrated` moved by the slider's log-odds distance from the reference.

    At the slider's ends (0 and 1) the threshold is exactly 0 or 1, so "fire on anything" and
    "never fire" stay what they say.
    """
    if slider <= 0.0 or slider >= 1.0:
        return float(min(max(slider, 0.0), 1.0))
    return sigmoid(logit(calibrated) + logit(slider) - logit(reference))


@dataclass(frozen=True)
class OperatingPoints:
    """Calibrated thresholds per label, relative to `reference_threshold` on the slider.

    Labels without a calibrated threshold (`_silence_`, `_unknown_`) use the slider's value
    itself. `details` records how the points were chosen (streams, target rate). `windows_ms`
    holds the averaging window of labels calibrated at their own (custom words, whose scores
    flicker more than the command words'); every other label is averaged over the decoder's.
    """

    reference_threshold: float
    thresholds: Mapping[str, float]
    details: Mapping[str, Any] = field(default_factory=dict)
    windows_ms: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.reference_threshold < 1.0:
            raise OperatingPointsError("the reference threshold must lie strictly between 0 and 1")
        if len(self.thresholds) > MAX_LABELS:
            raise OperatingPointsError("too many calibrated labels")
        for label, value in self.thresholds.items():
            if not isinstance(label, str) or not label:
                raise OperatingPointsError("calibrated labels must be non-empty strings")
            if not 0.0 < float(value) < 1.0:
                raise OperatingPointsError(
                    f"the calibrated threshold of {label!r} must lie strictly between 0 and 1"
                )
        for label, window_ms in self.windows_ms.items():
            if not isinstance(label, str) or not label:
                raise OperatingPointsError("labels with their own window must be non-empty strings")
            if not valid_window_ms(window_ms):
                raise OperatingPointsError(
                    f"the averaging window of {label!r} must be a whole number of milliseconds "
                    f"from 1 to {MAX_AVERAGE_WINDOW_MS}"
                )

    def window_for(self, label: str, default_ms: int) -> int:
        """The label's own averaging window, or `default_ms` (the decoder's) if it has none."""
        return int(self.windows_ms.get(label, default_ms))

    def threshold_for(self, label: str, slider: float) -> float:
        calibrated = self.thresholds.get(label)
        if calibrated is None:
            return float(slider)
        return shift_threshold(calibrated, slider, self.reference_threshold)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "reference_threshold": self.reference_threshold,
            "thresholds": dict(self.thresholds),
            "details": dict(self.details),
        }
        if self.windows_ms:
            data[WINDOWS_KEY] = dict(self.windows_ms)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OperatingPoints:
        if len(text) > MAX_JSON_BYTES:
            raise OperatingPointsError("operating points are implausibly large")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ValueError, RecursionError) as error:
            raise OperatingPointsError(f"operating points are not valid JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise OperatingPointsError(f"operating points must be a {FORMAT!r} object")
        if data.get("version") != VERSION:
            raise OperatingPointsError(
                f"operating points version {data.get('version')!r} is not supported"
            )
        reference = data.get("reference_threshold")
        thresholds = data.get("thresholds")
        details = data.get("details", {})
        if not _is_number(reference):
            raise OperatingPointsError("operating points need a numeric reference_threshold")
        if not isinstance(thresholds, dict) or not all(_is_number(v) for v in thresholds.values()):
            raise OperatingPointsError("operating points thresholds must map labels to numbers")
        if not isinstance(details, dict):
            raise OperatingPointsError("operating points details must be an object")
        windows = data.get(WINDOWS_KEY, {})
        if not isinstance(windows, dict) or not all(valid_window_ms(v) for v in windows.values()):
            raise OperatingPointsError(
                f"operating points {WINDOWS_KEY} must map labels to whole milliseconds "
                f"from 1 to {MAX_AVERAGE_WINDOW_MS}"
            )
        return cls(
            float(reference),
            {str(k): float(v) for k, v in thresholds.items()},
            dict(details),
            {str(k): int(v) for k, v in windows.items()},
        )


def valid_window_ms(value: object) -> TypeGuard[int | float]:
    """An averaging window the decoder accepts (DecoderConfig's range, whole milliseconds)."""
    return _is_number(value) and float(value).is_integer() and 1 <= value <= MAX_AVERAGE_WINDOW_MS


def require_window_ms(value: object, name: str) -> None:
    """Refuses a configured averaging window the decoder would not accept (`valid_window_ms`)."""
    if not valid_window_ms(value):
        raise ValueError(f"{name} must be whole milliseconds from 1 to {MAX_AVERAGE_WINDOW_MS}")


def describe_calibration(points: OperatingPoints) -> str:
    """What the thresholds were calibrated for, in a user's words: the target the calibration
    aimed at, the averaging window it holds at (a user may have chosen another) and, where the
    model carries it, how far that target held on validation audio the thresholds were not
    fitted on, so the Advanced panel does not promise more than was measured.
    Details come from a model file, so anything that is not a finite number is left out."""
    details = points.details
    target = details.get(TARGET_RATE_KEY)
    hours = details.get(VALIDATION_HOURS_KEY)
    cross = details.get(CROSS_CHECK_KEY)
    if not _is_number(target):
        return "calibrated per word"
    text = f"calibrated per word for {_per_hour(target)} on ordinary speech"
    window_ms = calibrated_decoder_values(points).get("average_window_ms")
    if window_ms is not None:
        text += f" at a {window_ms} ms averaging window"
    if _is_number(hours):
        text += f" ({hours:.1f} h of validation audio)"
    if _is_number(cross):
        text += f"; {_per_hour(cross)} on validation speech it was not fitted on"
    return text


def calibrated_decoder_values(points: OperatingPoints | None) -> dict[str, int]:
    """The decoder values the thresholds were calibrated at, by DecoderConfig field name.

    Details come from a model file, so only whole numbers are kept; DecoderConfig judges ranges.
    """
    if points is None:
        return {}
    values: dict[str, int] = {}
    for name in CALIBRATED_DECODER_FIELDS:
        value = points.details.get(name)
        if _is_number(value) and float(value).is_integer():
            values[name] = int(value)
    return values


def follow_calibration(
    config: DecoderConfig, calibrated: Mapping[str, int], keep: Collection[str] = ()
) -> DecoderConfig:
    """`config` at the model's calibrated decoder values, except the fields in `keep` (values the
    user chose). A value DecoderConfig refuses leaves that field as it was, so a damaged model
    file cannot leave the decoder unusable."""
    for name, value in calibrated.items():
        if name in keep or name not in CALIBRATED_DECODER_FIELDS:
            continue
        try:
            config = replace(config, **{name: value})
        except ConfigError as error:
            logger.warning("ignoring the model's calibrated %s: %s", name, error)
    return config


def _per_hour(rate: float) -> str:
    unit = "false accept" if rate == 1 else "false accepts"
    return f"{rate:.3g} {unit} per hour"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def label_thresholds(
    labels: Sequence[str], slider: float, points: OperatingPoints | None
) -> npt.NDArray[np.float64]:
    """The threshold of every label, in label order, for this slider value."""
    if points is None:
        return np.full(len(labels), float(slider), dtype=np.float64)
    return np.array([points.threshold_for(label, slider) for label in labels], dtype=np.float64)
