"""`kws-app` on the command line: JSON lines for detections, one line for every user mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, TONE_DECODER_ARGS, silence, tone

from kws_app.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kws_app", *TONE_DECODER_ARGS, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    audio = np.concatenate(
        [silence(1.5), tone(LOW_TONE_HZ, 0.8), silence(1.5), tone(HIGH_TONE_HZ, 0.8), silence(1.0)]
    )
    path = tmp_path / "words.wav"
    soundfile.write(path, audio, 16000)
    return path


def test_wav_replay_prints_one_json_line_per_detection(
    tone_wav: Path, tone_model_path: Path
) -> None:
    result = run_cli("--wav", str(tone_wav), "--model", str(tone_model_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["low", "high"]
    assert all(set(line) == {"time_ms", "label", "score"} for line in lines)
    assert result.stderr == ""


def test_replay_reads_flac_at_another_rate(
    tmp_path: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scipy.signal import resample_poly

    audio = np.concatenate([silence(1.5), tone(LOW_TONE_HZ, 0.8), silence(1.0)])
    path = tmp_path / "word.flac"
    soundfile.write(path, resample_poly(audio, 441, 160), 44100)
    assert main([*TONE_DECODER_ARGS, "--wav", str(path), "--model", str(tone_model_path)]) == 0
    assert [json.loads(line)["label"] for line in capsys.readouterr().out.splitlines()] == ["low"]


def test_a_file_that_ends_on_a_word_still_detects_it(
    tmp_path: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As a one-word clip of a dataset: no silence after the word for its window to pass.
    path = tmp_path / "clip.wav"
    soundfile.write(path, np.concatenate([silence(0.2), tone(LOW_TONE_HZ, 0.8)]), 16000)
    assert main([*TONE_DECODER_ARGS, "--wav", str(path), "--model", str(tone_model_path)]) == 0
    assert [json.loads(line)["label"] for line in capsys.readouterr().out.splitlines()] == ["low"]


def test_threshold_option_reaches_the_decoder(
    tone_wav: Path, tone_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tone words fire at the tone settings; the threshold flag alone moves or stops them."""

    def detections(threshold: float) -> list[dict]:
        argv = [*TONE_DECODER_ARGS, "--threshold", str(threshold)]
        assert main([*argv, "--wav", str(tone_wav), "--model", str(tone_model_path)]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    lower, tone_threshold, unreachable = 0.6, 0.7, 0.99
    early, late = detections(lower), detections(tone_threshold)
    assert [d["label"] for d in early] == [d["label"] for d in late] == ["low", "high"]
    assert all(d["score"] >= lower for d in early)
    assert all(d["score"] >= tone_threshold for d in late)
    # A lower threshold is crossed sooner as the average rises over each tone.
    assert all(a["time_ms"] < b["time_ms"] for a, b in zip(early, late, strict=True))
    assert detections(unreachable) == []


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert text in result.stderr


def test_a_missing_wav_is_one_line(tmp_path: Path, tone_model_path: Path) -> None:
    result = run_cli("--wav", str(tmp_path / "none.wav"), "--model", str(tone_model_path))
    assert_one_line_error(result, "audio file not found")


def test_a_corrupt_wav_is_one_line(tmp_path: Path, tone_model_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    result = run_cli("--wav", str(path), "--model", str(tone_model_path))
    assert_one_line_error(result, "cannot read audio file corrupt.wav")


def test_a_broken_model_is_one_line(tone_wav: Path, tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x08\x07garbage")
    result = run_cli("--wav", str(tone_wav), "--model", str(model))
    assert_one_line_error(result, "broken.onnx is not a valid ONNX model")


def test_an_unknown_device_is_one_line(tone_model_path: Path) -> None:
    result = run_cli(
        "--headless", "--device", "no-such-microphone-xyz", "--model", str(tone_model_path)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "no input device matches" in result.stderr
        or "no audio input device" in result.stderr
        or "PortAudio" in result.stderr
    )


def test_a_bad_threshold_is_one_line(tone_wav: Path, tone_model_path: Path) -> None:
    result = run_cli("--wav", str(tone_wav), "--model", str(tone_model_path), "--threshold", "7")
    assert_one_line_error(result, "threshold must be between 0 and 1")


def test_list_devices_works_without_other_arguments() -> None:
    result = run_cli("--list-devices")
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2)  # 2 only where PortAudio itself is missing
