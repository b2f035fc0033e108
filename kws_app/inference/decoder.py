"""RecognizeCommands: turns a stream of per-clip scores into discrete command detections.

A faithful port of TensorFlow's speech_commands `RecognizeCommands` (recognize_commands.py):
single-clip scores flicker, so they are averaged over a time window, and a command is reported only
when the averaged top label clears the threshold, differs from the last reported label, and the
suppression time has passed (a reported silence lifts the suppression). Pure: time is passed in, so
the same scores always give the same detections.

Three changes from TensorFlow's version:
- the top label is compared with its own threshold: a model may carry calibrated per-label
  operating points (kws_app/inference/operating_points.py), and the configured
  `detection_threshold` is then the sensitivity that moves all of them together;
- a label calibrated at its own averaging window (a custom word, `OperatingPoints.windows_ms`)
  is averaged over that window, every other label over the configured one; the warm-up rules
  (minimum count, a quarter of the window) read the configured window, as before;
- any reported non-command label (`_unknown_` as well as `_silence_`) lifts the suppression. In
  TensorFlow's version a reported `_unknown_` (speech just before a command) suppressed the
  command that followed within the suppression time, though the user never sees `_unknown_`.
  It still changes the last reported label, so the same word said twice can fire twice.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kws_app.config import DecoderConfig
from kws_app.errors import UserError
from kws_app.inference.operating_points import OperatingPoints, label_thresholds

SILENCE_LABEL = "_silence_"
# Labels starting with this (`_silence_`, `_unknown_`) are never shown as detections.
NON_COMMAND_PREFIX = "_"
_QUARTER = 4


class DecoderError(UserError, ValueError):
    """Scores that break the decoder's contract (wrong length, time going backwards)."""


@dataclass(frozen=True)
class DecoderResult:
    label: str
    score: float
    is_new_command: bool
    time_ms: int
    average_scores: tuple[float, ...]


class RecognizeCommands:
    def __init__(
        self,
        labels: tuple[str, ...] | list[str],
        config: DecoderConfig,
        operating_points: OperatingPoints | None = None,
    ) -> None:
        if not labels:
            raise ValueError("the decoder needs at least one label")
        self.labels = tuple(labels)
        self.operating_points = operating_points
        self.config = config
        self.thresholds = label_thresholds(
            self.labels, config.detection_threshold, operating_points
        )
        self._set_windows(config)
        self._results: deque[tuple[int, npt.NDArray[np.float64]]] = deque()
        self._previous_top_label = SILENCE_LABEL
        self._previous_top_time_ms: int | None = None

    def update_config(self, config: DecoderConfig) -> None:
        """New settings apply from the next `process` call; the averaging history is kept."""
        self.config = config
        self.thresholds = label_thresholds(
            self.labels, config.detection_threshold, self.operating_points
        )
        self._set_windows(config)

    def _set_windows(self, config: DecoderConfig) -> None:
        """Each label's averaging window (ms), in label order, and how far back results are kept."""
        points = self.operating_points
        default = config.average_window_ms
        self.windows_ms = np.array(
            [
                default if points is None else points.window_for(label, default)
                for label in self.labels
            ],
            dtype=np.int64,
        )
        self._longest_ms = int(self.windows_ms.max())
        self._one_window = bool((self.windows_ms == self._longest_ms).all())

    @property
    def longest_window_ms(self) -> int:
        """The longest averaging window any label is decided over."""
        return self._longest_ms

    def reset(self) -> None:
        self._results.clear()
        self._previous_top_label = SILENCE_LABEL
        self._previous_top_time_ms = None

    def process(self, scores: npt.ArrayLike, time_ms: int) -> DecoderResult:
        latest = np.asarray(scores, dtype=np.float64).reshape(-1)
        if latest.size != len(self.labels):
            raise DecoderError(f"got {latest.size} scores for {len(self.labels)} labels")
        if self._results and time_ms < self._results[-1][0]:
            raise DecoderError(f"time went backwards: {time_ms} ms after {self._results[-1][0]} ms")
        config = self.config
        self._results.append((time_ms, latest))
        time_limit = time_ms - self._longest_ms
        while self._results[0][0] < time_limit:
            self._results.popleft()

        # The warm-up rules read the results inside the decoder's own window.
        if self._longest_ms == config.average_window_ms:
            count, earliest_time = len(self._results), self._results[0][0]
        else:
            window_start = time_ms - config.average_window_ms
            inside = [t for t, _ in self._results if t >= window_start]
            count, earliest_time = len(inside), inside[0]
        if (
            count < config.minimum_count
            or time_ms - earliest_time < config.average_window_ms / _QUARTER
        ):
            return DecoderResult(
                self._previous_top_label, 0.0, False, time_ms, tuple([0.0] * len(self.labels))
            )

        average = self._averages(time_ms)
        top_index = int(np.argmax(average))
        top_label = self.labels[top_index]
        top_score = float(average[top_index])

        if (
            self._previous_top_label.startswith(NON_COMMAND_PREFIX)
            or self._previous_top_time_ms is None
        ):
            time_since_last_top = float("inf")
        else:
            time_since_last_top = time_ms - self._previous_top_time_ms

        is_new = (
            top_score > self.thresholds[top_index]
            and top_label != self._previous_top_label
            and time_since_last_top > config.suppression_ms
        )
        if is_new:
            self._previous_top_label = top_label
            self._previous_top_time_ms = time_ms
        return DecoderResult(top_label, top_score, is_new, time_ms, tuple(average.tolist()))

    def _averages(self, time_ms: int) -> npt.NDArray[np.float64]:
        """Each label's mean over the results inside its own window."""
        rows = np.stack([result for _, result in self._results])
        if self._one_window:
            # Every result kept lies inside every label's window.
            return np.asarray(rows.mean(axis=0), dtype=np.float64)
        times = np.array([t for t, _ in self._results], dtype=np.int64)
        # Per label, the first result inside its window; the newest is inside every window.
        starts = np.searchsorted(times, time_ms - self.windows_ms, side="left")
        totals = np.vstack((np.zeros(len(self.labels)), np.cumsum(rows, axis=0)))
        sums = totals[-1] - totals[starts, np.arange(len(self.labels))]
        return np.asarray(sums / (rows.shape[0] - starts), dtype=np.float64)
