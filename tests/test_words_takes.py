"""Takes as users make them: pauses around the word are trimmed, anything but one word is refused.

Every take here is real audio made in the test (tones and noise bursts in low room noise, written
to real WAV files for the command line), run through the same `trim_take` the dialog and
`kws-app words add` use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_factory import silence, tone
from words_helpers import (
    NOISE_RMS,
    RATE,
    WHISTLE_HZ,
    detected_labels,
    stream,
    words_tone_model,
)

from kws_app.cli import main
from kws_app.inference.model import OnnxModel
from kws_app.session.vocabulary import with_custom_words
from kws_app.words.store import MAX_EXAMPLE_SECONDS, WordStore
from kws_app.words.takes import (
    MAX_TAKE_SECONDS,
    MAX_TRIMMED_SECONDS,
    MAX_UTTERANCE_SECONDS,
    TRIM_MARGIN_SECONDS,
    TakeError,
    trim_take,
    utterances,
    word_extent,
)
from kws_app.words.wavio import write_wav

WORD_SECONDS = 1.0
BEFORE_SECONDS = 2.0
AFTER_SECONDS = 3.0
# The detector works on 10-ms frames smoothed over 30 ms: edges land within two frames.
EDGE_TOLERANCE_S = 0.02
BURST_SECONDS = 0.4
BURST_AMPLITUDE = 0.3
PAUSE_SECONDS = 1.0
GOOD_TAKES = 5


def _room(seconds: float, rng: np.random.Generator, rms: float = NOISE_RMS) -> np.ndarray:
    return rng.normal(0.0, rms, int(round(seconds * RATE))).astype(np.float32)


def _in_room(parts: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """The parts one after another, in the low noise of a quiet room."""
    wave = np.concatenate(parts)
    return (wave + _room(wave.size / RATE, np.random.default_rng(seed))).astype(np.float32)


def _burst(seconds: float, seed: int = 1) -> np.ndarray:
    """A noise burst: a stand-in for a spoken syllable with a broad spectrum."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, BURST_AMPLITUDE, int(round(seconds * RATE))), -1, 1).astype(
        np.float32
    )


def six_second_take(frequency_hz: float = WHISTLE_HZ, seed: int = 0) -> np.ndarray:
    """2 s of pause, the word (a tone) for 1 s, 3 s of pause: an ordinary hand-made recording."""
    return _in_room(
        [silence(BEFORE_SECONDS), tone(frequency_hz, WORD_SECONDS, amplitude=0.4),
         silence(AFTER_SECONDS)],
        seed,
    )  # fmt: skip


def two_utterances() -> np.ndarray:
    return _in_room(
        [silence(1.0), _burst(BURST_SECONDS), silence(PAUSE_SECONDS), _burst(BURST_SECONDS, 2),
         silence(1.0)]
    )  # fmt: skip


def too_long_take() -> np.ndarray:
    """11 s: a short word in the middle of a file longer than any take may be."""
    return _in_room([silence(5.0), _burst(BURST_SECONDS), silence(5.6)])


def long_utterance() -> np.ndarray:
    """2 s of sound without a pause, inside a take of acceptable length."""
    return _in_room([silence(1.0), _burst(2.0), silence(1.0)])


def noise_only() -> np.ndarray:
    return _room(3.0, np.random.default_rng(4), rms=0.05)


def test_a_six_second_take_is_trimmed_to_the_word_and_its_margins() -> None:
    take = six_second_take()
    start, end = word_extent(take, RATE, "take 1")
    assert abs(start / RATE - BEFORE_SECONDS) <= EDGE_TOLERANCE_S
    assert abs(end / RATE - (BEFORE_SECONDS + WORD_SECONDS)) <= EDGE_TOLERANCE_S
    trimmed = trim_take(take, RATE, "take 1")
    margin = int(round(TRIM_MARGIN_SECONDS * RATE))
    np.testing.assert_array_equal(trimmed, take[start - margin : end + margin])
    assert trimmed.size / RATE == pytest.approx(
        WORD_SECONDS + 2 * TRIM_MARGIN_SECONDS, abs=2 * EDGE_TOLERANCE_S
    )


def test_the_margin_stops_at_the_takes_edges() -> None:
    """A word said right after the recording started keeps what there is before it."""
    take = _in_room([silence(0.05), tone(WHISTLE_HZ, WORD_SECONDS, amplitude=0.4), silence(1.0)])
    trimmed = trim_take(take, RATE, "take 1")
    np.testing.assert_array_equal(trimmed[:100], take[:100])
    assert trimmed.size < take.size


def test_a_file_cut_close_around_the_word_is_accepted() -> None:
    """Someone else's recordings are often cut tight: 0.1 s either side is quiet enough."""
    take = _in_room([silence(0.1), tone(WHISTLE_HZ, WORD_SECONDS, amplitude=0.4), silence(0.1)])
    np.testing.assert_array_equal(trim_take(take, RATE, "take 1"), take)


def test_short_gaps_inside_a_word_are_bridged_and_a_click_is_not_a_word() -> None:
    """Two syllables 150 ms apart are one word; a key click far from it is not a second one."""
    word = [_burst(0.3), silence(0.15), _burst(0.3, 2)]
    take = _in_room([silence(1.0), *word, silence(1.0), _burst(0.003, 3) * 3, silence(0.5)])
    assert len(utterances(take, RATE)) == 1
    trimmed = trim_take(take, RATE, "take 1")
    assert trimmed.size / RATE == pytest.approx(0.75 + 2 * TRIM_MARGIN_SECONDS, abs=0.05)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (noise_only, "take 3 holds no speech"),
        (lambda: silence(2.0), "take 3 holds no speech"),
        (two_utterances, "take 3 holds two utterances: record the word once per take"),
        (too_long_take, f"take 3 is longer than the {MAX_TAKE_SECONDS:g} s a take may last"),
        (
            long_utterance,
            "take 3 holds 2.0 s of sound without a pause, longer than the "
            f"{MAX_UTTERANCE_SECONDS:g} s a word may last",
        ),
    ],
    ids=["noise only", "silent", "two utterances", "11 s", "long utterance"],
)
def test_takes_that_are_not_one_word_are_refused_in_one_line(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TakeError) as caught:
        trim_take(make(), RATE, "take 3")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert str(caught.value) == f"take 3 {caught.value.reason}"


def test_a_trimmed_take_fits_what_the_store_and_word_files_keep() -> None:
    assert MAX_TRIMMED_SECONDS <= MAX_EXAMPLE_SECONDS


# ----- the command line ---------------------------------------------------------------------


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    return words_tone_model(tmp_path / "words_tone.onnx")


def _takes_folder(folder: Path, count: int = GOOD_TAKES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        write_wav(folder / f"take{index}.wav", six_second_take(seed=index), RATE)
    return folder


def _add(capsys, model: Path, store: Path, folder: Path) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(
        ["words", "--store", str(store), "--model", str(model), "add", "whistle",
         "--from-wav-dir", str(folder)]
    )  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_line_learns_a_word_from_six_second_takes(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, tmp_path: Path
) -> None:
    store_path = tmp_path / "store"
    code, out, err = _add(capsys, words_model_path, store_path, _takes_folder(tmp_path / "takes"))
    assert code == 0, err
    assert "added 'whistle' from 5 recordings" in out
    store = WordStore(store_path)
    stored = store.examples(store.get("whistle"))
    for samples, rate in stored:
        assert rate == RATE
        assert samples.size / RATE == pytest.approx(
            WORD_SECONDS + 2 * TRIM_MARGIN_SECONDS, abs=2 * EDGE_TOLERANCE_S
        )
    model = OnnxModel(words_model_path, prefer_gpu=False)
    # Said as it was taught: a 1 s word is learned as a phrase (two windows), which a shorter
    # tone, no more than its first or last half, must not set off.
    heard = stream(WHISTLE_HZ, tone_seconds=WORD_SECONDS)
    assert detected_labels(with_custom_words(model, store), heard) == ["whistle"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (noise_only, "take 6 (take9.wav) holds no speech"),
        (lambda: silence(2.0), "take 6 (take9.wav) holds no speech"),
        (two_utterances, "take 6 (take9.wav) holds two utterances: record the word once per take"),
        (too_long_take, f"take 6 (take9.wav) is longer than the {MAX_TAKE_SECONDS:g} s"),
        (
            long_utterance,
            "take 6 (take9.wav) holds 2.0 s of sound without a pause, longer than the "
            f"{MAX_UTTERANCE_SECONDS:g} s a word may last",
        ),
    ],
    ids=["noise only", "silent", "two utterances", "11 s", "long utterance"],
)
def test_the_command_line_names_a_bad_take_in_one_line_and_stores_nothing(  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str], words_model_path: Path, tmp_path: Path, make, message: str
) -> None:
    folder = _takes_folder(tmp_path / "takes")
    write_wav(folder / "take9.wav", make(), RATE)
    store_path = tmp_path / "store"
    code, out, err = _add(capsys, words_model_path, store_path, folder)
    assert code == 2 and out == ""
    assert err.startswith(f"kws-app words: error: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert WordStore(store_path).words() == []
