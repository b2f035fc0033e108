"""THE feature front end: log-mel spectrogram frames, identical for training and the live app.

Training calls `compute_features` on whole clips; the app pushes microphone blocks of any size into
`StreamingFrontend`, which returns exactly the frames the batch function gives for the same samples
(frame k always covers samples [k * hop, k * hop + window) of the stream). Keeping one code path is
what lets a model trained offline behave the same on a live microphone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import get_window

from kws_app.config import FrontendConfig

FloatArray = npt.NDArray[np.float32]

_MEL_BREAK_HZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def hz_to_mel(hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """HTK mel scale, as in TensorFlow's and Kaldi's speech front ends."""
    return _MEL_HIGH_FREQUENCY_Q * np.log1p(np.asarray(hz, dtype=np.float64) / _MEL_BREAK_HZ)


def mel_to_hz(mel: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return _MEL_BREAK_HZ * np.expm1(np.asarray(mel, dtype=np.float64) / _MEL_HIGH_FREQUENCY_Q)


def mel_filterbank(config: FrontendConfig) -> FloatArray:
    """Triangular filters, shape (fft bins, mel bins), overlapping half-way on the mel scale."""
    fft_hz = np.arange(config.num_fft_bins) * config.sample_rate / config.fft_size
    edges_mel = np.linspace(
        hz_to_mel(config.lower_hz), hz_to_mel(config.upper_hz), config.num_mel_bins + 2
    )
    fft_mel = hz_to_mel(fft_hz)[:, np.newaxis]
    lower, centre, upper = edges_mel[:-2], edges_mel[1:-1], edges_mel[2:]
    rising = (fft_mel - lower) / (centre - lower)
    falling = (upper - fft_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights.astype(np.float32)


class FeatureExtractor:
    """Holds the window and filterbank so neither is rebuilt per call."""

    def __init__(self, config: FrontendConfig) -> None:
        self.config = config
        self._window: FloatArray = get_window(
            config.window_type, config.window_samples, fftbins=True
        ).astype(np.float32)
        self._filterbank = mel_filterbank(config)

    def frames_from_windows(self, windows: FloatArray) -> FloatArray:
        """Features of already framed audio, shape (n, window_samples) -> (n, mel bins)."""
        spectrum = np.fft.rfft(windows * self._window, n=self.config.fft_size, axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel = power @ self._filterbank
        # np.log is typed as returning Any; the annotation keeps the result checked.
        features: FloatArray = np.log(mel + np.float32(self.config.log_offset)).astype(np.float32)
        return features

    def compute(self, wave: npt.ArrayLike) -> FloatArray:
        """Frames of a whole signal: frame k covers samples [k*hop, k*hop + window)."""
        samples = np.asarray(wave, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio (1-D), got shape {samples.shape}")
        count = frame_count(self.config, samples.shape[0])
        if count == 0:
            return np.zeros((0, self.config.num_mel_bins), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(samples, self.config.window_samples)[
            :: self.config.hop_samples
        ][:count]
        return self.frames_from_windows(windows)


def frame_count(config: FrontendConfig, num_samples: int) -> int:
    if num_samples < config.window_samples:
        return 0
    return 1 + (num_samples - config.window_samples) // config.hop_samples


def compute_features(wave: npt.ArrayLike, config: FrontendConfig) -> FloatArray:
    """Batch front end for whole clips (training, evaluation, tests)."""
    return FeatureExtractor(config).compute(wave)


def fit_length(wave: npt.ArrayLike, length: int) -> FloatArray:
    """Zero-pad or trim (keeping the start) a signal to exactly `length` samples."""
    samples = np.asarray(wave, dtype=np.float32)
    out = np.zeros(length, dtype=np.float32)
    kept = min(samples.shape[0], length)
    out[:kept] = samples[:kept]
    return out


def fit_clip(wave: npt.ArrayLike, config: FrontendConfig) -> FloatArray:
    """Zero-pad or trim (keeping the start) a clip to exactly `clip_samples` for training."""
    return fit_length(wave, config.clip_samples)


class StreamingFrontend:
    """Turns blocks of any size into the same frames `compute_features` gives on the whole stream.

    Only the samples not yet covered by a complete frame are kept between calls (less than one
    window), so memory stays constant however long the stream runs.
    """

    def __init__(self, config: FrontendConfig) -> None:
        self.config = config
        self._extractor = FeatureExtractor(config)
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_emitted = 0

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_emitted = 0

    def push(self, block: npt.ArrayLike) -> FloatArray:
        """New frames completed by this block, shape (n, mel bins); n may be 0."""
        samples = np.asarray(block, dtype=np.float32).reshape(-1)
        buffered = np.concatenate((self._pending, samples)) if self._pending.size else samples
        frames = self._extractor.compute(buffered)
        consumed = frames.shape[0] * self.config.hop_samples
        self._pending = np.array(buffered[consumed:], dtype=np.float32)
        self.frames_emitted += frames.shape[0]
        return frames
