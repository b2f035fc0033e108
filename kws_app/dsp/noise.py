"""Generated noise: white, pink and brown, for augmentation, negatives and test streams.

Shaping white noise in the frequency domain gives the exact spectral slope without filter design.
Every random draw comes from the caller's generator, so the same seed gives the same noise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kws_app.dsp.levels import rms_of

FloatArray = npt.NDArray[np.float32]

NOISE_COLOURS = ("white", "pink", "brown")
# Amplitude spectrum ~ 1/f^slope, i.e. power ~ 1/f^(2 slope): pink falls 3 dB, brown 6 dB an octave.
_AMPLITUDE_SLOPES = {"white": 0.0, "pink": 0.5, "brown": 1.0}


def amplitude_slope(colour: str) -> float:
    try:
        return _AMPLITUDE_SLOPES[colour]
    except KeyError:
        raise ValueError(f"unknown noise colour {colour!r}; use one of {NOISE_COLOURS}") from None


def shape_spectrum(white: npt.NDArray[np.float64], slope: float) -> npt.NDArray[np.float64]:
    """`white` with its amplitude spectrum divided by f^slope (the DC bin is left as it is)."""
    spectrum = np.fft.rfft(white)
    frequencies = np.arange(spectrum.shape[0], dtype=np.float64)
    frequencies[0] = 1.0
    return np.fft.irfft(spectrum / frequencies**slope, n=white.shape[0])


def coloured_noise(colour: str, samples: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Gaussian noise of one colour at whatever level the shaping leaves; see the scaled ones."""
    slope = amplitude_slope(colour)
    white = rng.standard_normal(samples)
    return white if slope == 0.0 else shape_spectrum(white, slope)


def unit_rms_noise(colour: str, samples: int, rng: np.random.Generator) -> FloatArray:
    """Noise scaled to an RMS of 1, so a level in dB sets it directly."""
    noise = coloured_noise(colour, samples, rng)
    rms = rms_of(noise.astype(np.float32))
    return (noise / rms).astype(np.float32) if rms > 0 else noise.astype(np.float32)


def unit_peak_noise(colour: str, samples: int, rng: np.random.Generator) -> FloatArray:
    """Zero-mean noise scaled to a peak of 1, like the dataset's own white/pink noise files."""
    noise = coloured_noise(colour, samples, rng)
    noise = noise - noise.mean()
    peak = np.max(np.abs(noise))
    scaled: FloatArray = (noise / peak if peak > 0 else noise).astype(np.float32)
    return scaled
