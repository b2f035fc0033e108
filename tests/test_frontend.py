"""The front end: what the model sees must be the same offline and live."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_factory import tone

from kws_app.config import ConfigError, FrontendConfig
from kws_app.dsp.frontend import (
    StreamingFrontend,
    compute_features,
    fit_clip,
    frame_count,
    hz_to_mel,
    mel_to_hz,
)

CONFIG = FrontendConfig()


def bin_holding(config: FrontendConfig, hz: float) -> int:
    """The mel bin whose triangle is centred nearest to `hz`."""
    edges = np.linspace(
        hz_to_mel(config.lower_hz), hz_to_mel(config.upper_hz), config.num_mel_bins + 2
    )
    centres_hz = mel_to_hz(edges[1:-1])
    return int(np.abs(centres_hz - hz).argmin())


def test_one_second_clip_gives_the_model_input_shape() -> None:
    features = compute_features(np.zeros(CONFIG.clip_samples), CONFIG)
    assert features.shape == CONFIG.input_shape == (98, 40)
    assert features.dtype == np.float32


def test_silence_is_the_log_of_the_offset() -> None:
    features = compute_features(np.zeros(CONFIG.clip_samples), CONFIG)
    np.testing.assert_allclose(features, np.log(CONFIG.log_offset), rtol=1e-6)


@pytest.mark.parametrize("mel_bin", [5, 13, 25, 38])
def test_a_sine_at_a_mel_bins_centre_peaks_in_that_bin(mel_bin: int) -> None:
    edges = np.linspace(
        hz_to_mel(CONFIG.lower_hz), hz_to_mel(CONFIG.upper_hz), CONFIG.num_mel_bins + 2
    )
    centre_hz = float(mel_to_hz(edges[mel_bin + 1]))
    features = compute_features(tone(centre_hz, 1.0), CONFIG)
    assert np.all(features[5:-5].argmax(axis=1) == mel_bin)


def test_a_1khz_sine_peaks_in_the_bin_that_holds_1khz() -> None:
    features = compute_features(tone(1000.0, 1.0), CONFIG)
    assert np.all(features[5:-5].argmax(axis=1) == bin_holding(CONFIG, 1000.0))


def test_golden_value_of_a_1khz_tone() -> None:
    """Pins the scaling: a 0.5-amplitude 1 kHz sine, Hann window of 480, FFT 512, HTK mel."""
    features = compute_features(tone(1000.0, 1.0), CONFIG)
    peak = features[10:-10, bin_holding(CONFIG, 1000.0)]
    assert peak.std() < 1e-3  # a steady tone gives steady frames
    window_sum = np.hanning(CONFIG.window_samples + 1)[:-1].sum()
    # Half the window sum times the amplitude is the FFT magnitude at the tone's bin; the mel filter
    # of that bin takes a weighted share of the leakage, so the value is within 1 neper of it.
    expected_db = np.log((0.5 * window_sum / 2) ** 2)
    assert abs(float(peak.mean()) - expected_db) < 1.0


def test_louder_input_raises_log_energy_by_the_gain_in_nepers() -> None:
    quiet = compute_features(tone(1000.0, 1.0, amplitude=0.1), CONFIG)
    loud = compute_features(tone(1000.0, 1.0, amplitude=0.4), CONFIG)
    band = bin_holding(CONFIG, 1000.0)
    np.testing.assert_allclose(loud[:, band] - quiet[:, band], 2 * np.log(4.0), atol=1e-3)


@pytest.mark.parametrize("seed", range(5))
def test_streaming_frames_equal_batch_frames_for_random_block_sizes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal(CONFIG.sample_rate * 2).astype(np.float32) * 0.1
    batch = compute_features(signal, CONFIG)
    streaming = StreamingFrontend(CONFIG)
    pieces, position = [], 0
    while position < signal.size:
        size = int(rng.integers(1, 2000))
        pieces.append(streaming.push(signal[position : position + size]))
        position += size
    np.testing.assert_allclose(np.concatenate(pieces), batch, atol=1e-5)


def test_streaming_one_sample_at_a_time_equals_batch() -> None:
    signal = tone(440.0, 0.1) + tone(3000.0, 0.1, amplitude=0.2)
    streaming = StreamingFrontend(CONFIG)
    frames = np.concatenate([streaming.push(signal[i : i + 1]) for i in range(signal.size)])
    np.testing.assert_allclose(frames, compute_features(signal, CONFIG), atol=1e-5)
    assert streaming.frames_emitted == frame_count(CONFIG, signal.size)


def test_short_input_gives_no_frames_until_a_window_is_full() -> None:
    streaming = StreamingFrontend(CONFIG)
    assert streaming.push(np.zeros(CONFIG.window_samples - 1)).shape == (0, CONFIG.num_mel_bins)
    assert streaming.push(np.zeros(1)).shape == (1, CONFIG.num_mel_bins)


def test_fit_clip_pads_and_trims_to_one_clip() -> None:
    assert fit_clip(np.ones(100), CONFIG).shape == (CONFIG.clip_samples,)
    assert fit_clip(np.ones(CONFIG.clip_samples * 2), CONFIG).sum() == CONFIG.clip_samples


def test_mel_scale_round_trips() -> None:
    hz = np.array([0.0, 100.0, 1000.0, 7600.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-6)


def test_multichannel_input_is_refused() -> None:
    with pytest.raises(ValueError, match="mono"):
        compute_features(np.zeros((2, 16000)), CONFIG)


def test_config_round_trips_through_json() -> None:
    config = FrontendConfig(num_mel_bins=64, fft_size=1024, window_ms=40)
    assert FrontendConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"kind": "mfcc"}', "not supported"),
        ('{"window_type": "hamming"}', "not supported"),
        ('{"pcen": true}', "does not know"),
        ('{"hop_ms": "10"}', "must be int"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
        ('{"window_ms": 40, "fft_size": 256}', "does not fit"),
    ],
)
def test_front_ends_this_app_cannot_reproduce_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        FrontendConfig.from_json(text)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1200), min_size=1, max_size=40))
def test_any_split_of_the_stream_gives_the_batch_frames(block_sizes: list[int]) -> None:
    signal = np.random.default_rng(len(block_sizes)).standard_normal(sum(block_sizes))
    signal = signal.astype(np.float32)
    streaming, pieces, position = StreamingFrontend(CONFIG), [], 0
    for size in block_sizes:
        pieces.append(streaming.push(signal[position : position + size]))
        position += size
    np.testing.assert_allclose(np.concatenate(pieces), compute_features(signal, CONFIG), atol=1e-5)
