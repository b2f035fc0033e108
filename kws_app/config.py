"""Typed, frozen configuration for every stage of the data path.

Every size used anywhere (samples per window, frames per clip, samples per stride) is derived here
from a handful of settings, so the front end, the model and the decoder can never disagree. The
front-end settings travel inside each exported model (see docs/model-format.md), hence the JSON
round trip.

The settings a user can change carry a `Setting` in their field metadata: the name, the flag, the
unit, the valid range, the range a control offers and the help text, said once here. The command
line (config_flags.py), the window's saved settings and its spin boxes (ui/settings.py,
ui/setting_fields.py) and the range checks below are all made from it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from kws_app.errors import UserError

MS_PER_SECOND = 1000
# Upper bounds that no useful setting reaches: a stride longer than any clip, an average or a
# suppression longer than anyone waits for a word, more results than such a window holds.
MAX_CLIP_STRIDE_MS = 1000
MAX_AVERAGE_WINDOW_MS = 10_000
MAX_SUPPRESSION_MS = 60_000
MAX_MINIMUM_COUNT = 1000
# The ranges the window's controls offer: what anyone tuning the decoder by hand would pick.
CONTROL_AVERAGE_WINDOW_RANGE_MS = (100, 3000)
CONTROL_SUPPRESSION_RANGE_MS = (0, 5000)
CONTROL_MINIMUM_COUNT_RANGE = (1, 50)
CONTROL_STEP_MS = 50
CONTROL_THRESHOLD_STEP = 0.01
# Key of a field's `Setting` in its dataclasses metadata.
SETTING_KEY = "kws.setting"

# Front-end settings a model file may carry: anything outside these ranges is a damaged or hostile
# file, and sizes derived from it (an FFT of 2^30 points, a filterbank of millions of bins) would
# exhaust memory instead of failing with a message.
FRONTEND_SAMPLE_RATE_RANGE_HZ = (1000, 192_000)
FRONTEND_WINDOW_RANGE_MS = (1, 1000)
FRONTEND_HOP_RANGE_MS = (1, 1000)
FRONTEND_FFT_SIZE_RANGE = (16, 65_536)
FRONTEND_MEL_BINS_RANGE = (1, 512)
FRONTEND_CLIP_RANGE_MS = (10, 10_000)

_Config = TypeVar("_Config")
_Value = TypeVar("_Value", int, float)


class ConfigError(UserError, ValueError):
    """A configuration value that cannot work; the message is meant for the user."""


@dataclass(frozen=True)
class Setting:
    """What a user sees of one configuration field.

    `name` reads inside a sentence ("averaging window must be between ..."); `valid_range` is what
    the config accepts, `control_range` what a control offers (narrower: the values worth picking
    by hand), moving by `step`. `unit` is a symbol ("ms") or "" for counts and ratios.
    """

    name: str
    flag: str
    help: str
    valid_range: tuple[float, float]
    unit: str = ""
    control_range: tuple[float, float] | None = None
    step: float = 1

    @property
    def dest(self) -> str:
        """The attribute argparse stores the flag's value under."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def label(self) -> str:
        """The name as a form label: "Averaging window"."""
        return self.name[:1].upper() + self.name[1:]

    @property
    def offered_range(self) -> tuple[float, float]:
        return self.control_range or self.valid_range

    def describe_range(self) -> str:
        low, high = self.valid_range
        return f"{_number(low)}-{_number(high)}{_unit_suffix(self.unit)}"

    def check(self, value: float) -> None:
        low, high = self.valid_range
        if not low <= value <= high:  # also refuses NaN
            raise ConfigError(
                f"{self.name} must be between {_number(low)} and {_number(high)}"
                f"{_unit_suffix(self.unit)}"
            )


def setting(default: _Value, description: Setting) -> _Value:
    """A dataclass field with a default and its `Setting`."""
    value: _Value = field(default=default, metadata={SETTING_KEY: description})
    return value


def settings_of(config_class: type) -> dict[str, Setting]:
    """{field name: Setting} of the fields a user can set, in declaration order."""
    return {
        item.name: item.metadata[SETTING_KEY]
        for item in dataclasses.fields(config_class)
        if SETTING_KEY in item.metadata
    }


def check_settings(config: object) -> None:
    """Refuse any described field outside its valid range, in declaration order."""
    for name, description in settings_of(type(config)).items():
        description.check(getattr(config, name))


class JsonConfig:
    """JSON round trip of a flat config dataclass; unknown keys and wrong types are refused."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str) -> Self:
        return _from_mapping(cls, _load_json_object(text, cls.__name__))


@dataclass(frozen=True)
class FrontendConfig(JsonConfig):
    """Log-mel spectrogram settings shared by training and the app.

    A frame covers `window_ms` of audio and frames start every `hop_ms`; a clip of `clip_ms` holds
    `frames_per_clip` frames. Features are `log(mel_energy + log_offset)` of the power spectrum.
    """

    sample_rate: int = 16000
    window_ms: int = 30
    hop_ms: int = 10
    fft_size: int = 512
    num_mel_bins: int = 40
    lower_hz: float = 20.0
    upper_hz: float = 7600.0
    log_offset: float = 1e-6
    window_type: str = "hann"
    clip_ms: int = 1000
    kind: str = "log_mel"

    def __post_init__(self) -> None:
        if self.kind != "log_mel":
            raise ConfigError(f"front end kind {self.kind!r} is not supported (only 'log_mel')")
        if self.window_type != "hann":
            raise ConfigError(f"window {self.window_type!r} is not supported (only 'hann')")
        self._check_ranges()
        if (self.sample_rate * self.window_ms) % MS_PER_SECOND or (
            self.sample_rate * self.hop_ms
        ) % MS_PER_SECOND:
            raise ConfigError("window and hop must be a whole number of samples")
        if self.window_samples > self.fft_size:
            raise ConfigError(
                f"window of {self.window_samples} samples does not fit the FFT size {self.fft_size}"
            )
        if not 0 <= self.lower_hz < self.upper_hz <= self.sample_rate / 2:
            raise ConfigError("mel band edges must satisfy 0 <= lower < upper <= sample_rate/2")
        if self.clip_samples < self.window_samples:
            raise ConfigError("a clip must hold at least one window")
        if not math.isfinite(self.log_offset) or self.log_offset <= 0:
            raise ConfigError("log_offset must be a positive number")

    def _check_ranges(self) -> None:
        """Every size first, so nothing below derives an absurd one from a bad file."""
        _check_range("sample rate", self.sample_rate, FRONTEND_SAMPLE_RATE_RANGE_HZ, " Hz")
        _check_range("window", self.window_ms, FRONTEND_WINDOW_RANGE_MS, " ms")
        _check_range("hop", self.hop_ms, FRONTEND_HOP_RANGE_MS, " ms")
        _check_range("FFT size", self.fft_size, FRONTEND_FFT_SIZE_RANGE, "")
        _check_range("number of mel bins", self.num_mel_bins, FRONTEND_MEL_BINS_RANGE, "")
        _check_range("clip length", self.clip_ms, FRONTEND_CLIP_RANGE_MS, " ms")
        if not (math.isfinite(self.lower_hz) and math.isfinite(self.upper_hz)):
            raise ConfigError("mel band edges must be finite numbers")

    @property
    def window_samples(self) -> int:
        return self.sample_rate * self.window_ms // MS_PER_SECOND

    @property
    def hop_samples(self) -> int:
        return self.sample_rate * self.hop_ms // MS_PER_SECOND

    @property
    def clip_samples(self) -> int:
        return self.sample_rate * self.clip_ms // MS_PER_SECOND

    @property
    def frames_per_clip(self) -> int:
        return 1 + (self.clip_samples - self.window_samples) // self.hop_samples

    @property
    def num_fft_bins(self) -> int:
        return self.fft_size // 2 + 1

    @property
    def input_shape(self) -> tuple[int, int]:
        """The (frames, bins) shape of one clip's features, i.e. the model input less the batch."""
        return (self.frames_per_clip, self.num_mel_bins)

    def samples_to_ms(self, samples: int) -> int:
        return samples * MS_PER_SECOND // self.sample_rate


@dataclass(frozen=True)
class StreamConfig(JsonConfig):
    """How often the model scores the latest clip while audio streams in."""

    # The stride the shipped model's operating points were calibrated for (see DecoderConfig).
    clip_stride_ms: int = setting(
        50,
        Setting(
            name="clip stride",
            flag="--clip-stride-ms",
            help="time between model runs",
            valid_range=(1, MAX_CLIP_STRIDE_MS),
            unit="ms",
        ),
    )
    queue_blocks: int = 64
    # Capture block: every block wakes the audio callback and the listening thread, and each
    # wake-up costs far more than the samples it carries. 40 ms halves the wake-ups of 20 ms,
    # at the price of waiting for a longer block before a word can be scored.
    block_ms: int = 40
    stall_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        check_settings(self)
        if self.queue_blocks <= 0 or self.block_ms <= 0:
            raise ConfigError("queue size and block length must be positive")

    def stride_frames(self, frontend: FrontendConfig) -> int:
        """Clip stride in front-end hops; the stride must be a whole number of hops."""
        if self.clip_stride_ms % frontend.hop_ms:
            raise ConfigError(
                f"clip stride {self.clip_stride_ms} ms is not a multiple of the "
                f"{frontend.hop_ms} ms hop"
            )
        return self.clip_stride_ms // frontend.hop_ms


@dataclass(frozen=True)
class DecoderConfig(JsonConfig):
    """RecognizeCommands settings (TensorFlow speech_commands' streaming decoder).

    `detection_threshold` is the sensitivity slider: with a model that carries calibrated
    operating points (kws_app/inference/operating_points.py) each word fires above its own
    threshold, and 0.5, the models' reference value, puts every word at its calibrated point.
    The averaging window, minimum count and clip stride are the ones the shipped model was
    calibrated for on validation streams (`python -m training calibrate`, recorded in the model's
    `kws.operating_points` details; figures on unseen test streams in docs/benchmarks.md,
    "Streaming accuracy"); a loaded model's own calibrated values replace them
    (`follow_calibration` in kws_app/inference/operating_points.py). Suppression 1000 ms keeps a
    word said twice in a row from firing twice.
    """

    average_window_ms: int = setting(
        400,
        Setting(
            name="averaging window",
            flag="--average-window-ms",
            help="how much recent audio the scores are averaged over before a decision",
            valid_range=(1, MAX_AVERAGE_WINDOW_MS),
            unit="ms",
            control_range=CONTROL_AVERAGE_WINDOW_RANGE_MS,
            step=CONTROL_STEP_MS,
        ),
    )
    detection_threshold: float = setting(
        0.5,
        Setting(
            name="detection threshold",
            flag="--threshold",
            help=(
                "how sure the model must be before a word counts; with a calibrated model 0.5 "
                "puts every word at its own operating point, lower catches more words, higher "
                "fires less often"
            ),
            valid_range=(0.0, 1.0),
            step=CONTROL_THRESHOLD_STEP,
        ),
    )
    suppression_ms: int = setting(
        1000,
        Setting(
            name="suppression time",
            flag="--suppression-ms",
            help="quiet time after a detection before the same word can fire again",
            valid_range=(0, MAX_SUPPRESSION_MS),
            unit="ms",
            control_range=CONTROL_SUPPRESSION_RANGE_MS,
            step=CONTROL_STEP_MS,
        ),
    )
    minimum_count: int = setting(
        3,
        Setting(
            name="minimum count",
            flag="--minimum-count",
            help="fewest scores in the averaging window for a decision",
            valid_range=(1, MAX_MINIMUM_COUNT),
            control_range=CONTROL_MINIMUM_COUNT_RANGE,
        ),
    )

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class AppConfig:
    """Everything the running app needs besides the model, which brings its own front end."""

    stream: StreamConfig = field(default_factory=StreamConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    prefer_gpu: bool = True


def _number(value: float) -> str:
    """1000.0 -> "1000", 0.5 -> "0.5": ranges read as the user would type them."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _unit_suffix(unit: str) -> str:
    return f" {unit}" if unit else ""


def _check_range(what: str, value: int, bounds: tuple[int, int], unit: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(f"{what} {value}{unit} is outside {low}-{high}{unit}")


def _load_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object")
    return value


def _from_mapping(cls: type[_Config], values: dict[str, Any]) -> _Config:
    """Build a config, refusing keys this version does not know (a setting it cannot honour)."""
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has settings this app does not know: {', '.join(unknown)}"
        )
    converted: dict[str, Any] = {}
    for name, value in values.items():
        expected = type(getattr(cls(), name))  # defaults give the expected type
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ConfigError(f"{cls.__name__}.{name} must be {expected.__name__}, got {value!r}")
        converted[name] = value
    return cls(**converted)
