"""The training loop on a tiny generated dataset: it learns, checkpoints, stops and resumes.

CI must not train a real model: these run a few steps of the smallest network on tones.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info
from training_helpers import WORD_TONES_HZ, interrupted_at, make_dataset

import training.train as train_module
from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from training.config import AugmentConfig, DataConfig, TrainConfig
from training.data import TRAINING
from training.models import build_model
from training.train import (
    BEST_CHECKPOINT,
    CONFUSION_PNG,
    LAST_CHECKPOINT,
    METRICS_JSON,
    TrainingInterrupted,
    features_of,
    prepare_data,
    resolve_device,
    train,
)

FAST_MODEL = "tcresnet"


def tiny_config(data_dir: Path, output_dir: Path, epochs: int = 1) -> TrainConfig:
    return TrainConfig(
        model_name=FAST_MODEL,
        epochs=epochs,
        batch_size=8,
        learning_rate=1e-2,
        warmup_epochs=0.1,
        device="cpu",
        threads=1,
        output_dir=str(output_dir),
        data=DataConfig(data_dir=str(data_dir), wanted_words=tuple(WORD_TONES_HZ)),
        augment=AugmentConfig(),
    )


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny") / "data", speakers=16)


def _clean_loss(model: torch.nn.Module, config: TrainConfig) -> float:
    frontend = FrontendConfig()
    data = prepare_data(config, frontend, progress=False)
    split = data.splits[TRAINING]
    features = torch.from_numpy(features_of(split.waves, FeatureExtractor(frontend)))
    model.eval()
    with torch.no_grad():
        logits, _ = model(features)
    return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(split.targets)))


def test_one_epoch_runs_and_lowers_the_loss(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data, tmp_path / "run")
    result = train(config, progress=False)
    frames, bins = FrontendConfig().input_shape
    checkpoint = torch.load(result.best_checkpoint, weights_only=True)
    trained = build_model(FAST_MODEL, len(checkpoint["labels"]), frames, bins)
    trained.load_state_dict(checkpoint["model"])
    torch.manual_seed(config.seed)
    untrained = build_model(FAST_MODEL, len(checkpoint["labels"]), frames, bins)
    untrained.norm.load_state_dict(trained.norm.state_dict())
    assert _clean_loss(trained, config) < _clean_loss(untrained, config)
    for name in (BEST_CHECKPOINT, LAST_CHECKPOINT, CONFUSION_PNG, METRICS_JSON):
        assert (tmp_path / "run" / name).is_file()
    assert 0.0 <= result.test.accuracy <= 1.0
    assert checkpoint["labels"][:2] == ["_silence_", "_unknown_"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config(tiny_data, tmp_path / "run", epochs=2)
    real_epoch = train_module.train_epoch
    monkeypatch.setattr(train_module, "train_epoch", interrupted_at(1, real_epoch))
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(config, progress=False)
    last = tmp_path / "run" / LAST_CHECKPOINT
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] == 1
    monkeypatch.setattr(train_module, "train_epoch", real_epoch)
    result = train(config, resume=last, progress=False)
    assert result.epochs_run == 1
    history = torch.load(last, weights_only=True)["history"]
    assert [entry["epoch"] for entry in history] == [1, 2]


def test_device_choice() -> None:
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError):
        resolve_device("tpu")


def test_features_come_from_the_app_front_end() -> None:
    frontend = FrontendConfig()
    wave = np.random.default_rng(0).standard_normal((2, frontend.clip_samples)).astype(np.float32)
    from kws_app.dsp.frontend import compute_features, fit_clip

    expected = compute_features(fit_clip(wave[1], frontend), frontend)
    np.testing.assert_array_equal(features_of(wave, FeatureExtractor(frontend))[1], expected)


def test_init_from_starts_at_the_given_weights_with_a_fresh_schedule(
    tiny_data: Path, tmp_path: Path
) -> None:
    first = train(tiny_config(tiny_data, tmp_path / "first"), progress=False)
    start = torch.load(first.best_checkpoint, weights_only=True)
    config = replace(
        tiny_config(tiny_data, tmp_path / "second"),
        init_from=str(first.best_checkpoint),
        learning_rate=0.0,
    )
    second = train(config, progress=False)
    after = torch.load(second.best_checkpoint, weights_only=True)
    assert [entry["epoch"] for entry in after["history"]] == [1]
    for name, tensor in start["model"].items():
        if "running" not in name and "num_batches" not in name:
            torch.testing.assert_close(after["model"][name], tensor)


def test_init_from_refuses_another_architecture(tiny_data: Path, tmp_path: Path) -> None:
    first = train(tiny_config(tiny_data, tmp_path / "first"), progress=False)
    config = replace(
        tiny_config(tiny_data, tmp_path / "second"),
        model_name="ds_tcresnet",
        init_from=str(first.best_checkpoint),
    )
    with pytest.raises(ValueError, match="holds a tcresnet"):
        train(config, progress=False)


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_training_keeps_numpy_blas_on_one_thread_and_restores_it_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _blas_threads()
    seen: list[list[int]] = []

    def body(*args: object) -> str:
        seen.append(_blas_threads())
        return "trained"

    monkeypatch.setattr(train_module, "_train", body)
    assert train(TrainConfig(threads=2)) == "trained"
    assert seen and seen[0] and all(threads == 1 for threads in seen[0])
    assert _blas_threads() == before
