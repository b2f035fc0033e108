"""StreamingPipeline: audio blocks in, spectrogram frames, scores and detections out.

The one engine behind the GUI worker, the headless mode, WAV replay, the tests and training's
streaming evaluation. Its clock is the 16 kHz sample counter, never the wall clock, and the strides
that fall inside one block are scored in one batched model call, so the same audio gives the same
detections whatever the block sizes, and a file replays far faster than real time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kws_app.audio.resample import StreamingResampler
from kws_app.audio.ringbuffer import RingBuffer
from kws_app.config import DecoderConfig, FrontendConfig, StreamConfig
from kws_app.dsp.frontend import StreamingFrontend
from kws_app.inference.decoder import NON_COMMAND_PREFIX, DecoderResult, RecognizeCommands
from kws_app.inference.operating_points import OperatingPoints

FloatArray = npt.NDArray[np.float32]

# Bounds the memory of one batched model call when a long file arrives as one block.
MAX_BATCH_CLIPS = 256


class Scorer(Protocol):
    """What the pipeline needs of a model: its labels, its front end, and batch scoring."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def frontend(self) -> FrontendConfig: ...

    def predict(self, features: FloatArray) -> FloatArray: ...


def history_frames_of(scorer: Scorer) -> int:
    """Frames before each clip that a scorer also reads (`history_frames`; 0 when it has none).

    A custom phrase longer than the clip is heard through two windows, the latest and one that
    ends earlier (kws_app/words/phrases.py), so its scorer asks for the frames in between too; the
    pipeline then hands it windows of `frames_per_clip + history_frames` frames.
    """
    frames = getattr(scorer, "history_frames", 0)
    return frames if isinstance(frames, int) and frames > 0 else 0


def operating_points_of(scorer: Scorer) -> OperatingPoints | None:
    """The scorer's calibrated per-label thresholds; scorers without any (tests' tone models,
    older model files) give None and the slider value is every label's threshold."""
    points = getattr(scorer, "operating_points", None)
    return points if isinstance(points, OperatingPoints) else None


def is_command_label(label: str) -> bool:
    """`_silence_`, `_unknown_` and other underscore labels are never reported to the user."""
    return not label.startswith(NON_COMMAND_PREFIX)


@dataclass(frozen=True)
class Detection:
    time_ms: int
    label: str
    score: float

    def to_json(self) -> str:
        return json.dumps(
            {"time_ms": self.time_ms, "label": self.label, "score": round(self.score, 4)}
        )


@dataclass(frozen=True)
class StrideResult:
    """One model run: the clip ending at `time_ms`, its raw scores and the decoder's verdict."""

    time_ms: int
    scores: FloatArray
    decision: DecoderResult


@dataclass
class PipelineOutput:
    frames: FloatArray
    strides: list[StrideResult] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    elapsed_s: float = 0.0


class StreamingPipeline:
    def __init__(
        self,
        scorer: Scorer,
        input_rate: int,
        stream: StreamConfig | None = None,
        decoder: DecoderConfig | None = None,
    ) -> None:
        self.stream_config = stream or StreamConfig()
        self.input_rate = input_rate
        self.frontend_config = scorer.frontend
        self._stride_frames = self.stream_config.stride_frames(self.frontend_config)
        self._resampler = StreamingResampler(input_rate, self.frontend_config.sample_rate)
        self._frontend = StreamingFrontend(self.frontend_config)
        self._clip_frames = self.frontend_config.frames_per_clip
        self._history_frames = history_frames_of(scorer)
        self._frames = self._frame_ring(self._history_frames)
        self.scorer = scorer
        self.decoder = RecognizeCommands(
            scorer.labels, decoder or DecoderConfig(), operating_points_of(scorer)
        )

    @property
    def settle_ms(self) -> int:
        """How long a stream must go on after its last sound for that sound to be decided: a
        clip, for the word to pass through the scored window, then the longest averaging
        window. A replayed file that ends right after a word needs this much silence after it,
        as a microphone would go on hearing."""
        return self.frontend_config.clip_ms + self.decoder.longest_window_ms

    @property
    def labels(self) -> tuple[str, ...]:
        return self.scorer.labels

    @property
    def decoder_config(self) -> DecoderConfig:
        return self.decoder.config

    def set_decoder_config(self, config: DecoderConfig) -> None:
        """Takes effect on the next stride (the threshold slider relies on this)."""
        self.decoder.update_config(config)

    def set_scorer(self, scorer: Scorer) -> None:
        """Swap the model (e.g. after adding a custom word); the decoder restarts on new labels."""
        if scorer.frontend != self.frontend_config:
            raise ValueError("the new model needs a different front end; build a new pipeline")
        history_frames = history_frames_of(scorer)
        if history_frames != self._history_frames:
            ring = self._frame_ring(history_frames)
            ring.extend(self._frames.latest(min(len(self._frames), ring.capacity)))
            self._frames, self._history_frames = ring, history_frames
        self.scorer = scorer
        self.decoder = RecognizeCommands(
            scorer.labels, self.decoder.config, operating_points_of(scorer)
        )

    def _frame_ring(self, history_frames: int) -> RingBuffer:
        return RingBuffer(self._clip_frames + history_frames, (self.frontend_config.num_mel_bins,))

    @property
    def time_ms(self) -> int:
        """Stream time of the newest sample that reached a complete frame."""
        frames = self._frontend.frames_emitted
        if frames == 0:
            return 0
        return self._frame_end_ms(frames - 1)

    def _frame_end_ms(self, frame_index: int) -> int:
        config = self.frontend_config
        end_sample = frame_index * config.hop_samples + config.window_samples
        return config.samples_to_ms(end_sample)

    def process(self, block: npt.ArrayLike) -> PipelineOutput:
        """Feed input-rate audio; returns what this block completed."""
        started = time.perf_counter()
        samples = self._resampler.process(block)
        first_new_frame = self._frontend.frames_emitted
        new_frames = self._frontend.push(samples)
        output = PipelineOutput(frames=new_frames)
        if new_frames.shape[0] == 0:
            output.elapsed_s = time.perf_counter() - started
            return output

        window = self._clip_frames + self._history_frames
        history = self._frames.latest(min(len(self._frames), window - 1))
        context = np.concatenate((history, new_frames))
        context_start = first_new_frame - history.shape[0]
        self._frames.extend(new_frames)

        ends = [
            index
            for index in range(first_new_frame, first_new_frame + new_frames.shape[0])
            if index + 1 >= self._clip_frames
            and (index + 1 - self._clip_frames) % self._stride_frames == 0
        ]
        for batch_start in range(0, len(ends), MAX_BATCH_CLIPS):
            batch_ends = ends[batch_start : batch_start + MAX_BATCH_CLIPS]
            clips = np.stack(
                [
                    _left_padded(
                        context[max(0, end - context_start - window + 1) : end - context_start + 1],
                        window,
                    )
                    for end in batch_ends
                ]
            )
            scores = self.scorer.predict(clips)
            for end, row in zip(batch_ends, scores, strict=True):
                time_ms = self._frame_end_ms(end)
                decision = self.decoder.process(row, time_ms)
                output.strides.append(StrideResult(time_ms, np.array(row), decision))
                if decision.is_new_command and is_command_label(decision.label):
                    output.detections.append(Detection(time_ms, decision.label, decision.score))
        output.elapsed_s = time.perf_counter() - started
        return output


def _left_padded(frames: FloatArray, count: int) -> FloatArray:
    """`frames` grown to `count` rows by repeating its first row: before the stream began, the
    history a scorer reads is the stream's first frame (the same whatever the block sizes)."""
    missing = count - frames.shape[0]
    return frames if missing <= 0 else np.pad(frames, ((missing, 0), (0, 0)), mode="edge")


def replay_outputs(
    pipeline: StreamingPipeline, audio: npt.ArrayLike, block_samples: int
) -> Iterator[PipelineOutput]:
    """Run a whole signal through the pipeline in blocks of `block_samples`, as a microphone
    would deliver it; yields each block's output."""
    if block_samples <= 0:
        raise ValueError("block size must be positive")
    samples = np.asarray(audio, dtype=np.float32)
    for start in range(0, samples.shape[0], block_samples):
        yield pipeline.process(samples[start : start + block_samples])


def replay(
    pipeline: StreamingPipeline, audio: npt.ArrayLike, block_samples: int
) -> list[Detection]:
    """Run a whole signal through the pipeline in blocks; returns every detection in order."""
    return [
        detection
        for output in replay_outputs(pipeline, audio, block_samples)
        for detection in output.detections
    ]
