"""Seeded waveform and feature augmentation.

Every random choice comes from a `numpy.random.Generator` passed in by the caller, so an epoch is
reproducible from (seed, epoch) alone and a resumed run sees the same augmentation it would have
seen without the interruption.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from kws_app.config import FrontendConfig
from kws_app.dsp.levels import db_to_amplitude, frame_powers, rms_of
from kws_app.dsp.noise import NOISE_COLOURS, unit_peak_noise
from training.config import AugmentConfig

FloatArray = npt.NDArray[np.float32]

GENERATED_NOISE_SECONDS = 10
SILENCE_ZERO_PROBABILITY = 0.1


def generated_noise_bank(seed: int, sample_rate: int) -> list[FloatArray]:
    """Long generated noises, made once and cropped per clip (cheaper than shaping per clip).

    Scaled to a peak of 1 like the dataset's own white/pink noise files, whose volume the
    `background_volume` setting was tuned for.
    """
    rng = np.random.default_rng(seed)
    samples = GENERATED_NOISE_SECONDS * sample_rate
    return [unit_peak_noise(colour, samples, rng) for colour in NOISE_COLOURS]


def loud_level(wave: FloatArray, frame: int, loud_share: float) -> float:
    """RMS of the loudest `loud_share` of the wave's frames: its level while someone speaks.

    The mean over the whole wave would count the pauses around a word, so a short word would get
    less noise than a long one at the same SNR.
    """
    powers = frame_powers(wave, frame)
    if powers.size == 0:
        return rms_of(wave)
    keep = max(1, int(math.ceil(powers.size * loud_share)))
    return math.sqrt(float(np.mean(np.sort(powers)[-keep:])))


def random_crop(noise: FloatArray, samples: int, rng: np.random.Generator) -> FloatArray:
    if noise.shape[0] <= samples:
        return np.resize(noise, samples).astype(np.float32)
    start = int(rng.integers(noise.shape[0] - samples + 1))
    return noise[start : start + samples]


def silence_wave(samples: int, noises: list[FloatArray], rng: np.random.Generator) -> FloatArray:
    """A `_silence_` example: digital zero or a noise crop at a random low volume."""
    if not noises or rng.random() < SILENCE_ZERO_PROBABILITY:
        return np.zeros(samples, dtype=np.float32)
    noise = noises[int(rng.integers(len(noises)))]
    volume = rng.uniform(0.0, AugmentConfig().background_volume)
    return (random_crop(noise, samples, rng) * volume).astype(np.float32)


def time_shift(wave: FloatArray, shift: int) -> FloatArray:
    """Move the clip by `shift` samples (positive: later), filling with zeros like TF does."""
    if shift == 0:
        return wave.copy()
    out = np.zeros_like(wave)
    if shift > 0:
        out[shift:] = wave[:-shift]
    else:
        out[:shift] = wave[-shift:]
    return out


def change_speed(wave: FloatArray, rate: float) -> FloatArray:
    """`wave` played `rate` times as fast, kept at its length and aligned on its end.

    End alignment keeps a stream-shaped word where its label says (its end shortly before the
    window's end); audio that a faster copy lacks at the start is silence. Linear interpolation is
    enough for rates near 1, where little energy folds back above the front end's band.
    """
    if rate == 1.0:
        return wave.copy()
    samples = wave.shape[0]
    source = (samples - 1) - (samples - 1 - np.arange(samples, dtype=np.float64)) * rate
    return np.interp(source, np.arange(samples), wave, left=0.0).astype(np.float32)


class Augmenter:
    """Waveform augmentation (speed, shift, gain, noise) and SpecAugment masks on features."""

    def __init__(
        self,
        config: AugmentConfig,
        frontend: FrontendConfig,
        real_noises: list[FloatArray],
        seed: int,
    ) -> None:
        self.config = config
        self.frontend = frontend
        self.real_noises = real_noises
        self.generated_noises = generated_noise_bank(seed, frontend.sample_rate)

    def waves(self, batch: FloatArray, rng: np.random.Generator) -> FloatArray:
        config = self.config
        samples = batch.shape[1]
        max_shift = self.frontend.sample_rate * config.time_shift_ms // 1000
        out = np.empty_like(batch)
        low_db, high_db = config.gain_db_range
        slowest, fastest = config.speed_range
        # An unchanged speed draws nothing, so runs made before speed_range replay the same.
        speed_varies = config.speed_range != (1.0, 1.0)
        for row, wave in enumerate(batch):
            if speed_varies:
                wave = change_speed(wave, float(rng.uniform(slowest, fastest)))
            shift = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
            gain = db_to_amplitude(rng.uniform(low_db, high_db))
            mixed = time_shift(wave, shift) * np.float32(gain)
            if rng.random() < config.background_frequency:
                noise = self._noise(samples, rng)
                if config.noise_snr_db is None:
                    scale = rng.uniform(0.0, config.background_volume)
                else:
                    scale = self._snr_scale(mixed, noise, config.noise_snr_db, rng)
                mixed = mixed + noise * np.float32(scale)
            out[row] = mixed
        return out

    def _snr_scale(
        self,
        wave: FloatArray,
        noise: FloatArray,
        snr_range: tuple[float, float],
        rng: np.random.Generator,
    ) -> float:
        """The noise gain that puts `noise` `snr` dB under the loud part of `wave` (0: silent)."""
        snr = rng.uniform(*snr_range)
        level = loud_level(wave, self.frontend.window_samples, self.config.level_loud_share)
        noise_rms = rms_of(noise)
        if level <= 0 or noise_rms <= 0:
            return 0.0
        return level / noise_rms / db_to_amplitude(snr)

    def _noise(self, samples: int, rng: np.random.Generator) -> FloatArray:
        use_generated = not self.real_noises or rng.random() < self.config.generated_noise_fraction
        bank = self.generated_noises if use_generated else self.real_noises
        return random_crop(bank[int(rng.integers(len(bank)))], samples, rng)

    def features(self, batch: FloatArray, rng: np.random.Generator) -> FloatArray:
        """SpecAugment: masked stripes take each clip's mean, a neutral value for log-mel."""
        config = self.config
        out = batch.copy()
        frames, bins = batch.shape[1], batch.shape[2]
        for row in range(out.shape[0]):
            fill = out[row].mean()
            for _ in range(config.time_masks):
                width = int(rng.integers(0, config.time_mask_frames + 1))
                start = int(rng.integers(0, frames - width + 1))
                out[row, start : start + width, :] = fill
            for _ in range(config.freq_masks):
                width = int(rng.integers(0, config.freq_mask_bins + 1))
                start = int(rng.integers(0, bins - width + 1))
                out[row, :, start : start + width] = fill
        return out
