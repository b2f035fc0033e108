"""Each custom word gets its own operating point when it is trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from words_helpers import RATE, WHISTLE_HZ, examples, words_tone_model

from kws_app.config import DecoderConfig
from kws_app.inference.decoder import RecognizeCommands
from kws_app.inference.model import OnnxModel
from kws_app.words.calibration import (
    EXPECTED_DETECTION_KEY,
    THRESHOLD_KEY,
    WINDOW_KEY,
    WordCalibrationConfig,
    describe_operating_point,
    word_operating_point,
)
from kws_app.words.head import WordHead
from kws_app.words.refresh import learn, train_words
from kws_app.words.scorer import CustomWordScorer
from kws_app.words.store import WordStore
from kws_app.words.trainer import TrainerConfig, WordTrainer


def test_the_head_moves_as_far_as_the_negatives_allow() -> None:
    rng = np.random.default_rng(0)
    negatives, positives = rng.uniform(0.01, 0.6, 5000), rng.uniform(0.3, 0.99, 500)
    config = WordCalibrationConfig(negative_pass_rate=0.01, threshold=0.7)
    point = word_operating_point(
        positives, np.ones(positives.size), negatives, np.ones(negatives.size), config
    )
    assert point.threshold == 0.7
    assert point.held_out_negative_pass <= 0.01
    # The most sensitive such point: a little further and too many negatives pass.
    shifted = 1.0 / (
        1.0 + np.exp(-(np.log(negatives / (1 - negatives)) + point.logit_shift + 0.05))
    )
    assert np.mean(shifted >= 0.7) > 0.01
    assert 0.0 < point.held_out_detection < 1.0


def test_a_window_the_word_cannot_take_never_counts_against_it() -> None:
    # Negatives whose mass belongs to command words (mass 0.1) can never reach 0.7.
    config = WordCalibrationConfig(
        negative_pass_rate=0.01, threshold=0.7, max_logit_shift=5.0, min_negatives=100
    )
    point = word_operating_point([0.5], [1.0], np.full(100, 0.99), np.full(100, 0.1), config)
    assert point.logit_shift == 5.0 and point.held_out_negative_pass == 0.0
    assert point.held_out_detection == 1.0


def test_too_few_negatives_leave_the_head_where_it_was() -> None:
    config = WordCalibrationConfig(min_negatives=500)
    point = word_operating_point([0.5], [1.0], np.full(499, 0.99), np.ones(499), config)
    assert point.logit_shift == 0.0 and point.held_out_negative_pass == 1.0


def test_a_word_is_trained_with_its_own_threshold(tmp_path: Path) -> None:
    model_path = words_tone_model(tmp_path / "words_tone.onnx")
    model = OnnxModel(model_path, prefer_gpu=False)
    store = WordStore(tmp_path / "words")
    trainer = WordTrainer(model, model_path)
    ((name, head),) = learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE).heads
    config = trainer.config.calibration
    assert name == "whistle"
    assert head.details[THRESHOLD_KEY] == config.threshold
    # What the Words dialog shows: the share of held-out takes at or above the threshold.
    assert 0.0 < head.details[EXPECTED_DETECTION_KEY] <= 1.0
    assert trainer.scorer([(name, head)]).word_thresholds == {
        "whistle": head.details[THRESHOLD_KEY]
    }


def test_a_head_stored_without_a_threshold_is_retrained(tmp_path: Path) -> None:
    model_path = words_tone_model(tmp_path / "words_tone.onnx")
    model = OnnxModel(model_path, prefer_gpu=False)
    store = WordStore(tmp_path / "words")
    trainer = WordTrainer(model, model_path)
    learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE)
    head_file = store.get("whistle").folder / "head.json"
    data = json.loads(head_file.read_text())
    del data["details"][THRESHOLD_KEY]
    head_file.write_text(json.dumps(data))
    ((_, head),) = train_words(trainer, store).heads
    assert THRESHOLD_KEY in head.details
    stored = store.head(store.get("whistle"))
    assert stored is not None and THRESHOLD_KEY in stored.details


def test_a_word_is_averaged_over_its_own_window_and_the_commands_over_the_decoders(
    tmp_path: Path,
) -> None:
    model_path = words_tone_model(tmp_path / "words_tone.onnx")
    model = OnnxModel(model_path, prefer_gpu=False)
    calibration = WordCalibrationConfig(average_window_ms=650)
    trainer = WordTrainer(model, model_path, config=TrainerConfig(calibration=calibration))
    ((name, head),) = learn(
        trainer, WordStore(tmp_path / "words"), "whistle", examples(WHISTLE_HZ), RATE
    ).heads
    assert head.details[WINDOW_KEY] == 650
    assert "averaged over 650 ms" in describe_operating_point(head.details)
    scorer = trainer.scorer([(name, head)])
    decoder = RecognizeCommands(scorer.labels, DecoderConfig(), scorer.operating_points)
    windows = dict(zip(scorer.labels, decoder.windows_ms.tolist(), strict=True))
    assert windows.pop("whistle") == 650
    assert set(windows.values()) == {DecoderConfig().average_window_ms}


def test_a_head_without_a_usable_window_is_averaged_over_the_decoders(tmp_path: Path) -> None:
    model = OnnxModel(words_tone_model(tmp_path / "words_tone.onnx"), prefer_gpu=False)
    weights = np.zeros(model.info.embedding_size, dtype=np.float32)
    heads = [
        (name, WordHead("sha256:x", weights, 0.0, {THRESHOLD_KEY: 0.7, **details}))
        for name, details in (
            ("older", {}),
            ("edited", {WINDOW_KEY: 10**9}),
            ("odd", {WINDOW_KEY: 0.5}),
        )
    ]
    points = CustomWordScorer(model, heads).operating_points
    assert points is not None and dict(points.windows_ms) == {}
