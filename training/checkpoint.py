"""Checkpoint files: what a run saves after each epoch, and reading one back.

A checkpoint holds everything `--resume` needs to continue the run where it stopped, and
everything export needs to write a self-contained model file without the dataset: the labels, the
front end, the model name and real clips' features to compare onnxruntime with torch on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from training.config import TrainConfig
from training.loop import Schedule, features_of

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
# Real clips stored in the checkpoint so export can compare onnxruntime with torch without data.
CHECK_CLIPS = 32
OBJECTIVE_KEY = "training_objective"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write then rename, so Ctrl-C during the write never leaves a half checkpoint behind."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def check_features(
    test_features: npt.NDArray[np.float32],
    validation_features: npt.NDArray[np.float32],
    training_waves: npt.NDArray[np.float32],
    extractor: FeatureExtractor,
) -> torch.Tensor:
    """The clips export checks the ONNX file on: test clips first, then validation clips.

    A tiny dataset may have no test (or validation) clips at all; then training clips serve.
    """
    features = torch.from_numpy(
        np.concatenate([test_features[:CHECK_CLIPS], validation_features[:CHECK_CLIPS]])[
            :CHECK_CLIPS
        ].copy()
    )
    if features.shape[0] == 0:
        features = torch.from_numpy(features_of(training_waves[:CHECK_CLIPS], extractor))
    return features


@dataclass(frozen=True)
class RunRecord:
    """What every checkpoint of one run repeats unchanged."""

    config: TrainConfig
    labels: tuple[str, ...]
    frontend: FrontendConfig
    parameter_count: int
    training_data: str  # the data summary as JSON, as the model file's metadata carries it
    check_features: torch.Tensor


@dataclass
class RunProgress:
    """The part of a run's state that changes after every epoch and that `--resume` restores."""

    best_accuracy: float = -1.0
    best_epoch: int = -1
    history: list[dict[str, float]] = field(default_factory=list)

    def add_epoch(self, entry: dict[str, float], always_best: bool) -> bool:
        """Append one epoch's history entry; True when it is the new best (then it is recorded).

        `always_best` makes every epoch the best, for runs that keep their last epoch.
        """
        validation_accuracy = entry["validation_accuracy"]
        improved = validation_accuracy > self.best_accuracy or always_best
        if improved:
            self.best_accuracy, self.best_epoch = validation_accuracy, int(entry["epoch"])
        self.history.append(entry)
        return improved


@dataclass(frozen=True)
class RunCheckpoints:
    """Builds a run's checkpoints from its record and its live model, optimizer and schedule."""

    record: RunRecord
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Schedule
    # Training-only parts (the contrastive projection head): resumed, never exported.
    objective: nn.Module | None = None

    def state(self, epochs_done: int, progress: RunProgress) -> dict[str, Any]:
        record = self.record
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epochs_done,
            "best_accuracy": progress.best_accuracy,
            "best_epoch": progress.best_epoch,
            "history": progress.history,
            "config": record.config.to_dict(),
            "labels": list(record.labels),
            "frontend": record.frontend.to_json(),
            "model_name": record.config.model_name,
            "parameter_count": record.parameter_count,
            "training_data": record.training_data,
            "check_features": record.check_features,
        }
        if self.objective is not None:
            state[OBJECTIVE_KEY] = self.objective.state_dict()
        return state

    def save(self, path: Path, epochs_done: int, progress: RunProgress) -> None:
        save_checkpoint(path, self.state(epochs_done, progress))


def resume_from(
    checkpoint: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Schedule,
    objective: nn.Module | None = None,
) -> tuple[int, RunProgress]:
    """Load a checkpoint's state into the run's objects; returns (epochs done, progress)."""
    model.load_state_dict(checkpoint["model"])
    if objective is not None:
        objective.load_state_dict(checkpoint[OBJECTIVE_KEY])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    progress = RunProgress(
        best_accuracy=float(checkpoint["best_accuracy"]),
        best_epoch=int(checkpoint["best_epoch"]),
        history=list(checkpoint["history"]),
    )
    return int(checkpoint["epoch"]), progress
