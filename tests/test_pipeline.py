"""The streaming pipeline: same audio, same detections, whatever the blocks or the device rate."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from model_factory import (
    HIGH_TONE_HZ,
    LOW_TONE_HZ,
    TONE_DECODER,
    TONE_STREAM,
    silence,
    tone,
)
from scipy.signal import resample_poly

from kws_app.config import StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import StreamingPipeline, replay

RATE = 16000


def tone_words() -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Three tone 'words' with silence around them, and each word's end time in ms."""
    parts, ends, cursor = [], [], 0
    for label, hz in (("low", LOW_TONE_HZ), ("high", HIGH_TONE_HZ), ("low", LOW_TONE_HZ)):
        parts += [silence(1.5), tone(hz, 0.8)]
        cursor += int(2.3 * 1000)
        ends.append((label, cursor))
    parts.append(silence(1.5))
    return np.concatenate(parts), ends


def tone_pipeline(model: OnnxModel, rate: int = RATE) -> StreamingPipeline:
    return StreamingPipeline(model, rate, TONE_STREAM, TONE_DECODER)


@pytest.fixture
def model(tone_model_path: Path) -> OnnxModel:
    return OnnxModel(tone_model_path, prefer_gpu=False)


def test_tone_words_are_detected_in_order_shortly_after_they_end(model: OnnxModel) -> None:
    audio, ends = tone_words()
    detections = replay(tone_pipeline(model), audio, 480)
    assert [d.label for d in detections] == [label for label, _ in ends]
    for detection, (_, end_ms) in zip(detections, ends, strict=True):
        assert -800 < detection.time_ms - end_ms < 500


@pytest.mark.parametrize("block", [1, 7, 160, 333, 4096, 10**6])
def test_block_size_does_not_change_detections(model: OnnxModel, block: int) -> None:
    audio, _ = tone_words()
    reference = replay(tone_pipeline(model), audio, 480)
    audio = audio if block > 1 else audio[: RATE * 3]
    expected = reference if block > 1 else reference[:1]
    found = replay(tone_pipeline(model), audio, block)
    assert [(d.label, d.time_ms) for d in found] == [(d.label, d.time_ms) for d in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert mine.score == pytest.approx(theirs.score, abs=1e-5)


def test_random_block_sizes_give_the_same_scores_at_the_same_times(model: OnnxModel) -> None:
    audio, _ = tone_words()
    whole = tone_pipeline(model).process(audio).strides
    pipeline, rng, strides, position = (
        tone_pipeline(model),
        np.random.default_rng(0),
        [],
        0,
    )
    while position < audio.size:
        size = int(rng.integers(1, 5000))
        strides += pipeline.process(audio[position : position + size]).strides
        position += size
    assert [s.time_ms for s in strides] == [s.time_ms for s in whole]
    np.testing.assert_allclose([s.scores for s in strides], [s.scores for s in whole], atol=1e-5)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_the_same_clip_at_another_device_rate_detects_the_same_words(
    model: OnnxModel, rate: int
) -> None:
    audio, ends = tone_words()
    if rate <= 2 * HIGH_TONE_HZ:  # an 8 kHz device cannot carry the 4 kHz tone
        ends = [(label, end) for label, end in ends if label == "low"]
    expected = replay(tone_pipeline(model), audio, 480)
    expected = [d for d in expected if d.label in {label for label, _ in ends}]
    resampled = resample_poly(audio, rate // 100, RATE // 100).astype(np.float32)
    found = replay(tone_pipeline(model, rate), resampled, rate // 50)
    assert [d.label for d in found] == [d.label for d in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert abs(mine.time_ms - theirs.time_ms) <= 60


def test_strides_come_every_clip_stride_once_a_clip_is_full(model: OnnxModel) -> None:
    stream = StreamConfig(clip_stride_ms=30)
    output = StreamingPipeline(model, RATE, stream).process(silence(2.0))
    times = [s.time_ms for s in output.strides]
    assert times[0] == 1000  # the first full clip ends at 1 s
    assert set(np.diff(times)) == {30}
    assert times[-1] <= 2000


def test_spectrogram_frames_are_returned_as_owned_arrays(model: OnnxModel) -> None:
    pipeline = tone_pipeline(model)
    first = pipeline.process(tone(LOW_TONE_HZ, 0.5)).frames
    snapshot = first.copy()
    pipeline.process(tone(HIGH_TONE_HZ, 2.0))
    np.testing.assert_array_equal(first, snapshot)
    assert first.shape == (48, 40)


def test_a_threshold_change_applies_on_the_next_stride(model: OnnxModel) -> None:
    audio, _ = tone_words()
    strict = replace(TONE_DECODER, detection_threshold=0.99)
    pipeline = StreamingPipeline(model, RATE, TONE_STREAM, strict)
    assert replay(pipeline, audio, 480) == []
    pipeline.set_decoder_config(replace(TONE_DECODER, detection_threshold=0.5))
    assert [d.label for d in replay(pipeline, audio, 480)] == ["low", "high", "low"]


def test_silence_and_unknown_are_never_reported(model: OnnxModel) -> None:
    detections = replay(tone_pipeline(model), silence(5.0), 480)
    assert detections == []


def test_detections_serialise_as_the_documented_json(model: OnnxModel) -> None:
    audio, _ = tone_words()
    line = replay(tone_pipeline(model), audio, 480)[0].to_json()
    import json

    assert set(json.loads(line)) == {"time_ms", "label", "score"}


def test_core_modules_import_neither_qt_nor_sounddevice_nor_torch() -> None:
    code = (
        "import sys\n"
        "import kws_app.dsp.frontend, kws_app.inference.pipeline, kws_app.inference.model\n"
        "import kws_app.inference.decoder, kws_app.audio.ringbuffer, kws_app.audio.resample\n"
        "import kws_app.config\n"
        "bad = [m for m in ('PySide6', 'sounddevice', 'torch', 'pyqtgraph', 'training')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
