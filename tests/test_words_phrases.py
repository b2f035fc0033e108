"""Custom phrases longer than the model's clip: two windows, heard whole, in any block size."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from model_factory import silence, tone
from words_helpers import (
    HUM_HZ,
    NOISE_RMS,
    RATE,
    TEST_DECODER,
    TEST_STREAM,
    WHISTLE_HZ,
    detected_labels,
    examples,
    words_tone_model,
)

from kws_app.config import FrontendConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import StreamingPipeline, replay
from kws_app.words.calibration import WINDOW_KEY, WordCalibrationConfig, describe_operating_point
from kws_app.words.phrases import LAG_KEY, PhraseConfig, lag_frames, paired
from kws_app.words.refresh import learn, train_words
from kws_app.words.scorer import CustomWordScorer, available_shares, combine
from kws_app.words.store import WordStore
from kws_app.words.trainer import RECIPE_KEY, TRAINER_RECIPE, WordTrainer

TONE_S = 0.6
PHRASE_LAG_MS = PhraseConfig().lag_ms


@pytest.fixture
def model(tmp_path: Path) -> OnnxModel:
    return OnnxModel(words_tone_model(tmp_path / "words_tone.onnx"), prefer_gpu=False)


def two_tones(first_hz: float, second_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A 1.2 s "phrase" (two tones, no pause) in a take with a quarter second either side."""
    level = rng.uniform(0.2, 0.5)
    wave = np.concatenate(
        (
            silence(rng.uniform(0.2, 0.3)),
            tone(first_hz, TONE_S, amplitude=level),
            tone(second_hz, TONE_S, amplitude=level),
            silence(rng.uniform(0.2, 0.3)),
        )
    )
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def phrase_takes(count: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [two_tones(WHISTLE_HZ, HUM_HZ, rng) for _ in range(count)]


def in_quiet(*sounds: np.ndarray) -> np.ndarray:
    """Each sound between 1.5 s stretches of quiet, in low noise."""
    rng = np.random.default_rng(7)
    parts = [silence(1.0)]
    for sound in sounds:
        parts += [sound, silence(1.5)]
    wave = np.concatenate(parts)
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def test_a_phrase_longer_than_the_clip_gets_a_head_on_two_windows(
    model: OnnxModel, tmp_path: Path
) -> None:
    trainer = WordTrainer(model, model.path)
    heads = learn(trainer, WordStore(tmp_path / "words"), "whistle hum", phrase_takes(), RATE).heads
    ((_, head),) = heads
    assert head.details[LAG_KEY] == PHRASE_LAG_MS
    assert head.embedding_size == 2 * trainer.embedding_size
    assert trainer.head_is_current(head)
    assert "a phrase, heard through two windows 0.5 s apart" in describe_operating_point(
        head.details
    )
    # A phrase is averaged over its own window, not a single word's.
    assert head.details[WINDOW_KEY] == PhraseConfig().average_window_ms


def test_a_phrase_is_heard_whole_and_not_by_either_half_or_backwards(
    model: OnnxModel, tmp_path: Path
) -> None:
    trainer = WordTrainer(model, model.path)
    scorer = trainer.scorer(
        learn(trainer, WordStore(tmp_path / "words"), "whistle hum", phrase_takes(), RATE).heads
    )
    rng = np.random.default_rng(11)
    phrase = two_tones(WHISTLE_HZ, HUM_HZ, rng)
    assert detected_labels(scorer, in_quiet(phrase, phrase)) == ["whistle hum", "whistle hum"]
    whistle, hum = tone(WHISTLE_HZ, TONE_S, amplitude=0.4), tone(HUM_HZ, TONE_S, amplitude=0.4)
    assert detected_labels(scorer, in_quiet(whistle, hum)) == []
    assert detected_labels(scorer, in_quiet(two_tones(HUM_HZ, WHISTLE_HZ, rng))) == []


def test_a_short_word_keeps_one_window(model: OnnxModel, tmp_path: Path) -> None:
    trainer = WordTrainer(model, model.path)
    ((_, head),) = learn(
        trainer, WordStore(tmp_path / "words"), "whistle", examples(WHISTLE_HZ), RATE
    ).heads
    assert LAG_KEY not in head.details
    assert head.embedding_size == trainer.embedding_size
    assert trainer.scorer([("whistle", head)]).history_frames == 0
    assert head.details[WINDOW_KEY] == WordCalibrationConfig().average_window_ms


def test_a_short_word_in_a_noisy_take_keeps_one_window(model: OnnxModel, tmp_path: Path) -> None:
    """A noisy microphone's floor, 20 dB under the word, is not part of the word: the take is a
    short word, not a phrase that fires on every stretch of that noise."""
    rng = np.random.default_rng(3)
    takes = []
    for _ in range(5):
        word = tone(WHISTLE_HZ, 0.4, amplitude=0.3)
        wave = np.concatenate((silence(0.4), word, silence(0.4)))
        floor_rms = float(np.sqrt(np.mean(np.square(word)))) / 10.0
        takes.append((wave + rng.normal(0.0, floor_rms, wave.size)).astype(np.float32))
    trainer = WordTrainer(model, model.path)
    ((_, head),) = learn(trainer, WordStore(tmp_path / "words"), "whistle", takes, RATE).heads
    assert LAG_KEY not in head.details
    assert head.embedding_size == trainer.embedding_size


class RecordingScorer:
    """Passes the tone model through and keeps every window the pipeline handed it."""

    def __init__(self, model: OnnxModel, history_frames: int) -> None:
        self.model = model
        self.labels = model.labels
        self.frontend = model.frontend
        self.history_frames = history_frames
        self.windows: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> np.ndarray:
        self.windows.extend(np.array(features))
        return self.model.predict(features[:, -self.frontend.frames_per_clip :])


@pytest.mark.parametrize("block_samples", [160, 1234, RATE * 3])
def test_the_pipeline_hands_history_frames_the_same_in_any_block_size(
    model: OnnxModel, block_samples: int
) -> None:
    frontend = FrontendConfig()
    history = lag_frames(PHRASE_LAG_MS, frontend)
    audio = in_quiet(*phrase_takes(2))
    reference = RecordingScorer(model, history)
    replay(StreamingPipeline(reference, RATE, TEST_STREAM, TEST_DECODER), audio, RATE // 10)
    scorer = RecordingScorer(model, history)
    replay(StreamingPipeline(scorer, RATE, TEST_STREAM, TEST_DECODER), audio, block_samples)
    plain = RecordingScorer(model, 0)
    replay(StreamingPipeline(plain, RATE, TEST_STREAM, TEST_DECODER), audio, block_samples)
    assert len(scorer.windows) == len(reference.windows) == len(plain.windows) > 0
    for window, same, latest in zip(scorer.windows, reference.windows, plain.windows, strict=True):
        assert window.shape == (frontend.frames_per_clip + history, frontend.num_mel_bins)
        np.testing.assert_allclose(window, same, atol=1e-5)
        np.testing.assert_allclose(window[history:], latest, atol=1e-5)


def test_a_phrase_head_reads_the_earlier_and_the_latest_window(
    model: OnnxModel, tmp_path: Path
) -> None:
    trainer = WordTrainer(model, model.path)
    heads = learn(trainer, WordStore(tmp_path / "words"), "whistle hum", phrase_takes(), RATE).heads
    scorer = CustomWordScorer(model, heads)
    clip = model.frontend.frames_per_clip
    history = scorer.history_frames
    assert history == lag_frames(PHRASE_LAG_MS, model.frontend)
    features = np.random.default_rng(5).normal(-3.0, 1.0, (4, clip + history, 40))
    features = features.astype(np.float32)
    probabilities, latest = model.run(features[:, history:])
    _, earlier = model.run(features[:, :clip])
    assert latest is not None and earlier is not None
    expected = combine(
        probabilities,
        heads[0][1].scores(paired(earlier, latest))[:, np.newaxis],
        available_shares(model.labels, 0.0),
    )
    np.testing.assert_allclose(scorer.predict(features), expected, atol=1e-6)


def test_heads_from_an_older_recipe_are_retrained(model: OnnxModel, tmp_path: Path) -> None:
    store = WordStore(tmp_path / "words")
    trainer = WordTrainer(model, model.path)
    ((_, head),) = learn(trainer, store, "whistle hum", phrase_takes(), RATE).heads
    older = replace(head, details={k: v for k, v in head.details.items() if k != RECIPE_KEY})
    assert not trainer.head_is_current(older)
    store.save_head(store.get("whistle hum"), older)
    ((_, retrained),) = train_words(trainer, store).heads
    assert retrained.details[RECIPE_KEY] == TRAINER_RECIPE
    assert trainer.head_is_current(retrained)
