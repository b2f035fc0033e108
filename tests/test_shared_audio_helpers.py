"""Helpers app, training and benchmarks share: reading and listing audio files, levels, noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import resample_poly

from kws_app.audio.files import (
    AUDIO_SUFFIXES,
    AudioFileError,
    EmptyAudioFileError,
    list_audio_files,
    read_audio_at,
)
from kws_app.dsp.levels import db_to_amplitude, peak_dbfs, power_db, rms_of
from kws_app.dsp.noise import NOISE_COLOURS, unit_peak_noise, unit_rms_noise

RATE = 16000


def _tone(seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def test_a_stereo_44k_file_is_read_as_the_channel_mean_at_16k(tmp_path: Path) -> None:
    left, right = _tone(0.5, 44100, 0.4), _tone(0.5, 44100, 0.2)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    expected = resample_poly((left + right) / 2, 160, 441).astype(np.float32)
    samples = read_audio_at(path, RATE)
    assert samples.dtype == np.float32 and samples.shape == expected.shape
    np.testing.assert_allclose(samples, expected, atol=1e-6)


def test_a_file_at_the_target_rate_is_read_unchanged(tmp_path: Path) -> None:
    tone = _tone(0.25, RATE)
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone, RATE, subtype="FLOAT")
    np.testing.assert_array_equal(read_audio_at(path, RATE), tone)


def test_an_empty_file_and_a_broken_file_are_told_apart(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), RATE)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    with pytest.raises(EmptyAudioFileError):
        read_audio_at(empty, RATE)
    with pytest.raises(AudioFileError, match="cannot read audio file broken.wav") as raised:
        read_audio_at(broken, RATE)
    assert not isinstance(raised.value, EmptyAudioFileError)


def test_listing_finds_every_audio_suffix_in_any_case_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "deeper").mkdir()
    (tmp_path / "folder.wav").mkdir()  # a folder is not a file, whatever its name
    names = ["b.WAV", "a.flac", "c.ogg", "d.opus", "e.mp3", "f.aiff", "notes.txt"]
    for name in names:
        (tmp_path / name).touch()
    (tmp_path / "deeper" / "g.wav").touch()
    assert {".wav", ".flac", ".ogg", ".opus"} <= AUDIO_SUFFIXES
    assert [p.name for p in list_audio_files(tmp_path, recursive=False)] == [
        "a.flac", "b.WAV", "c.ogg", "d.opus", "e.mp3", "f.aiff",
    ]  # fmt: skip
    assert tmp_path / "deeper" / "g.wav" in list_audio_files(tmp_path)


def test_levels_of_a_sine() -> None:
    tone = _tone(1.0, RATE, amplitude=0.5)
    assert rms_of(tone) == pytest.approx(0.5 / np.sqrt(2), rel=1e-4)
    assert power_db(tone, floor=1e-10) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1e-3)
    assert peak_dbfs(tone) == pytest.approx(20 * np.log10(0.5), abs=1e-3)
    assert rms_of(np.zeros(0, np.float32)) == 0.0
    assert peak_dbfs(np.zeros(10, np.float32)) == pytest.approx(-240.0)
    assert db_to_amplitude(-20.0) == pytest.approx(0.1)


@pytest.mark.parametrize("colour", NOISE_COLOURS)
def test_noise_is_reproducible_from_the_seed_and_scaled_as_named(colour: str) -> None:
    def draw(seed: int) -> np.ndarray:
        return unit_rms_noise(colour, RATE, np.random.default_rng(seed))

    np.testing.assert_array_equal(draw(1), draw(1))
    assert not np.array_equal(draw(1), draw(2))
    assert rms_of(draw(1)) == pytest.approx(1.0, rel=1e-5)
    peak_scaled = unit_peak_noise(colour, RATE, np.random.default_rng(1))
    assert np.max(np.abs(peak_scaled)) == pytest.approx(1.0)


def test_an_unknown_noise_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown noise colour 'blue'"):
        unit_rms_noise("blue", RATE, np.random.default_rng(0))
