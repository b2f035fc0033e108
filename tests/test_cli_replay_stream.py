"""`kws-app --wav` streams the file: same detections as decoding it whole, flat memory for any
length, and a header with an absurd sample rate refused in one line before any audio is read."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_factory import (
    HIGH_TONE_HZ,
    LOW_TONE_HZ,
    TONE_DECODER,
    TONE_DECODER_ARGS,
    TONE_STREAM,
    silence,
    tone,
)

from kws_app.audio.files import MAX_FILE_SAMPLE_RATE_HZ, MIN_FILE_SAMPLE_RATE_HZ, read_audio
from kws_app.cli import main
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import StreamingPipeline

FILE_RATE = 48000
CHANNELS = 2
FLOAT32_BYTES = 4
SHORT_FILE_PERIODS = 3
LONG_FILE_PERIODS = 48  # four and a half minutes of low/high pairs, 100 MB decoded
# Streaming holds a block or two (about 10 MB); decoding the file whole would hold all of it, and
# a replay's peak must not grow with the file's length.
MAX_PEAK_FRACTION_OF_DECODED = 0.15
FLAT_PEAK_TOLERANCE = 1.5


def _period() -> np.ndarray:
    """One low tone and one high tone with quiet around them, stereo at 48 kHz.

    The right channel is quieter than the left, so the downmix (their mean) is checked too.
    """
    mono = np.concatenate(
        [
            silence(1.5, FILE_RATE),
            tone(LOW_TONE_HZ, 0.8, FILE_RATE),
            silence(1.5, FILE_RATE),
            tone(HIGH_TONE_HZ, 0.8, FILE_RATE),
            silence(1.0, FILE_RATE),
        ]
    )
    return np.stack([mono, 0.5 * mono], axis=1)


def _write(path: Path, periods: int) -> Path:
    """Written one period at a time, so making the long file needs no long array either."""
    period = _period()
    with soundfile.SoundFile(
        path, "w", samplerate=FILE_RATE, channels=CHANNELS, subtype="PCM_16"
    ) as file:
        for _ in range(periods):
            file.write(period)
    return path


def _replay(capsys: pytest.CaptureFixture[str], wav: Path, model: Path) -> list[dict]:
    assert main([*TONE_DECODER_ARGS, "--wav", str(wav), "--model", str(model)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_streamed_replay_detects_exactly_what_the_whole_file_path_does(
    tmp_path: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = _write(tmp_path / "short.wav", periods=SHORT_FILE_PERIODS)
    audio, rate = read_audio(wav)
    pipeline = StreamingPipeline(
        OnnxModel(tone_model_path, prefer_gpu=False), rate, TONE_STREAM, TONE_DECODER
    )
    whole = [json.loads(d.to_json()) for d in pipeline.process(audio).detections]
    assert [d["label"] for d in whole] == ["low", "high"] * SHORT_FILE_PERIODS
    assert _replay(capsys, wav, tone_model_path) == whole


def _traced_peak_bytes(capsys: pytest.CaptureFixture[str], wav: Path, model: Path) -> int:
    tracemalloc.start()
    try:
        detections = _replay(capsys, wav, model)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    periods = soundfile.info(str(wav)).frames // _period().shape[0]
    assert [d["label"] for d in detections] == ["low", "high"] * periods
    return peak_bytes


def test_long_replay_memory_stays_flat_and_far_below_the_decoded_file(
    tmp_path: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = _write(tmp_path / "short.wav", periods=SHORT_FILE_PERIODS)
    long = _write(tmp_path / "long.wav", periods=LONG_FILE_PERIODS)
    decoded_bytes = soundfile.info(str(long)).frames * CHANNELS * FLOAT32_BYTES
    short_peak = _traced_peak_bytes(capsys, short, tone_model_path)
    long_peak = _traced_peak_bytes(capsys, long, tone_model_path)
    assert long_peak < MAX_PEAK_FRACTION_OF_DECODED * decoded_bytes, (long_peak, decoded_bytes)
    assert long_peak < FLAT_PEAK_TOLERANCE * short_peak, (long_peak, short_peak)


@pytest.mark.parametrize("rate", [7, 1_000_000])
def test_an_absurd_header_sample_rate_is_refused_in_one_line(
    rate: int, tmp_path: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not MIN_FILE_SAMPLE_RATE_HZ <= rate <= MAX_FILE_SAMPLE_RATE_HZ
    wav = tmp_path / f"rate-{rate}.wav"
    soundfile.write(wav, np.zeros(rate // 10 + 1, dtype=np.float32), rate, subtype="PCM_16")
    assert main(["--wav", str(wav), "--model", str(tone_model_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert f"claims a sample rate of {rate} Hz" in captured.err
