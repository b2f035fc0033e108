"""One epoch of training, and the learning-rate schedule it steps.

An epoch draws its batches and its augmentation from (seed, epoch) alone, so an epoch run after a
`--resume` is the epoch the interrupted run would have run. Every feature comes from
`kws_app.dsp.frontend` (through `features_of`), the code the app runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from tqdm import tqdm

from kws_app.dsp.frontend import FeatureExtractor, fit_clip
from training.augment import Augmenter
from training.config import TrainConfig
from training.contrastive import ContrastiveObjective, WordBatches
from training.data import LoadedSplit
from training.distill import Teacher, distillation_loss
from training.models import KwsModel
from training.streams import StreamShaper, mining_due

logger = logging.getLogger(__name__)

# An epoch's torch seed is seed * this + epoch: distinct for every epoch of every seed in use.
EPOCH_SEED_STRIDE = 1000


def features_of(
    waves: npt.NDArray[np.float32] | Sequence[npt.NDArray[np.float32]], extractor: FeatureExtractor
) -> npt.NDArray[np.float32]:
    """Log-mel features of clip waveforms (rows of one array, or clips of any length, each fitted
    to the clip) through the app's front end, shape (n, frames, bins)."""
    frames, bins = extractor.config.input_shape
    out = np.empty((len(waves), frames, bins), dtype=np.float32)
    for row, wave in enumerate(waves):
        out[row] = extractor.compute(fit_clip(wave, extractor.config))
    return out


def sampling_weights(targets: npt.NDArray[np.int64], power: float) -> npt.NDArray[np.float64]:
    """Draw rare classes more often: a class of n clips gets total weight n^(1-power)."""
    counts = np.bincount(targets).astype(np.float64)
    weights = counts[targets] ** -power
    return weights / weights.sum()


@dataclass
class Schedule:
    """Linear warm-up, then cosine decay to zero.

    With a time budget, progress is the larger of steps done and budget used, so on a slow or
    busy machine the learning rate still reaches zero when the budget ends instead of the run
    being cut off at a high rate. Training seconds carry over a resume.
    """

    base_lr: float
    warmup_steps: int
    total_steps: int
    budget_seconds: float
    step: int = 0
    elapsed_seconds: float = 0.0

    def progress(self) -> float:
        by_steps = (self.step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        by_time = self.elapsed_seconds / self.budget_seconds if self.budget_seconds else 0.0
        return min(1.0, max(by_steps, by_time))

    def learning_rate(self) -> float:
        if self.step < self.warmup_steps:
            return self.base_lr * (self.step + 1) / self.warmup_steps
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * self.progress()))

    def apply(self, optimizer: torch.optim.Optimizer) -> None:
        rate = self.learning_rate()
        for group in optimizer.param_groups:
            group["lr"] = rate

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps or (
            self.budget_seconds > 0 and self.elapsed_seconds >= self.budget_seconds
        )

    def state_dict(self) -> dict[str, float]:
        return {"step": self.step, "elapsed_seconds": self.elapsed_seconds}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.step = int(state["step"])
        self.elapsed_seconds = float(state["elapsed_seconds"])


@dataclass(frozen=True)
class EpochPlan:
    """What every epoch of one run works with; the same objects for the whole run.

    Bound once by `train()`, so an epoch is `train_epoch(plan, epoch)` rather than a call with a
    dozen positional arguments in an order nobody can check. The model, optimizer and schedule are
    stepped in place; the references themselves never change.
    """

    model: KwsModel
    split: LoadedSplit
    weights: npt.NDArray[np.float64]
    augmenter: Augmenter
    extractor: FeatureExtractor
    optimizer: torch.optim.Optimizer
    scheduler: Schedule
    loss_function: nn.Module
    device: torch.device
    config: TrainConfig
    steps_per_epoch: int
    progress: bool
    shaper: StreamShaper | None = None
    contrastive: ContrastiveObjective | None = None
    # The `_unknown_` class whose rows the contrastive task sees twice (-1: none in this run).
    unknown_target: int = -1
    # The word task's draws (None: no word task in this run).
    word_batches: WordBatches | None = None
    teacher: Teacher | None = None


def supervised_loss(
    plan: EpochPlan,
    logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_log_probabilities: torch.Tensor | None,
) -> torch.Tensor:
    """The labels' loss, mixed with the teacher's soft targets when the run has a teacher."""
    labels_loss: torch.Tensor = plan.loss_function(logits, targets)
    if teacher_log_probabilities is None:
        return labels_loss
    distill = plan.config.distill
    soft = distillation_loss(logits, teacher_log_probabilities, distill.temperature)
    return (1.0 - distill.weight) * labels_loss + distill.weight * soft


def train_epoch(plan: EpochPlan, epoch: int) -> tuple[float, float]:
    """Run one epoch (or what the time budget leaves of it); returns (mean loss, accuracy)."""
    config, split, shaper = plan.config, plan.split, plan.shaper
    model, optimizer, scheduler = plan.model, plan.optimizer, plan.scheduler
    rng = np.random.default_rng([config.seed, epoch])
    torch.manual_seed(config.seed * EPOCH_SEED_STRIDE + epoch)
    steps = plan.steps_per_epoch
    order = rng.choice(len(split), size=steps * config.batch_size, p=plan.weights)
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    contrastive_total, contrastive_steps = 0.0, 0
    word_total, word_steps = 0.0, 0
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not plan.progress)
    step_started = time.monotonic()
    for step in bar:
        if scheduler.finished:
            break  # the time budget ran out mid-epoch; the rate is already zero
        scheduler.apply(optimizer)
        rows = order[step * config.batch_size : (step + 1) * config.batch_size]
        if shaper is None:
            clean, row_targets = split.waves[rows], split.targets[rows]
        else:
            clean, row_targets = shaper.shape(rows, split.targets[rows], rng)
        waves = plan.augmenter.waves(clean, rng)
        objective = plan.contrastive
        twice = (
            objective.rows(row_targets, plan.unknown_target, config.batch_size, rng)
            if objective is not None
            else np.zeros(0, dtype=np.int64)
        )
        if objective is not None and twice.size:
            waves = np.concatenate(
                [waves, objective.second_views(clean[twice], plan.augmenter, rng)]
            )
        word_rows = row_words = np.zeros(0, dtype=np.int64)
        if plan.word_batches is not None:
            word_rows, row_words = plan.word_batches.draw(rng)
            word_waves = plan.augmenter.waves(plan.word_batches.played(word_rows, rng), rng)
            waves = np.concatenate([waves, word_waves])
        features = plan.augmenter.features(features_of(waves, plan.extractor), rng)
        inputs = torch.from_numpy(features).to(plan.device)
        targets = torch.from_numpy(row_targets).to(plan.device)
        # The teacher scores the batch's own rows (the first views), augmented as the student
        # sees them.
        taught = (
            plan.teacher.log_probabilities(features[: len(row_targets)]).to(plan.device)
            if plan.teacher is not None
            else None
        )
        optimizer.zero_grad(set_to_none=True)
        if objective is not None and (twice.size or word_rows.size):
            # One pass over every row: the batch's rows, their second views, the word rows.
            all_logits, embedding = model.logits_and_word_embedding(inputs)
            batch, views = len(row_targets), len(row_targets) + twice.size
            logits = all_logits[:batch]
            classification = supervised_loss(plan, logits, targets, taught)
            total = classification
            if twice.size:
                first = embedding[torch.from_numpy(twice).to(plan.device)]
                extra = objective.loss(first, embedding[batch:views])
                contrastive_total += extra.item()
                contrastive_steps += 1
                total = total + config.contrastive.weight * extra
            if word_rows.size:
                words = torch.from_numpy(row_words).to(plan.device)
                word = objective.word_loss(embedding[views:], words)
                word_total += word.item()
                word_steps += 1
                total = total + config.contrastive.word_weight * word
            total.backward()
        else:
            logits, _ = model(inputs)
            classification = supervised_loss(plan, logits, targets, taught)
            classification.backward()
        optimizer.step()
        scheduler.step += 1
        now = time.monotonic()
        scheduler.elapsed_seconds += now - step_started
        step_started = now
        total_loss += classification.item() * len(row_targets)
        correct += int((logits.argmax(dim=1) == targets).sum())
        seen += len(row_targets)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
    if contrastive_steps:
        logger.info("contrastive loss %.4f", contrastive_total / contrastive_steps)
    if word_steps:
        logger.info("word contrast loss %.4f", word_total / word_steps)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def mine_if_due(plan: EpochPlan, command_columns: list[int], progress_before: float) -> None:
    """Mine hard negatives when the epoch just run crossed one of the configured points."""
    if plan.shaper is None or not mining_due(
        plan.config.stream.mining_points, progress_before, plan.scheduler.progress()
    ):
        return
    mining_started = time.monotonic()
    plan.shaper.mine(plan.model, plan.extractor, command_columns, plan.device)
    logger.info("mining took %.0f s", time.monotonic() - mining_started)
