"""Typed, frozen configuration for every stage of the data path.

Every size used anywhere (samples per window, frames per clip, samples per stride) is derived here
from a handful of settings, so the front end, the model and the decoder can never disagree. The
front-end settings travel inside each exported model (see docs/model-format.md), hence the JSON
round trip.
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


class ConfigError(UserError, ValueError):
    """A configuration value that cannot work; the message is meant for the user."""


@dataclass(frozen=True)
class FrontendConfig:
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

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return _from_mapping(cls, _load_json_object(text, cls.__name__))


@dataclass(frozen=True)
class StreamConfig:
    """How often the model scores the latest clip while audio streams in."""

    # The stride the shipped model's operating points were calibrated for (see DecoderConfig).
    clip_stride_ms: int = 50
    queue_blocks: int = 64
    block_ms: int = 20
    stall_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.clip_stride_ms <= MAX_CLIP_STRIDE_MS:
            raise ConfigError(f"clip stride must be between 1 and {MAX_CLIP_STRIDE_MS} ms")
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

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return _from_mapping(cls, _load_json_object(text, cls.__name__))


@dataclass(frozen=True)
class DecoderConfig:
    """RecognizeCommands settings (TensorFlow speech_commands' streaming decoder).

    `detection_threshold` is the sensitivity slider: with a model that carries calibrated
    operating points (kws_app/inference/operating_points.py) each word fires above its own
    threshold, and 0.5, the models' reference value, puts every word at its calibrated point.
    The averaging window, minimum count and clip stride are the ones the shipped model was
    calibrated for on validation streams (`python -m training calibrate`, recorded in the model's
    `kws.operating_points` details; figures on unseen test streams in docs/benchmarks.md,
    "Streaming accuracy"). Suppression 1000 ms keeps a word said twice in a row from firing twice.
    """

    average_window_ms: int = 300
    detection_threshold: float = 0.5
    suppression_ms: int = 1000
    minimum_count: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.average_window_ms <= MAX_AVERAGE_WINDOW_MS:
            raise ConfigError(f"averaging window must be between 1 and {MAX_AVERAGE_WINDOW_MS} ms")
        if not 0.0 <= self.detection_threshold <= 1.0:
            raise ConfigError("detection threshold must be between 0 and 1")
        if not 0 <= self.suppression_ms <= MAX_SUPPRESSION_MS:
            raise ConfigError(f"suppression time must be between 0 and {MAX_SUPPRESSION_MS} ms")
        if not 1 <= self.minimum_count <= MAX_MINIMUM_COUNT:
            raise ConfigError(f"minimum count must be between 1 and {MAX_MINIMUM_COUNT}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return _from_mapping(cls, _load_json_object(text, cls.__name__))


@dataclass(frozen=True)
class AppConfig:
    """Everything the running app needs besides the model, which brings its own front end."""

    stream: StreamConfig = field(default_factory=StreamConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    prefer_gpu: bool = True


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
