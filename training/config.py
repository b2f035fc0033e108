"""Typed, frozen settings for data, augmentation and training.

They are plain dataclasses of primitives so a checkpoint can store them as a dict and a resumed run
can refuse to continue with different settings instead of silently mixing two experiments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"
DEFAULT_WANTED_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"


@dataclass(frozen=True)
class DataConfig:
    """Which clips make up the classes and the splits (Speech Commands conventions)."""

    data_dir: str = ""
    wanted_words: tuple[str, ...] = DEFAULT_WANTED_WORDS
    unknown_dirs: tuple[str, ...] = ()
    exclude_dirs: tuple[str, ...] = ()
    validation_percentage: float = 10.0
    testing_percentage: float = 10.0
    silence_percentage: float = 10.0
    unknown_percentage: float = 10.0
    # 0: one random clip-long window of each extra negative recording. Above 0: a window every
    # this many ms, so continuous speech (sentences, wake phrases) yields several negatives.
    unknown_window_hop_ms: int = 0
    seed: int = 59185

    @property
    def labels(self) -> tuple[str, ...]:
        return (SILENCE_LABEL, UNKNOWN_LABEL, *self.wanted_words)


@dataclass(frozen=True)
class AugmentConfig:
    """On-the-fly augmentation; defaults follow TF speech_commands plus SpecAugment."""

    time_shift_ms: int = 100
    background_frequency: float = 0.8
    background_volume: float = 0.1
    generated_noise_fraction: float = 0.3
    gain_db_range: tuple[float, float] = (-10.0, 6.0)
    time_masks: int = 2
    time_mask_frames: int = 10
    freq_masks: int = 2
    freq_mask_bins: int = 5
    # Playback-rate range (1.0: off). A faster or slower copy sounds like another speaker, the
    # cheapest way to meet more voices than the data holds (Ko et al., 2015).
    speed_range: tuple[float, float] = (1.0, 1.0)
    # Noise at a signal-to-noise ratio drawn from this range (dB) instead of a volume from
    # (0, background_volume); None keeps the volume. The volume is fixed whatever the example's
    # loudness, which puts the recorded noises ~30 dB under a word: a word said in a 10 dB room,
    # as the test streams and many kitchens have it, was never heard in training.
    noise_snr_db: tuple[float, float] | None = None
    # An example's level for that ratio: the RMS of its loudest frames (this share of them),
    # which is the spoken part of a word clip and the voiced part of running speech.
    level_loud_share: float = 0.5

    def __post_init__(self) -> None:
        low, high = self.speed_range
        if not 0 < low <= high:
            raise ValueError("speed range must satisfy 0 < low <= high")
        if self.noise_snr_db is not None and self.noise_snr_db[0] > self.noise_snr_db[1]:
            raise ValueError("noise SNR range must satisfy low <= high")
        if not 0 < self.level_loud_share <= 1:
            raise ValueError("the loud share of frames must be in (0, 1]")

    def disabled(self) -> AugmentConfig:
        return dataclasses.replace(
            self,
            time_shift_ms=0,
            background_frequency=0.0,
            gain_db_range=(0.0, 0.0),
            time_masks=0,
            freq_masks=0,
            speed_range=(1.0, 1.0),
        )


@dataclass(frozen=True)
class StreamExampleConfig:
    """Stream-shaped examples and hard-negative mining (training/streams.py says why).

    Shares are of each batch; times are in ms of audio; mining points are fractions of training
    progress (steps or time budget, whichever is further) after which the pool is mined again.
    """

    enabled: bool = False
    speech_dirs: tuple[str, ...] = ()
    end_delay_ms: tuple[float, float] = (0.0, 250.0)
    context_probability: float = 0.5
    context_gap_ms: tuple[float, float] = (30.0, 500.0)
    context_gain_db: tuple[float, float] = (-15.0, 0.0)
    cut_share: float = 0.05
    cut_fraction: tuple[float, float] = (0.2, 0.6)
    speech_share: float = 0.25
    join_probability: float = 0.3
    join_gap_ms: tuple[float, float] = (0.0, 300.0)
    hard_share: float = 0.15
    mining_points: tuple[float, ...] = (0.3, 0.6)
    mining_hop_ms: int = 100
    mining_threshold: float = 0.3
    mining_max_windows: int = 4000

    def __post_init__(self) -> None:
        shares = (self.cut_share, self.speech_share, self.hard_share)
        if min(shares) < 0 or sum(shares) >= 1:
            raise ValueError("stream example shares must be >= 0 and leave room for words")
        for low, high in (
            self.end_delay_ms,
            self.context_gap_ms,
            self.cut_fraction,
            self.join_gap_ms,
        ):
            if not 0 <= low <= high:
                raise ValueError("stream example ranges must satisfy 0 <= low <= high")
        if not 0 <= self.context_probability <= 1 or not 0 <= self.join_probability <= 1:
            raise ValueError("stream example probabilities must be between 0 and 1")
        if self.mining_hop_ms <= 0 or self.mining_max_windows < 0:
            raise ValueError("mining hop must be positive and the window count >= 0")


@dataclass(frozen=True)
class ContrastiveConfig:
    """The custom-word embedding's second task (training/contrastive.py says why); weight 0: off.

    `share` is the most rows of a batch (a fraction of the batch size) seen twice.
    """

    weight: float = 0.0
    share: float = 0.25
    temperature: float = 0.1
    projection_size: int = 128
    speed_range: tuple[float, float] = (0.85, 1.15)
    # The supervised word task (training/contrastive.py): each step adds `words_per_step` words
    # of the data directory, `clips_per_word` clips each, and pulls a word's clips together.
    word_weight: float = 0.0
    words_per_step: int = 8
    clips_per_word: int = 4
    # Words never made a class of that task (kept out to judge it on words it did not see).
    word_exclude: tuple[str, ...] = ()
    # More folder-per-word directories whose clips serve the word task alone (never classified).
    word_dirs: tuple[str, ...] = ()
    # Each word-task clip played at a random rate in this range, a cheap other voice (tempo and
    # pitch together), so the task pulls together a word's takes across voices it did not record;
    # (1, 1) plays them as recorded.
    word_speed_range: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        low, high = self.speed_range
        word_low, word_high = self.word_speed_range
        if not 0 < word_low <= word_high:
            raise ValueError("the word task's speed range must satisfy 0 < low <= high")
        if self.weight < 0 or self.word_weight < 0 or not 0 < self.share <= 1:
            raise ValueError("contrastive weights must be >= 0 and its share in (0, 1]")
        if self.words_per_step < 2 or self.clips_per_word < 2:
            raise ValueError("the contrastive word task needs >= 2 words and >= 2 clips of each")
        if self.temperature <= 0 or self.projection_size <= 0 or not 0 < low <= high:
            raise ValueError(
                "contrastive temperature and projection size must be positive, "
                "and its speed range satisfy 0 < low <= high"
            )

    @property
    def enabled(self) -> bool:
        return self.weight > 0 or self.word_weight > 0


@dataclass(frozen=True)
class DistillConfig:
    """Soft targets from an exported teacher model (training/distill.py says why); "": off.

    The loss is (1 - weight) x the labels' cross-entropy + weight x temperature^2 x the KL
    divergence from the teacher's softened distribution.
    """

    teacher: str = ""
    weight: float = 0.5
    temperature: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.weight <= 1 or self.temperature <= 0:
            raise ValueError("distillation weight must be in [0, 1] and its temperature positive")

    @property
    def enabled(self) -> bool:
        return bool(self.teacher)


@dataclass(frozen=True)
class TrainConfig:
    model_name: str = "tcresnet"
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-3
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.05
    class_balance_power: float = 0.5
    time_budget_minutes: float = 0.0
    seed: int = 1234
    device: str = "auto"
    threads: int = 2
    output_dir: str = "runs/default"
    # Start from this checkpoint's weights with a fresh optimiser and schedule ("" : from scratch);
    # unlike a resume, every other setting is this run's own.
    init_from: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stream: StreamExampleConfig = field(default_factory=StreamExampleConfig)
    contrastive: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        data = DataConfig(**_tuples(values["data"]))
        augment = AugmentConfig(**_tuples(values["augment"]))
        stream = StreamExampleConfig(**_tuples(values.get("stream", {})))
        contrastive = ContrastiveConfig(**_tuples(values.get("contrastive", {})))
        distill = DistillConfig(**values.get("distill", {}))
        nested = ("data", "augment", "stream", "contrastive", "distill")
        rest = {k: v for k, v in values.items() if k not in nested}
        return cls(
            data=data,
            augment=augment,
            stream=stream,
            contrastive=contrastive,
            distill=distill,
            **rest,
        )


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    """Lists come back from checkpoints where the dataclass holds tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
