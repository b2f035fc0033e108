"""A spectral tilt changes the balance of low and high frequencies, not the level."""

from __future__ import annotations

import numpy as np
import pytest

from kws_app.dsp.levels import rms_of
from kws_app.dsp.tilt import tilted

RATE = 16000
PIVOT_HZ = 1000.0
LOWEST_HZ = 100.0


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return np.sin(2 * np.pi * hz * t).astype(np.float32)


def _level_db(samples: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(20 * np.log10(spectrum[int(round(hz * samples.size / RATE))]))


@pytest.mark.parametrize("slope", [-6.0, 3.0])
def test_each_octave_moves_by_the_slope_and_the_level_is_kept(slope: float) -> None:
    low, high = 250.0, 4000.0  # four octaves apart, either side of the pivot
    both = _tone(low) + _tone(high)
    shaped = tilted(both, slope, RATE, PIVOT_HZ, LOWEST_HZ)
    before = _level_db(both, high) - _level_db(both, low)
    after = _level_db(shaped, high) - _level_db(shaped, low)
    assert after - before == pytest.approx(4 * slope, abs=0.1)
    assert rms_of(shaped) == pytest.approx(rms_of(both), rel=1e-4)
    assert shaped.dtype == np.float32 and shaped.shape == both.shape


def test_frequencies_under_the_lowest_get_its_gain_not_more() -> None:
    rumble = _tone(25.0) + _tone(LOWEST_HZ)
    shaped = tilted(rumble, -6.0, RATE, PIVOT_HZ, LOWEST_HZ)
    floor = _level_db(shaped, LOWEST_HZ) - _level_db(rumble, LOWEST_HZ)
    assert _level_db(shaped, 25.0) - _level_db(rumble, 25.0) == pytest.approx(floor, abs=0.1)


def test_no_slope_and_no_samples_are_left_as_they_are() -> None:
    tone = _tone(440.0)
    assert tilted(tone, 0.0, RATE, PIVOT_HZ, LOWEST_HZ) is tone
    empty = np.zeros(0, dtype=np.float32)
    assert tilted(empty, 3.0, RATE, PIVOT_HZ, LOWEST_HZ).size == 0
    silence = np.zeros(RATE, dtype=np.float32)
    assert not tilted(silence, 3.0, RATE, PIVOT_HZ, LOWEST_HZ).any()
