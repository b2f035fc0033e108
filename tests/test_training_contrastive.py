"""The custom-word embedding's contrastive task: its loss, the rows it picks, a run that uses it.

The run is a few steps of the smallest network on tones (CI must not train a real model); what it
pins down is that the task trains the projection head with the model, resumes with it, and leaves
the exported graph what the app expects.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training_train import tiny_config
from training_helpers import interrupted_at, make_dataset

import training.train as train_module
from kws_app.config import FrontendConfig
from kws_app.inference.loading import load_model
from training.checkpoint import LAST_CHECKPOINT, OBJECTIVE_KEY
from training.config import ContrastiveConfig, TrainConfig
from training.contrastive import (
    NO_WORD,
    ContrastiveObjective,
    WordBatches,
    clip_words,
    load_word_folders,
    word_embedding_size,
)
from training.data import Clip
from training.export import export_checkpoint
from training.loop import EpochPlan
from training.models import build_model
from training.train import TrainingInterrupted, train

UNKNOWN = 1


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny") / "data", speakers=16)


def _contrastive(config: TrainConfig) -> TrainConfig:
    return replace(config, contrastive=ContrastiveConfig(weight=0.5, share=0.5))


def test_matching_views_cost_less_than_mismatched_ones() -> None:
    torch.manual_seed(0)
    objective = ContrastiveObjective(ContrastiveConfig(weight=1.0), embedding_size=16)
    views = torch.randn(8, 16)
    matched = objective.loss(views, views + 0.01 * torch.randn(8, 16))
    shuffled = objective.loss(views, views.roll(1, dims=0))
    assert float(matched) < float(shuffled)


def test_only_unknown_rows_are_seen_twice_and_never_more_than_the_share() -> None:
    objective = ContrastiveObjective(ContrastiveConfig(weight=1.0, share=0.25), embedding_size=4)
    targets = np.array([UNKNOWN, 2, UNKNOWN, 3, UNKNOWN, UNKNOWN, 0, UNKNOWN] * 2)
    rows = objective.rows(targets, UNKNOWN, batch_size=16, rng=np.random.default_rng(1))
    assert rows.size == 4
    assert np.all(targets[rows] == UNKNOWN)
    assert np.array_equal(rows, np.unique(rows))


def test_a_batch_with_one_unknown_row_has_nothing_to_contrast() -> None:
    objective = ContrastiveObjective(ContrastiveConfig(weight=1.0), embedding_size=4)
    rows = objective.rows(np.array([UNKNOWN, 2, 3, 0]), UNKNOWN, 4, np.random.default_rng(1))
    assert rows.size == 0


def test_the_embedding_size_is_that_of_the_custom_word_embedding() -> None:
    frames, bins = FrontendConfig().input_shape
    model = build_model("ds_tcresnet", 12, frames, bins)
    _, embedding = model.logits_and_word_embedding(torch.zeros(2, frames, bins))
    assert word_embedding_size(model, frames, bins) == embedding.shape[1]
    assert model.training


def test_settings_outside_their_range_are_refused() -> None:
    with pytest.raises(ValueError, match="contrastive"):
        ContrastiveConfig(weight=-1.0)
    with pytest.raises(ValueError, match="contrastive"):
        ContrastiveConfig(temperature=0.0)
    with pytest.raises(ValueError, match="contrastive"):
        ContrastiveConfig(share=0.0)
    with pytest.raises(ValueError, match="word task's speed range"):
        ContrastiveConfig(word_speed_range=(1.2, 1.0))


def test_a_run_trains_the_head_saves_it_and_exports_the_usual_graph(
    tiny_data: Path, tmp_path: Path
) -> None:
    config = _contrastive(tiny_config(tiny_data, tmp_path / "run", epochs=2))
    result = train(config, progress=False)
    checkpoint = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)
    head = checkpoint[OBJECTIVE_KEY]
    frames, bins = FrontendConfig().input_shape
    model = build_model("tcresnet", len(checkpoint["labels"]), frames, bins)
    fresh = ContrastiveObjective(config.contrastive, word_embedding_size(model, frames, bins))
    moved = [not torch.equal(head[name], value) for name, value in fresh.state_dict().items()]
    assert any(moved), "the projection head never trained"
    assert TrainConfig.from_dict(checkpoint["config"]).contrastive == config.contrastive
    onnx_path = tmp_path / "model.onnx"
    export_checkpoint(result.best_checkpoint, onnx_path)
    info = load_model(onnx_path, "cpu").info
    assert info.embedding_size == fresh.projection[0].in_features, (
        "the app reads the same embedding"
    )


def test_an_interrupted_run_resumes_with_its_projection_head(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _contrastive(tiny_config(tiny_data, tmp_path / "run", epochs=2))
    real_epoch = train_module.train_epoch
    monkeypatch.setattr(train_module, "train_epoch", interrupted_at(1, real_epoch))
    with pytest.raises(TrainingInterrupted):
        train(config, progress=False)
    saved = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)[OBJECTIVE_KEY]
    resumed: list[dict[str, torch.Tensor]] = []

    def record_head(plan: EpochPlan, epoch: int) -> tuple[float, float]:
        assert plan.contrastive is not None
        resumed.append({k: v.clone() for k, v in plan.contrastive.state_dict().items()})
        return real_epoch(plan, epoch)

    monkeypatch.setattr(train_module, "train_epoch", record_head)
    train(config, resume=tmp_path / "run" / LAST_CHECKPOINT, progress=False)
    assert all(torch.equal(resumed[0][name], value) for name, value in saved.items())


def _word_task(config: TrainConfig, exclude: tuple[str, ...] = ()) -> TrainConfig:
    return replace(
        config,
        contrastive=ContrastiveConfig(
            word_weight=1.0,
            words_per_step=2,
            clips_per_word=2,
            word_exclude=exclude,
            word_speed_range=(0.9, 1.1),
        ),
    )


def test_clips_of_one_word_close_together_cost_less_than_mixed_words() -> None:
    torch.manual_seed(0)
    objective = ContrastiveObjective(ContrastiveConfig(word_weight=1.0), embedding_size=16)
    centres = torch.randn(4, 16)
    words = torch.arange(4).repeat_interleave(3)
    grouped = centres[words] + 0.01 * torch.randn(12, 16)
    assert float(objective.word_loss(grouped, words)) < float(
        objective.word_loss(grouped, words[torch.randperm(12)])
    )


def test_an_objective_without_the_word_task_has_no_word_head() -> None:
    objective = ContrastiveObjective(ContrastiveConfig(weight=1.0), embedding_size=4)
    assert objective.word_projection is None
    with pytest.raises(ValueError, match="no word task"):
        objective.word_loss(torch.zeros(4, 4), torch.tensor([0, 0, 1, 1]))


def test_only_data_directory_word_folders_are_words_and_excluded_ones_are_not(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    clips = [
        Clip(str(root / "yes" / "a.wav"), "yes", "training"),
        Clip(str(root / "cat" / "b.wav"), "_unknown_", "training"),
        Clip(str(root / "yes" / "c.wav"), "yes", "training"),
        Clip(str(root / "dog" / "d.wav"), "_unknown_", "training"),
        Clip(str(root / "_silence_" / "e.wav"), "_silence_", "training"),
        Clip(None, "_silence_", "training", seed=3),
        Clip(str(tmp_path / "speech" / "yes" / "f.wav"), "_unknown_", "training"),
    ]
    words, names = clip_words(clips, str(root), exclude=("dog",))
    assert names == ("yes", "cat")
    assert words.tolist() == [0, 1, 0, NO_WORD, NO_WORD, NO_WORD, NO_WORD]


def test_a_step_draws_distinct_clips_of_distinct_words() -> None:
    config = ContrastiveConfig(word_weight=1.0, words_per_step=3, clips_per_word=2)
    words = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, NO_WORD, NO_WORD])
    batches = WordBatches(config, words, np.zeros((words.size, 4), dtype=np.float32))
    rows, drawn = batches.draw(np.random.default_rng(0))
    assert rows.size == 6
    assert np.array_equal(np.unique(rows), np.sort(rows)), "a clip is drawn once"
    assert len(set(words[rows].tolist())) == 3
    for group in range(3):
        assert len(set(words[rows[drawn == drawn[2 * group]]].tolist())) == 1, "one word per group"
    assert 3 not in words[rows], "a word with one clip has no positives"


def test_too_few_words_for_a_step_are_refused_plainly() -> None:
    config = ContrastiveConfig(word_weight=1.0, words_per_step=3, clips_per_word=2)
    with pytest.raises(ValueError, match="needs 3 words with 2 training clips"):
        WordBatches(config, np.array([0, 0, 1, 1, 2]), np.zeros((5, 4), dtype=np.float32))


def test_a_run_with_the_word_task_alone_trains_its_head_and_keeps_out_excluded_words(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _word_task(tiny_config(tiny_data, tmp_path / "run", epochs=1), exclude=("dog",))
    with caplog.at_level("INFO", logger="training"):
        train(config, progress=False)
    checkpoint = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)
    head = checkpoint[OBJECTIVE_KEY]
    frames, bins = FrontendConfig().input_shape
    model = build_model("tcresnet", len(checkpoint["labels"]), frames, bins)
    fresh = ContrastiveObjective(config.contrastive, word_embedding_size(model, frames, bins))
    assert fresh.word_projection is not None
    moved = [
        not torch.equal(head[f"word_projection.{name}"], value)
        for name, value in fresh.word_projection.state_dict().items()
    ]
    assert any(moved), "the word head never trained"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("word task")]
    assert line.startswith("word task: 3 words") and "dog" not in line
    assert TrainConfig.from_dict(checkpoint["config"]).contrastive == config.contrastive


def test_drawn_rows_past_the_split_come_from_the_extra_word_folders() -> None:
    config = ContrastiveConfig(word_weight=1.0, words_per_step=2, clips_per_word=2)
    split = np.zeros((3, 4), dtype=np.float32)
    extra = np.ones((4, 4), dtype=np.float32)
    batches = WordBatches(config, np.array([0, 0, NO_WORD, 1, 1, 2, 2]), split, extra)
    rows = np.array([0, 1, 3, 6])
    assert batches.waves(rows)[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="one word"):
        WordBatches(config, np.array([0, 0]), split, extra)


def test_the_word_task_plays_each_drawn_clip_at_its_own_rate() -> None:
    samples = FrontendConfig().clip_samples
    tone = np.sin(np.linspace(0.0, 200.0 * np.pi, samples)).astype(np.float32)
    split = np.stack([tone, tone, tone, tone])
    words = np.array([0, 0, 1, 1])
    rows = np.array([0, 1, 2, 3])
    varied = ContrastiveConfig(
        word_weight=1.0, words_per_step=2, clips_per_word=2, word_speed_range=(0.8, 1.25)
    )
    played = WordBatches(varied, words, split).played(rows, np.random.default_rng(0))
    assert played.shape == split.shape
    assert not np.allclose(played[0], tone), "a clip keeps its recorded voice"
    assert not np.allclose(played[0], played[1]), "two takes got the same rate"

    as_recorded = replace(varied, word_speed_range=(1.0, 1.0))
    rng = np.random.default_rng(0)
    assert np.array_equal(WordBatches(as_recorded, words, split).played(rows, rng), split)
    assert rng.integers(1 << 30) == np.random.default_rng(0).integers(1 << 30), (
        "an unchanged range draws from the generator, so older runs would not replay"
    )


def test_word_folders_give_their_readable_clips_one_clip_long(tmp_path: Path) -> None:
    frontend = FrontendConfig()
    root = make_dataset(tmp_path / "synth", speakers=2, words={"apple": 500.0})
    (root / "apple" / "broken.wav").write_bytes(b"not audio")
    waves, names = load_word_folders([str(root)], frontend, exclude=("dog",))
    assert names == ["apple", "apple", "cat", "cat"], "no _noise_ folders, no broken file"
    assert waves.shape == (4, frontend.clip_samples)
    kept_out, none = load_word_folders([str(root)], frontend, exclude=("apple", "cat", "dog"))
    assert none == [] and kept_out.shape == (0, frontend.clip_samples)


def test_a_run_gives_extra_folders_words_their_own_classes_and_joins_shared_names(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = make_dataset(tmp_path / "synth", speakers=3, words={"apple": 500.0, "yes": 440.0})
    config = _word_task(tiny_config(tiny_data, tmp_path / "run", epochs=1), exclude=("dog",))
    config = replace(config, contrastive=replace(config.contrastive, word_dirs=(str(extra),)))
    with caplog.at_level("INFO", logger="training"):
        train(config, progress=False)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("word task")]
    # yes and cat are one class each across both places; the folders' apple is a new one.
    assert line.startswith("word task: 5 words") and "apple" in line and line.count("yes") == 1
    assert "dog" not in line
