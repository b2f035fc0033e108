"""A spectral tilt: the simplest difference between two microphones, rooms or voices.

The slope is applied in the frequency domain (exact, no filter design) around a pivot frequency,
and the level is kept, so a caller's gain and SNR settings still mean what they say.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kws_app.dsp.levels import rms_of

FloatArray = npt.NDArray[np.float32]


def tilted(
    samples: FloatArray,
    db_per_octave: float,
    sample_rate: int,
    pivot_hz: float,
    lowest_hz: float,
) -> FloatArray:
    """`samples` with every frequency f raised by `db_per_octave` * log2(f / pivot_hz) dB (bins
    under `lowest_hz` get that frequency's gain, so DC and rumble are not blown up), at the same
    RMS as before."""
    if db_per_octave == 0.0 or samples.size == 0:
        return samples
    spectrum = np.fft.rfft(samples.astype(np.float64))
    frequencies = np.fft.rfftfreq(samples.size, d=1.0 / sample_rate)
    octaves = np.log2(np.maximum(frequencies, lowest_hz) / pivot_hz)
    shaped = np.fft.irfft(spectrum * 10.0 ** (db_per_octave * octaves / 20.0), n=samples.size)
    before, after = rms_of(samples), rms_of(shaped.astype(np.float32))
    scale = before / after if after > 0.0 else 0.0
    return (shaped * scale).astype(np.float32)
