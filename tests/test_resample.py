"""The streaming resampler: any device rate to 16 kHz, seamless across blocks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import chirp, resample_poly

from kws_app.audio.resample import StreamingResampler

DEVICE_RATES = [8000, 11025, 22050, 32000, 44100, 48000, 96000]
TARGET = 16000


def stream_through(resampler: StreamingResampler, signal: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out, position = [], 0
    while position < signal.size:
        size = int(rng.integers(1, 3000))
        out.append(resampler.process(signal[position : position + size]))
        position += size
    return np.concatenate(out)


@pytest.mark.parametrize("rate", DEVICE_RATES)
def test_streaming_output_matches_resample_poly_of_the_whole_chirp(rate: int) -> None:
    seconds = 1.0
    t = np.arange(int(rate * seconds)) / rate
    signal = (0.5 * chirp(t, f0=50, t1=seconds, f1=min(rate, TARGET) / 2 * 0.9)).astype(np.float32)
    resampler = StreamingResampler(rate, TARGET)
    streamed = stream_through(resampler, signal, seed=rate)
    reference = resample_poly(signal.astype(np.float64), resampler.up, resampler.down)
    assert streamed.size > 0.98 * reference.size
    np.testing.assert_allclose(streamed, reference[: streamed.size], atol=1e-5)


@pytest.mark.parametrize("rate", DEVICE_RATES)
def test_block_sizes_do_not_change_the_output(rate: int) -> None:
    signal = np.random.default_rng(0).standard_normal(rate // 2).astype(np.float32)
    first = stream_through(StreamingResampler(rate, TARGET), signal, seed=1)
    second = stream_through(StreamingResampler(rate, TARGET), signal, seed=2)
    length = min(first.size, second.size)
    np.testing.assert_array_equal(first[:length], second[:length])


def test_a_1khz_tone_at_48khz_comes_out_as_1khz_at_16khz() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    out = stream_through(StreamingResampler(rate, TARGET), np.sin(2 * np.pi * 1000 * t), seed=3)
    spectrum = np.abs(np.fft.rfft(out[1000:] * np.hanning(out.size - 1000)))
    peak_hz = spectrum.argmax() * TARGET / (out.size - 1000)
    assert abs(peak_hz - 1000) < 2


def test_no_click_at_block_edges_on_a_pure_tone() -> None:
    rate = 44100
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t)
    out = stream_through(StreamingResampler(rate, TARGET), tone, seed=4)
    steady = out[200:-200]
    step = np.abs(np.diff(steady)).max()
    assert step <= 2 * np.pi * 440 / TARGET * 1.01  # never steeper than the sine itself


def test_16khz_input_passes_through_unchanged() -> None:
    signal = np.random.default_rng(5).standard_normal(1000).astype(np.float32)
    np.testing.assert_array_equal(StreamingResampler(TARGET, TARGET).process(signal), signal)


def test_output_length_tracks_the_rate_ratio() -> None:
    resampler = StreamingResampler(48000, TARGET)
    total = sum(resampler.process(np.zeros(480)).size for _ in range(100))
    assert abs(total - 16000) <= resampler.delay_input_samples / 3 + 1


def test_nonpositive_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        StreamingResampler(0, TARGET)
