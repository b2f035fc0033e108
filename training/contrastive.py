"""A contrastive objective that teaches the custom-word embedding to tell unknown sounds apart.

The classifier only needs the embedding to separate the ten commands from everything else, so it
is free to map every other word, and all running speech, to one region: exactly the region a
custom word must later be found in. Custom words are learned from the last layer's means over
segments of the window (`KwsModel.logits_and_word_embedding`), so that embedding gets a second
task: instance discrimination (SimCLR, Chen et al. 2020; COLA for audio, Saeed et al. 2021) on a
batch's `_unknown_` rows. Each picked row is seen a second time through another random playback
rate (a stand-in for another voice), gain, noise and SpecAugment; a small projection head maps
both views to a unit sphere, and each view must pick its partner out of the other views of the
batch. What the two views share is what was said, so the embedding keeps it, for every sound and
not only for the ten commands. The projection head is used only in training and is not exported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as functional
from torch import nn

from training.augment import Augmenter, change_speed
from training.config import ContrastiveConfig
from training.models import KwsModel

FloatArray = npt.NDArray[np.float32]
# Fewer than this many rows leave a view no other view to be told apart from.
MIN_ROWS = 2


class ContrastiveObjective(nn.Module):
    """The projection head and the loss; its parameters train with the model's."""

    def __init__(self, config: ContrastiveConfig, embedding_size: int) -> None:
        super().__init__()
        self.config = config
        self.projection = nn.Sequential(
            nn.Linear(embedding_size, config.projection_size),
            nn.ReLU(),
            nn.Linear(config.projection_size, config.projection_size),
        )

    def rows(
        self,
        targets: npt.NDArray[np.int64],
        unknown_target: int,
        batch_size: int,
        rng: np.random.Generator,
    ) -> npt.NDArray[np.int64]:
        """The batch rows seen twice: a random subset of its `_unknown_` rows, sorted."""
        candidates = np.flatnonzero(targets == unknown_target)
        wanted = min(candidates.size, int(round(self.config.share * batch_size)))
        if wanted < MIN_ROWS:
            return np.zeros(0, dtype=np.int64)
        return np.sort(rng.choice(candidates, size=wanted, replace=False))

    def second_views(
        self, clean: FloatArray, augmenter: Augmenter, rng: np.random.Generator
    ) -> FloatArray:
        """The same clean windows at another random playback rate, then augmented as usual."""
        slowest, fastest = self.config.speed_range
        played = np.stack([change_speed(w, float(rng.uniform(slowest, fastest))) for w in clean])
        return augmenter.waves(played, rng)

    def loss(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE between two views of the same rows (row i of each is a pair)."""
        a = functional.normalize(self.projection(first), dim=1)
        b = functional.normalize(self.projection(second), dim=1)
        similarity = a @ b.T / self.config.temperature
        pairs = torch.arange(a.shape[0], device=a.device)
        return 0.5 * (
            functional.cross_entropy(similarity, pairs)
            + functional.cross_entropy(similarity.T, pairs)
        )


def word_embedding_size(model: KwsModel, frames: int, bins: int) -> int:
    """The width of the embedding custom words are learned from, read off one dry pass."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probe = torch.zeros(1, frames, bins, device=next(model.parameters()).device)
        _, embedding = model.logits_and_word_embedding(probe)
    model.train(was_training)
    return int(embedding.shape[1])
