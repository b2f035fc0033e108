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

Instance discrimination counts another recording of the same word as a different thing, so it
cannot teach the embedding that two voices said one word, which is what a head trained on one
speaker's takes needs. The optional word task does (supervised contrast, Khosla et al. 2020, on
batches of a few words with a few clips each, as in prototypical and triplet training): every
folder of the data directory is a word, commands and `_unknown_` words alike, and each clip must
find the other clips of its word among the step's clips. Words named in `word_exclude` never
become a class, so custom words can be judged on words this task never saw. `word_dirs` adds
folder-per-word directories (e.g. bench/make_word_classes.py's synthesised words) whose clips
serve this task alone: an embedding learned from a score of words helps those words more than new
ones, so the task wants many more words than the data holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as functional
from torch import nn

from kws_app.audio.files import list_audio_files
from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import fit_clip
from training.augment import Augmenter, change_speed
from training.config import ContrastiveConfig
from training.data import Clip, SkipCounter, is_word_name, try_read_audio, word_folders
from training.models import KwsModel

FloatArray = npt.NDArray[np.float32]
# Fewer than this many rows leave a view no other view to be told apart from.
MIN_ROWS = 2
# A split row that is no word of the word task.
NO_WORD = -1


class ContrastiveObjective(nn.Module):
    """The projection head and the loss; its parameters train with the model's."""

    def __init__(self, config: ContrastiveConfig, embedding_size: int) -> None:
        super().__init__()
        self.config = config
        self.projection = _projection(embedding_size, config.projection_size)
        # Only where the word task runs, so checkpoints of runs without it load as before.
        self.word_projection = (
            _projection(embedding_size, config.projection_size) if config.word_weight > 0 else None
        )

    def rows(
        self,
        targets: npt.NDArray[np.int64],
        unknown_target: int,
        batch_size: int,
        rng: np.random.Generator,
    ) -> npt.NDArray[np.int64]:
        """The batch rows seen twice: a random subset of its `_unknown_` rows, sorted."""
        if self.config.weight <= 0:
            return np.zeros(0, dtype=np.int64)
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

    def word_loss(self, embedding: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Supervised contrast: each row's positives are the other rows of its word."""
        if self.word_projection is None:
            raise ValueError("this objective has no word task (word weight 0)")
        z = functional.normalize(self.word_projection(embedding), dim=1)
        similarity = z @ z.T / self.config.temperature
        itself = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
        similarity = similarity.masked_fill(itself, float("-inf"))
        log_probability = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
        positives = (words[:, None] == words[None, :]) & ~itself
        counts = positives.sum(dim=1)
        anchored = counts > 0
        summed = log_probability.masked_fill(~positives, 0.0).sum(dim=1)
        return -(summed[anchored] / counts[anchored]).mean()


def _projection(embedding_size: int, projection_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(embedding_size, projection_size),
        nn.ReLU(),
        nn.Linear(projection_size, projection_size),
    )


def clip_words(
    clips: Sequence[Clip], data_dir: str, exclude: Sequence[str]
) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Each split row's word for the word task (NO_WORD where it has none), and the words.

    A word is a folder of the data directory whose name does not start with "_" (so neither
    `_silence_` nor `_background_noise_`); clips from elsewhere (speech negatives, wake phrases)
    and the excluded words get NO_WORD.
    """
    root = Path(data_dir).resolve() if data_dir else None
    kept_out = set(exclude)
    names: dict[str, int] = {}
    ids = np.full(len(clips), NO_WORD, dtype=np.int64)
    for row, clip in enumerate(clips):
        if root is None or clip.path is None:
            continue
        folder = Path(clip.path).resolve().parent
        if folder.parent != root or not is_word_name(folder.name) or folder.name in kept_out:
            continue
        ids[row] = names.setdefault(folder.name, len(names))
    return ids, tuple(names)


def load_word_folders(
    dirs: Sequence[str], frontend: FrontendConfig, exclude: Sequence[str]
) -> tuple[FloatArray, list[str]]:
    """Every readable clip of the words (sub-folders not starting with "_") of `dirs`, fitted
    to one clip, with its word; excluded words are left out."""
    kept_out = set(exclude)
    waves: list[FloatArray] = []
    names: list[str] = []
    skipped = SkipCounter()
    files = 0
    for root in dirs:
        for folder in word_folders(Path(root)):
            if folder.name in kept_out:
                continue
            for path in list_audio_files(folder):
                files += 1
                wave = try_read_audio(path, frontend.sample_rate, skipped)
                if wave is not None:
                    waves.append(fit_clip(wave, frontend))
                    names.append(folder.name)
    skipped.report("word task", files)
    if not waves:
        return np.zeros((0, frontend.clip_samples), dtype=np.float32), names
    return np.stack(waves).astype(np.float32), names


class WordBatches:
    """Draws a step's word rows: `words_per_step` words, `clips_per_word` distinct clips each.

    Rows number the training split's clips first, then `extra_waves` (clips of `word_dirs`).
    Only words with at least `clips_per_word` clips are drawn, so every row has positives.
    """

    def __init__(
        self,
        config: ContrastiveConfig,
        words: npt.NDArray[np.int64],
        split_waves: FloatArray,
        extra_waves: FloatArray | None = None,
    ) -> None:
        self.config = config
        self.split_waves = split_waves
        self.extra_waves = (
            extra_waves
            if extra_waves is not None
            else np.zeros((0, split_waves.shape[1]), dtype=np.float32)
        )
        if words.shape[0] != split_waves.shape[0] + self.extra_waves.shape[0]:
            raise ValueError("the word task needs one word (or NO_WORD) per clip")
        groups = {int(w): np.flatnonzero(words == w) for w in np.unique(words[words != NO_WORD])}
        drawable = {w: g for w, g in groups.items() if g.size >= config.clips_per_word}
        # The ids of the words drawn from (clip_words' numbering), and each one's rows.
        self.words = tuple(drawable)
        self.groups = list(drawable.values())
        if len(self.groups) < config.words_per_step:
            raise ValueError(
                f"the contrastive word task needs {config.words_per_step} words with "
                f"{config.clips_per_word} training clips each; the data has {len(self.groups)}"
            )

    def draw(self, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(rows in the numbering above, the drawn word of each row), grouped by word."""
        picked = rng.choice(len(self.groups), size=self.config.words_per_step, replace=False)
        rows = [
            rng.choice(self.groups[g], size=self.config.clips_per_word, replace=False)
            for g in picked
        ]
        words = np.repeat(picked, self.config.clips_per_word)
        return np.concatenate(rows).astype(np.int64), words.astype(np.int64)

    def waves(self, rows: npt.NDArray[np.int64]) -> FloatArray:
        """The clean clips of drawn rows, from the split or the extra word folders."""
        split = self.split_waves.shape[0]
        out = np.empty((rows.shape[0], self.split_waves.shape[1]), dtype=np.float32)
        inside = rows < split
        out[inside] = self.split_waves[rows[inside]]
        out[~inside] = self.extra_waves[rows[~inside] - split]
        return out

    def played(self, rows: npt.NDArray[np.int64], rng: np.random.Generator) -> FloatArray:
        """The drawn rows' clips, each at its own random rate in `word_speed_range`.

        A word's takes in the data come from a few voices; another rate per take widens them
        (tempo and pitch move together, as with another speaker's vocal tract and pace). An
        unchanged range draws nothing, so runs made before it replay the same.
        """
        clean = self.waves(rows)
        slowest, fastest = self.config.word_speed_range
        if (slowest, fastest) == (1.0, 1.0):
            return clean
        return np.stack([change_speed(w, float(rng.uniform(slowest, fastest))) for w in clean])


def word_embedding_size(model: KwsModel, frames: int, bins: int) -> int:
    """The width of the embedding custom words are learned from, read off one dry pass."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probe = torch.zeros(1, frames, bins, device=next(model.parameters()).device)
        _, embedding = model.logits_and_word_embedding(probe)
    model.train(was_training)
    return int(embedding.shape[1])
