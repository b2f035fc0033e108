"""Signal levels: RMS, power and peak in dB, and dB gains as amplitudes.

The app (input meter, silent takes), the custom-word trainer, training's stream-shaped examples and
the test streams all set or measure levels; they share these so a "-26 dBFS" means the same thing
everywhere. Sums run in float64, so a long float32 signal does not lose precision.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# dB per decade of amplitude (20) and of power (10).
_AMPLITUDE_DB_PER_DECADE = 20.0
_POWER_DB_PER_DECADE = 10.0
# Below this amplitude a peak reads as about -240 dBFS instead of minus infinity.
PEAK_FLOOR = 1e-12


def mean_power(samples: npt.ArrayLike) -> float:
    """Mean square of the samples; 0 for an empty signal."""
    values = np.asarray(samples)
    return float(np.mean(np.square(values, dtype=np.float64))) if values.size else 0.0


def rms_of(samples: npt.ArrayLike) -> float:
    """Root mean square of the samples; 0 for an empty signal."""
    return math.sqrt(mean_power(samples))


def power_db(samples: npt.ArrayLike, floor: float) -> float:
    """Mean power in dB; `floor` (a power) keeps silence finite."""
    return _POWER_DB_PER_DECADE * math.log10(mean_power(samples) + floor)


def powers_to_db(powers: npt.ArrayLike, floor: float) -> npt.NDArray[np.float64]:
    """Powers (e.g. one per frame) in dB; `floor` keeps silent frames finite."""
    return _POWER_DB_PER_DECADE * np.log10(np.asarray(powers, dtype=np.float64) + floor)


def frame_powers(samples: npt.ArrayLike, frame: int) -> npt.NDArray[np.float64]:
    """Mean power of each whole frame of `frame` samples (a trailing part frame is left out)."""
    values = np.asarray(samples).reshape(-1)
    count = values.shape[0] // frame
    frames = values[: count * frame].astype(np.float64).reshape(count, frame)
    powers: npt.NDArray[np.float64] = np.mean(np.square(frames), axis=1)
    return powers


def peak_dbfs(samples: npt.ArrayLike) -> float:
    """Peak level in dBFS (full scale is 1.0); an empty or all-zero signal gives about -240."""
    values = np.asarray(samples, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return _AMPLITUDE_DB_PER_DECADE * math.log10(max(peak, PEAK_FLOOR))


def db_to_amplitude(db: float) -> float:
    """The amplitude factor of a gain in dB (-20 dB -> 0.1)."""
    return float(10.0 ** (db / _AMPLITUDE_DB_PER_DECADE))
