"""make-stream: reproducible streams whose ground truth sits where the words really are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, silence, tone

from training.stream_cli import main as stream_main
from training.stream_data import (
    SAMPLE_RATE,
    StreamError,
    StreamSpec,
    collect_sources,
    generate_stream,
    read_ground_truth,
    speech_extent,
    write_stream,
)

TONE_WORDS = ("low", "high")
UNKNOWN_TONE_HZ = 2500.0
LEAD_S = 0.1  # each tone "word" starts 100 ms into its 1-s clip and lasts 800 ms
WORD_S = 0.8
CLIPS_PER_WORD = 4
FAST_SPEC = dict(duration_s=30.0, unknown_share=0.3)


def _clip(frequency_hz: float) -> np.ndarray:
    return np.concatenate(
        [silence(LEAD_S), tone(frequency_hz, WORD_S), silence(1.0 - LEAD_S - WORD_S)]
    )


def make_tone_dataset(root: Path) -> Path:
    """A tiny Speech Commands-like folder: tone "words" low/high, an unknown word, two splits.

    Files named `*_nohash_0` go to testing, `*_nohash_1` to validation (listed), `*_nohash_2` to
    training (unlisted), so split selection is visible in the streams.
    """
    data = root / "speech_commands"
    testing: list[str] = []
    validation: list[str] = []
    for word, frequency in (("low", LOW_TONE_HZ), ("high", HIGH_TONE_HZ), ("hum", UNKNOWN_TONE_HZ)):
        folder = data / word
        folder.mkdir(parents=True)
        for speaker in range(CLIPS_PER_WORD):
            for take, listing in ((0, testing), (1, validation), (2, None)):
                name = f"{speaker:08x}_nohash_{take}.wav"
                soundfile.write(folder / name, _clip(frequency), SAMPLE_RATE)
                if listing is not None:
                    listing.append(f"{word}/{name}")
    (data / "testing_list.txt").write_text("\n".join(testing) + "\n")
    (data / "validation_list.txt").write_text("\n".join(validation) + "\n")
    negatives = root / "negatives" / "precise" / "heysavant" / "not-wake-words"
    negatives.mkdir(parents=True)
    for index in range(3):
        soundfile.write(negatives / f"sentence{index}.flac", _clip(UNKNOWN_TONE_HZ), SAMPLE_RATE)
    return data


@pytest.fixture
def tone_data(tmp_path: Path) -> Path:
    return make_tone_dataset(tmp_path)


def _stream(data: Path, **settings: float | int | None | bool):  # type: ignore[no-untyped-def]
    negatives_only = bool(settings.pop("negatives_only", False))
    sources = collect_sources(data, "test", TONE_WORDS, negatives_only=negatives_only)
    spec = StreamSpec(**{**FAST_SPEC, **settings, "negatives_only": negatives_only})
    return generate_stream(sources, spec)


def test_same_seed_same_stream_other_seed_other_stream(tone_data: Path) -> None:
    first = _stream(tone_data, seed=7)
    again = _stream(tone_data, seed=7)
    other = _stream(tone_data, seed=8)
    assert np.array_equal(first.audio, again.audio)
    assert first.words == again.words
    assert first.words != other.words
    assert first.audio.shape[0] == 30 * SAMPLE_RATE


def test_ground_truth_marks_where_the_words_were_placed(tone_data: Path) -> None:
    stream = _stream(tone_data, seed=3, snr_db=None)
    assert len(stream.words) >= 6
    spoken = np.zeros(stream.audio.shape[0], dtype=bool)
    for word in stream.words:
        start = word.start_ms * SAMPLE_RATE // 1000
        end = word.end_ms * SAMPLE_RATE // 1000
        # The tone fills the marked span (to within one 10 ms extent frame at each edge) ...
        assert word.end_ms - word.start_ms == pytest.approx(WORD_S * 1000, abs=20)
        inner = stream.audio[start + 160 : end - 160]
        assert np.sqrt(np.mean(inner**2)) > 0.01
        assert word.time_ms == word.end_ms
        spoken[start:end] = True
    # ... and nothing sounds outside the marked spans (no noise in this stream).
    assert np.max(np.abs(stream.audio[~spoken])) < 0.01


def test_labels_follow_folders_and_unknown_share(tone_data: Path) -> None:
    stream = _stream(tone_data, seed=1, duration_s=120.0, unknown_share=0.5)
    labels = {w.label for w in stream.words}
    assert labels <= {"low", "high", "_unknown_"}
    for word in stream.words:
        folder = Path(word.source).parent.name
        assert word.label == (folder if folder in TONE_WORDS else "_unknown_")
    share = sum(not w.is_command for w in stream.words) / len(stream.words)
    assert 0.25 < share < 0.75


def test_stream_uses_only_the_chosen_split(tone_data: Path) -> None:
    test_stream = _stream(tone_data, seed=2, duration_s=60.0)
    assert {Path(w.source).stem.split("_")[-1] for w in test_stream.words} == {"0"}
    sources = collect_sources(tone_data, "validation", TONE_WORDS)
    assert {p.stem.split("_")[-1] for p in sources.commands} == {"1"}


def test_negatives_only_stream_holds_no_command_word(tone_data: Path) -> None:
    stream = _stream(tone_data, seed=4, negatives_only=True)
    assert stream.words
    assert not any(w.is_command for w in stream.words)
    assert all("not-wake-words" in w.source for w in stream.words)


def test_noise_level_follows_the_snr(tone_data: Path) -> None:
    quiet = _stream(tone_data, seed=5, snr_db=None)
    noisy = _stream(tone_data, seed=5, snr_db=10.0)
    noise = noisy.audio - quiet.audio
    speech_rms = 10 ** (StreamSpec().speech_dbfs / 20)
    # 16-bit-free float streams: the added bed's RMS is the speech level less 10 dB.
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(speech_rms / 10 ** (10 / 20), rel=0.1)


def test_speech_extent_trims_silence_and_rejects_empty_clips() -> None:
    first, end = speech_extent(_clip(LOW_TONE_HZ))
    assert first == pytest.approx(LEAD_S * SAMPLE_RATE, abs=160)
    assert end == pytest.approx((LEAD_S + WORD_S) * SAMPLE_RATE, abs=160)
    assert speech_extent(silence(1.0)) is None


def test_written_files_round_trip(tone_data: Path, tmp_path: Path) -> None:
    stream = _stream(tone_data, seed=6)
    write_stream(stream, tmp_path / "s.wav", tmp_path / "s.csv")
    audio, rate = soundfile.read(tmp_path / "s.wav", dtype="float32")
    assert rate == SAMPLE_RATE and audio.shape == stream.audio.shape
    assert read_ground_truth(tmp_path / "s.csv") == sorted(stream.words, key=lambda w: w.end_ms)


def test_tensorflow_style_labels_are_read(tmp_path: Path) -> None:
    path = tmp_path / "tf.txt"
    path.write_text("yes, 1500.0\nno, 4200\n")
    words = read_ground_truth(path)
    assert [(w.label, w.time_ms, w.start_ms) for w in words] == [
        ("yes", 1500, 1500),
        ("no", 4200, 4200),
    ]


@pytest.mark.parametrize("text", ["yes\n", "yes, soon\n", "label,time_ms\nyes,10,20,5\n"])
def test_broken_labels_file_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(StreamError):
        read_ground_truth(path)


def test_make_stream_cli(tone_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, labels = tmp_path / "cli.wav", tmp_path / "cli.csv"
    code = stream_main(
        ["make-stream", "--data-dir", str(tone_data), "--out", str(out), "--labels", str(labels),
         "--duration-s", "20", "--words", "low,high", "--seed", "3"]
    )  # fmt: skip
    assert code == 0 and out.exists() and labels.exists()
    assert "command words" in capsys.readouterr().out


def test_make_stream_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = stream_main(
        ["make-stream", "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "a.wav"),
         "--labels", str(tmp_path / "a.csv")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_silent_recordings_are_skipped(tone_data: Path) -> None:
    silent = tone_data / "low" / "deadbeef_nohash_0.wav"
    soundfile.write(silent, silence(1.0), SAMPLE_RATE)
    with (tone_data / "testing_list.txt").open("a") as listing:
        listing.write("low/deadbeef_nohash_0.wav\n")
    stream = _stream(tone_data, seed=9, duration_s=120.0)
    assert all(Path(w.source) != silent for w in stream.words)
    only_silent = collect_sources(tone_data, "test", ("low",))
    only_silent = replace(only_silent, commands=(silent,), unknowns=())
    with pytest.raises(StreamError, match="audible"):
        generate_stream(only_silent, StreamSpec(duration_s=10.0))
