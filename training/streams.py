"""Stream-shaped training examples and hard-negative mining.

Live, the model scores a window that slides every stride across words, pauses and running speech.
A model trained only on words centred in clips is confident on fragments of conversation and
fires about a quarter second after the word is over; the decoder then needs a long average and a
high threshold to hide that, which costs recall and latency. So the training batches look like
the stream (the end-of-keyword labelling of wake-word detectors):

- a word is a positive only in windows whose end falls within `end_delay_ms` after the word's
  end, with other speech, room tone or noise before it (`context_*`);
- the same word cut before its end (`cut_fraction` of its length) is `_unknown_`, so the model
  waits for the whole word instead of firing on its first syllable;
- a share of every batch is continuous speech at any offset, sometimes across the join of two
  utterances, labelled `_unknown_`;
- windows of the training speech that the current model fires on (mined every so often over the
  whole pool) come back into the batches as extra `_unknown_` examples.

Everything here works on waveforms, so the app's front end and the usual augmentation apply after.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from kws_app.dsp.levels import db_to_amplitude, rms_of
from training.config import StreamExampleConfig
from training.data import SkipCounter, try_read_audio
from training.speech_negatives import SpeechRecording
from training.stream_data import speech_extent

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
MINING_BATCH = 512
NO_EXTENT = -1


def _samples(ms: float, frontend: FrontendConfig) -> int:
    return int(round(ms * frontend.sample_rate / MS_PER_SECOND))


def word_extents(waves: FloatArray, shapeable: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """(start, end) sample of the spoken word of each shapeable clip; NO_EXTENT rows elsewhere."""
    extents = np.full((waves.shape[0], 2), NO_EXTENT, dtype=np.int64)
    for row in np.flatnonzero(shapeable):
        extent = speech_extent(waves[row])
        if extent is not None and extent[1] > extent[0]:
            extents[row] = extent
    return extents


@dataclass
class SpeechPool:
    """Training speech held in memory; windows are drawn in proportion to recording length."""

    recordings: list[FloatArray]
    sample_rate: int

    def __post_init__(self) -> None:
        lengths = np.array([r.shape[0] for r in self.recordings], dtype=np.float64)
        self._weights = lengths / lengths.sum() if lengths.size and lengths.sum() > 0 else lengths

    def __len__(self) -> int:
        return len(self.recordings)

    @property
    def seconds(self) -> float:
        return sum(r.shape[0] for r in self.recordings) / self.sample_rate

    def _pick(self, rng: np.random.Generator) -> FloatArray:
        return self.recordings[int(rng.choice(len(self.recordings), p=self._weights))]

    def window(self, samples: int, rng: np.random.Generator) -> FloatArray:
        return _crop(self._pick(rng), samples, rng)

    def tail(self, samples: int, rng: np.random.Generator) -> FloatArray:
        return self._pick(rng)[-samples:]

    def head(self, samples: int, rng: np.random.Generator) -> FloatArray:
        return self._pick(rng)[:samples]


def _crop(recording: FloatArray, samples: int, rng: np.random.Generator) -> FloatArray:
    if recording.shape[0] <= samples:
        out = np.zeros(samples, dtype=np.float32)
        offset = int(rng.integers(samples - recording.shape[0] + 1))
        out[offset : offset + recording.shape[0]] = recording
        return out
    start = int(rng.integers(recording.shape[0] - samples + 1))
    return recording[start : start + samples].copy()


def load_speech_pool(
    recordings: list[SpeechRecording], sample_rate: int, progress: bool = False
) -> tuple[SpeechPool, SkipCounter]:
    from tqdm import tqdm

    skipped = SkipCounter()
    waves = [
        wave
        for recording in tqdm(recordings, desc="loading speech", disable=not progress)
        if (wave := try_read_audio(recording.path, sample_rate, skipped)) is not None
    ]
    return SpeechPool(waves, sample_rate), skipped


@dataclass(frozen=True)
class HardNegative:
    recording: int
    start: int
    score: float


class StreamShaper:
    """Turns class-balanced rows of the training split into stream-shaped windows (see above)."""

    def __init__(
        self,
        config: StreamExampleConfig,
        frontend: FrontendConfig,
        waves: FloatArray,
        extents: npt.NDArray[np.int64],
        command_rows: npt.NDArray[np.bool_],
        unknown_target: int,
        pool: SpeechPool,
    ) -> None:
        self.config = config
        self.frontend = frontend
        self.waves = waves
        self.extents = extents
        self.command_rows = np.flatnonzero(command_rows & (extents[:, 0] != NO_EXTENT))
        self.unknown_target = unknown_target
        self.pool = pool
        self.hard_negatives: list[HardNegative] = []
        self._clip = frontend.clip_samples

    def batch_counts(self, batch_size: int) -> tuple[int, int, int]:
        """(speech, hard, cut) examples in a batch of `batch_size`; the rest are split rows."""
        config = self.config
        speech = int(round(batch_size * config.speech_share)) if len(self.pool) else 0
        hard = int(round(batch_size * config.hard_share)) if self.hard_negatives else 0
        cut = int(round(batch_size * config.cut_share)) if self.command_rows.size else 0
        return speech, hard, cut

    def shape(
        self, rows: npt.NDArray[np.int64], targets: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Windows and targets of the split `rows` plus the batch's speech, hard and cut extras."""
        speech, hard, cut = self.batch_counts(rows.shape[0])
        keep = rows.shape[0] - speech - hard - cut
        rows, targets = rows[:keep], targets[:keep]
        out: list[FloatArray] = []
        labels: list[int] = []
        for row, target in zip(rows, targets, strict=True):
            if self.extents[row, 0] == NO_EXTENT:
                out.append(self.waves[row])
            else:
                out.append(self._word_window(int(row), rng, cut=False))
            labels.append(int(target))
        for _ in range(speech):
            out.append(self._speech_window(rng))
            labels.append(self.unknown_target)
        for _ in range(hard):
            out.append(self._hard_window(rng))
            labels.append(self.unknown_target)
        for _ in range(cut):
            row = int(self.command_rows[int(rng.integers(self.command_rows.size))])
            out.append(self._word_window(row, rng, cut=True))
            labels.append(self.unknown_target)
        return np.stack(out).astype(np.float32), np.array(labels, dtype=np.int64)

    def _word_window(self, row: int, rng: np.random.Generator, cut: bool) -> FloatArray:
        """The clip in a 2-clip buffer with context before it, cut to end near the word's end."""
        config, clip = self.config, self._clip
        start, end = (int(v) for v in self.extents[row])
        wave = self.waves[row]
        max_delay = _samples(config.end_delay_ms[1], self.frontend)
        buffer = np.zeros(2 * clip + max_delay, dtype=np.float32)
        buffer[clip : 2 * clip] = wave
        if len(self.pool) and rng.random() < config.context_probability:
            gap = _samples(rng.uniform(*config.context_gap_ms), self.frontend)
            context_end = max(0, clip + start - gap)
            length = min(context_end, clip)
            if length > 0:
                context = self.pool.window(length, rng)
                level = rms_of(context)
                if level > 0:
                    target = rms_of(wave[start:end]) * db_to_amplitude(
                        rng.uniform(*config.context_gain_db)
                    )
                    buffer[context_end - length : context_end] += context * np.float32(
                        target / level
                    )
        if cut:
            fraction = rng.uniform(*config.cut_fraction)
            window_end = clip + start + int(fraction * (end - start))
        else:
            delay = _samples(rng.uniform(*config.end_delay_ms), self.frontend)
            window_end = clip + end + delay
        return buffer[window_end - clip : window_end].copy()

    def _speech_window(self, rng: np.random.Generator) -> FloatArray:
        clip = self._clip
        if rng.random() >= self.config.join_probability:
            return self.pool.window(clip, rng)
        out = np.zeros(clip, dtype=np.float32)
        first = int(rng.integers(1, clip))
        gap = min(clip - first, _samples(rng.uniform(*self.config.join_gap_ms), self.frontend))
        tail = self.pool.tail(first, rng)
        out[first - tail.shape[0] : first] = tail
        head = self.pool.head(clip - first - gap, rng)
        out[first + gap : first + gap + head.shape[0]] = head
        return out

    def _hard_window(self, rng: np.random.Generator) -> FloatArray:
        pick = self.hard_negatives[int(rng.integers(len(self.hard_negatives)))]
        recording = self.pool.recordings[pick.recording]
        window = recording[pick.start : pick.start + self._clip]
        if window.shape[0] < self._clip:
            window = np.pad(window, (0, self._clip - window.shape[0]))
        return window.astype(np.float32, copy=True)

    def mine(
        self,
        model: torch.nn.Module,
        extractor: FeatureExtractor,
        command_columns: list[int],
        device: torch.device,
    ) -> list[HardNegative]:
        """Score every `mining_hop_ms` window of the pool; keep the ones that fire most."""
        config, frontend = self.config, self.frontend
        frames = frontend.frames_per_clip
        hop_frames = max(1, config.mining_hop_ms // frontend.hop_ms)
        found: list[HardNegative] = []
        was_training = model.training
        model.eval()
        columns = torch.tensor(command_columns, device=device)
        with torch.no_grad():
            for index, recording in enumerate(self.pool.recordings):
                features = extractor.compute(recording)
                if features.shape[0] < frames:
                    continue
                windows = np.lib.stride_tricks.sliding_window_view(features, frames, axis=0)
                windows = windows[::hop_frames].transpose(0, 2, 1)
                for first in range(0, windows.shape[0], MINING_BATCH):
                    batch = torch.from_numpy(windows[first : first + MINING_BATCH].copy()).to(
                        device
                    )
                    logits, _ = model(batch)
                    scores = torch.softmax(logits, dim=1)[:, columns].max(dim=1).values
                    for offset in torch.nonzero(scores >= config.mining_threshold).flatten():
                        position = first + int(offset)
                        found.append(
                            HardNegative(
                                index,
                                position * hop_frames * frontend.hop_samples,
                                float(scores[offset]),
                            )
                        )
        if was_training:
            model.train()
        found.sort(key=lambda item: item.score, reverse=True)
        kept = found[: config.mining_max_windows]
        # Earlier rounds' finds stay: the model must keep rejecting them after it moves on.
        known = {(h.recording, h.start) for h in self.hard_negatives}
        self.hard_negatives.extend(h for h in kept if (h.recording, h.start) not in known)
        logger.info(
            "mined %d windows at >= %.2f (kept %d, %d hard negatives in all)",
            len(found),
            config.mining_threshold,
            len(kept),
            len(self.hard_negatives),
        )
        return kept


def mining_due(points: tuple[float, ...], before: float, after: float) -> bool:
    """True when training progress crossed one of the mining points during the last epoch."""
    return any(before < point <= after for point in points) and not math.isclose(before, after)
