"""Augmentation is reproducible from its seed and stays within its configured bounds."""

from __future__ import annotations

import numpy as np

from kws_app.config import FrontendConfig
from kws_app.dsp.noise import unit_peak_noise
from training.augment import Augmenter, change_speed, silence_wave, time_shift
from training.config import AugmentConfig

FRONTEND = FrontendConfig()


def _batch(rng: np.random.Generator, clips: int = 8) -> np.ndarray:
    return (0.3 * rng.standard_normal((clips, FRONTEND.clip_samples))).astype(np.float32)


def _augmenter(config: AugmentConfig, seed: int = 5) -> Augmenter:
    real = [np.random.default_rng(9).uniform(-1, 1, 3 * FRONTEND.sample_rate).astype(np.float32)]
    return Augmenter(config, FRONTEND, real, seed)


def test_same_seed_same_result_other_seed_differs() -> None:
    batch = _batch(np.random.default_rng(0))
    augmenter = _augmenter(AugmentConfig())
    first = augmenter.waves(batch, np.random.default_rng(42))
    again = _augmenter(AugmentConfig()).waves(batch, np.random.default_rng(42))
    other = augmenter.waves(batch, np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    features = (
        np.random.default_rng(1).standard_normal((4, *FRONTEND.input_shape)).astype(np.float32)
    )
    np.testing.assert_array_equal(
        augmenter.features(features, np.random.default_rng(7)),
        augmenter.features(features, np.random.default_rng(7)),
    )


def test_shift_moves_audio_by_at_most_the_configured_time() -> None:
    config = AugmentConfig(background_frequency=0.0, gain_db_range=(0.0, 0.0), time_shift_ms=100)
    max_shift = FRONTEND.sample_rate * config.time_shift_ms // 1000
    impulse = np.zeros((64, FRONTEND.clip_samples), dtype=np.float32)
    centre = FRONTEND.clip_samples // 2
    impulse[:, centre] = 1.0
    shifted = _augmenter(config).waves(impulse, np.random.default_rng(3))
    positions = shifted.argmax(axis=1) - centre
    assert np.all(np.abs(positions) <= max_shift)
    assert len(set(positions.tolist())) > 10
    np.testing.assert_array_equal(time_shift(impulse[0], 5)[centre + 5], 1.0)


def test_gain_and_noise_volume_stay_in_bounds() -> None:
    low_db, high_db = -6.0, 3.0
    config = AugmentConfig(
        time_shift_ms=0, background_frequency=0.0, gain_db_range=(low_db, high_db)
    )
    ones = np.ones((200, FRONTEND.clip_samples), dtype=np.float32)
    gains = _augmenter(config).waves(ones, np.random.default_rng(0))[:, 0]
    assert gains.min() >= 10 ** (low_db / 20) - 1e-6
    assert gains.max() <= 10 ** (high_db / 20) + 1e-6
    noisy_config = AugmentConfig(
        time_shift_ms=0, background_frequency=1.0, background_volume=0.1, gain_db_range=(0.0, 0.0)
    )
    zeros = np.zeros((50, FRONTEND.clip_samples), dtype=np.float32)
    noise = _augmenter(noisy_config).waves(zeros, np.random.default_rng(0))
    assert np.abs(noise).max() <= noisy_config.background_volume + 1e-6
    assert np.count_nonzero(np.abs(noise).max(axis=1)) == len(zeros)


def test_spec_masks_stay_within_their_widths() -> None:
    config = AugmentConfig(time_masks=1, time_mask_frames=10, freq_masks=1, freq_mask_bins=5)
    features = (
        np.random.default_rng(1).standard_normal((32, *FRONTEND.input_shape)).astype(np.float32)
    )
    masked = _augmenter(config).features(features, np.random.default_rng(2))
    for before, after in zip(features, masked, strict=True):
        changed = before != after
        frames = np.flatnonzero(changed.all(axis=1))
        bins = np.flatnonzero(changed.all(axis=0))
        assert frames.size <= config.time_mask_frames
        assert bins.size <= config.freq_mask_bins
    assert not np.array_equal(features, masked)


def test_generated_noise_colours_have_their_spectral_slopes() -> None:
    rng = np.random.default_rng(0)
    samples = 1 << 16
    slopes = {}
    for colour in ("white", "pink", "brown"):
        noise = unit_peak_noise(colour, samples, rng)
        assert np.abs(noise).max() <= 1.0 + 1e-6
        power = np.abs(np.fft.rfft(noise)) ** 2
        frequencies = np.arange(power.size)
        band = (frequencies > 10) & (frequencies < power.size // 2)
        slopes[colour] = np.polyfit(np.log(frequencies[band]), np.log(power[band]), 1)[0]
    assert abs(slopes["white"]) < 0.2
    assert abs(slopes["pink"] + 1) < 0.2
    assert abs(slopes["brown"] + 2) < 0.2


def test_silence_is_quiet_and_reproducible() -> None:
    noises = [np.ones(FRONTEND.sample_rate * 2, dtype=np.float32)]
    first = silence_wave(FRONTEND.clip_samples, noises, np.random.default_rng(4))
    again = silence_wave(FRONTEND.clip_samples, noises, np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first).max() <= AugmentConfig().background_volume


def _dominant_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(wave.shape[0])))
    return float(np.fft.rfftfreq(wave.shape[0], 1 / FRONTEND.sample_rate)[spectrum.argmax()])


def test_a_faster_copy_rises_in_pitch_and_keeps_its_length() -> None:
    seconds = np.arange(FRONTEND.clip_samples) / FRONTEND.sample_rate
    tone = np.sin(2 * np.pi * 500.0 * seconds).astype(np.float32)
    faster = change_speed(tone, 1.1)
    slower = change_speed(tone, 0.9)
    assert faster.shape == slower.shape == tone.shape
    assert abs(_dominant_hz(faster[-FRONTEND.sample_rate // 2 :]) - 550.0) < 10
    assert abs(_dominant_hz(slower) - 450.0) < 10
    np.testing.assert_array_equal(change_speed(tone, 1.0), tone)


def test_speed_change_keeps_the_end_where_it_was() -> None:
    """A stream-shaped word ends just before the window's end; a rate change must not move that."""
    wave = np.zeros(FRONTEND.clip_samples, dtype=np.float32)
    word_end = FRONTEND.clip_samples - FRONTEND.sample_rate // 10
    wave[word_end - FRONTEND.sample_rate // 2 : word_end] = 1.0
    for rate in (0.9, 1.1):
        changed = change_speed(wave, rate)
        distance = FRONTEND.clip_samples - 1 - np.flatnonzero(changed > 0.5).max()
        expected = (FRONTEND.clip_samples - word_end) / rate
        assert abs(distance - expected) <= 2
    faster = change_speed(wave, 1.1)
    assert faster[: int(FRONTEND.clip_samples * 0.09)].max() == 0.0  # nothing to play: silence


def test_speed_range_one_draws_nothing_so_older_runs_replay_the_same() -> None:
    batch = _batch(np.random.default_rng(0))
    plain = _augmenter(AugmentConfig()).waves(batch, np.random.default_rng(3))
    explicit = _augmenter(AugmentConfig(speed_range=(1.0, 1.0))).waves(
        batch, np.random.default_rng(3)
    )
    np.testing.assert_array_equal(plain, explicit)
    varied = _augmenter(AugmentConfig(speed_range=(0.9, 1.1))).waves(
        batch, np.random.default_rng(3)
    )
    assert not np.array_equal(plain, varied)
    assert AugmentConfig().disabled().speed_range == (1.0, 1.0)


def test_noise_at_an_snr_sits_that_far_under_the_spoken_part_whatever_its_loudness() -> None:
    """A half-second 'word' in silence: the noise is set against the word, not the pauses."""
    low_db, high_db = 5.0, 15.0
    config = AugmentConfig(
        time_shift_ms=0,
        background_frequency=1.0,
        gain_db_range=(0.0, 0.0),
        noise_snr_db=(low_db, high_db),
    )
    augmenter = _augmenter(config)
    word = np.zeros((40, FRONTEND.clip_samples), dtype=np.float32)
    half = FRONTEND.clip_samples // 2
    rng = np.random.default_rng(1)
    loudness = rng.uniform(0.01, 0.5, size=(len(word), 1)).astype(np.float32)
    word[:, :half] = loudness * np.sign(rng.standard_normal((len(word), half)))
    noisy = augmenter.waves(word, np.random.default_rng(2))
    noise = noisy[:, half:]  # where the word is silent, only the added noise is left
    snr_db = 20 * np.log10(loudness[:, 0] / np.sqrt(np.mean(np.square(noise), axis=1)))
    # The noise crop's own level varies over the clip, so its second half reads within ~2 dB.
    assert snr_db.min() > low_db - 2.0
    assert snr_db.max() < high_db + 2.0
    assert snr_db.max() - snr_db.min() > (high_db - low_db) / 2


def test_silence_gets_no_noise_at_an_snr_and_the_default_keeps_the_volume_range() -> None:
    config = AugmentConfig(background_frequency=1.0, noise_snr_db=(0.0, 10.0))
    zeros = np.zeros((10, FRONTEND.clip_samples), dtype=np.float32)
    assert not _augmenter(config).waves(zeros, np.random.default_rng(0)).any()
    assert AugmentConfig().noise_snr_db is None
