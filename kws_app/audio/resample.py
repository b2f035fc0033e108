"""Streaming polyphase resampler from a device's native rate to the model's rate.

scipy.signal.resample_poly is the reference, but it treats every call as a whole signal; fed block
by block it would restart its filter at every block edge and click. This resampler uses the same
filter design (scipy.signal.firwin with resample_poly's Kaiser window) and keeps the input history
the filter still needs, so the output equals resample_poly of the whole stream, only delayed until
the filter has seen enough future samples.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin, resample_poly

FloatArray = npt.NDArray[np.float32]

# resample_poly's defaults: half-length of the filter per max(up, down), and its Kaiser window.
_HALF_LENGTH_PER_FACTOR = 10
_KAISER_BETA = 5.0


class StreamingResampler:
    """Resamples blocks of any size; `process` returns what each block completes."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {input_rate} -> {output_rate}")
        divisor = gcd(input_rate, output_rate)
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.up = output_rate // divisor
        self.down = input_rate // divisor
        self.passthrough = self.up == self.down == 1
        if self.passthrough:
            self._half_length = 0
            return
        factor = max(self.up, self.down)
        self._half_length = _HALF_LENGTH_PER_FACTOR * factor
        taps = (
            firwin(2 * self._half_length + 1, 1.0 / factor, window=("kaiser", _KAISER_BETA))
            * self.up
        )
        taps_per_phase = -(-taps.size // self.up)
        padded = np.zeros(taps_per_phase * self.up)
        padded[: taps.size] = taps
        # polyphase[p, m] = h[p + m * up]: output at upsampled index t uses phase t % up.
        self._polyphase = padded.reshape(taps_per_phase, self.up).T.astype(np.float64)
        self._taps_per_phase = taps_per_phase
        self.reset()

    def reset(self) -> None:
        if self.passthrough:
            return
        # History holds zeros before the stream start, as resample_poly assumes.
        self._history = np.zeros(self._taps_per_phase - 1, dtype=np.float64)
        self._history_start = -(self._taps_per_phase - 1)  # input index of _history[0]
        self._inputs_seen = 0
        self._outputs_made = 0

    @property
    def delay_input_samples(self) -> float:
        """How many input samples an output waits for: the filter's look-ahead."""
        return self._half_length / self.up

    def process(self, block: npt.ArrayLike) -> npt.NDArray[np.float32]:
        if self.passthrough:
            return np.asarray(block, dtype=np.float32).reshape(-1)
        samples = np.asarray(block, dtype=np.float64).reshape(-1)
        self._history = np.concatenate((self._history, samples))
        self._inputs_seen += samples.size
        # Output n needs inputs up to (n * down + half_length) // up.
        last_input = self._inputs_seen - 1
        ready = (last_input * self.up - self._half_length) // self.down + 1
        count = max(0, ready - self._outputs_made)
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        positions = (
            np.arange(self._outputs_made, self._outputs_made + count) * self.down
            + self._half_length
        )
        phases = positions % self.up
        newest = positions // self.up - self._history_start
        lags = np.arange(self._taps_per_phase)
        gathered = self._history[newest[:, np.newaxis] - lags[np.newaxis, :]]
        output: npt.NDArray[np.float64] = np.einsum("nm,nm->n", gathered, self._polyphase[phases])
        self._outputs_made += count
        # Keep only what future outputs can reach.
        next_newest = (
            self._outputs_made * self.down + self._half_length
        ) // self.up - self._history_start
        keep_from = max(0, next_newest - (self._taps_per_phase - 1))
        self._history = self._history[keep_from:]
        self._history_start += keep_from
        return output.astype(np.float32)


def to_rate(samples: npt.ArrayLike, rate: int, target_rate: int) -> FloatArray:
    """A whole signal at `target_rate` (mono float32): resample_poly, the reference above."""
    values = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate == target_rate:
        return values
    divisor = gcd(int(rate), int(target_rate))
    resampled: FloatArray = resample_poly(values, target_rate // divisor, rate // divisor).astype(
        np.float32
    )
    return resampled
