"""Training a model: seeded, resumable, with the app's own front end computing every feature.

`train()` is the orchestration: load the data, build the model and its optimizer, run epochs
(training/loop.py), validate and checkpoint after each (training/checkpoint.py), test the best.
Waveforms are decoded once and kept in memory; each batch is augmented as audio, turned into
log-mel features by `kws_app.dsp.frontend` (the code the app runs), then masked SpecAugment-style.
Randomness comes from (seed, epoch), so `--resume` continues the run it interrupted.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from training.augment import Augmenter
from training.checkpoint import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    RunCheckpoints,
    RunProgress,
    RunRecord,
    check_features,
    load_checkpoint,
    resume_from,
    save_checkpoint,
)
from training.config import SILENCE_LABEL, UNKNOWN_LABEL, TrainConfig
from training.contrastive import (
    ContrastiveObjective,
    WordBatches,
    clip_words,
    load_word_folders,
    word_embedding_size,
)
from training.data import (
    TESTING,
    TRAINING,
    VALIDATION,
    DatasetIndex,
    LoadedSplit,
    build_index,
    load_background,
    load_split,
)
from training.distill import Teacher
from training.loop import (
    EpochPlan,
    Schedule,
    features_of,
    mine_if_due,
    sampling_weights,
    train_epoch,
)
from training.metrics import Evaluation
from training.models import KwsModel, build_model, parameter_count
from training.speech_negatives import speech_negatives
from training.streams import SpeechPool, StreamShaper, load_speech_pool, word_extents

logger = logging.getLogger(__name__)

CONFUSION_PNG = "confusion_matrix.png"
METRICS_JSON = "test_metrics.json"
HISTORY_JSON = "history.json"
EVAL_BATCH = 256
SECONDS_PER_MINUTE = 60.0


class TrainingInterrupted(Exception):
    """Ctrl-C: a checkpoint was saved; str() says where, for a one-line message."""


def resolve_device(name: str) -> torch.device:
    """`auto` takes the GPU when torch sees one, like the seed's tfjs-node-gpu switch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA GPU on this machine")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


@dataclass
class PreparedData:
    index: DatasetIndex
    splits: dict[str, LoadedSplit]
    noises: list[npt.NDArray[np.float32]]
    skipped_files: int
    summary: dict[str, Any] = field(default_factory=dict)
    speech_pool: SpeechPool | None = None


def prepare_data(config: TrainConfig, frontend: FrontendConfig, progress: bool) -> PreparedData:
    index = build_index(config.data, frontend)
    noises, skipped_noise = load_background(index, frontend.sample_rate)
    splits: dict[str, LoadedSplit] = {}
    skipped = skipped_noise.total
    for split in (TRAINING, VALIDATION, TESTING):
        loaded, split_skipped = load_split(
            index, split, frontend, noises, config.data.seed, progress
        )
        splits[split] = loaded
        skipped += split_skipped.total
    summary = {
        "data_dir": str(config.data.data_dir),
        "unknown_dirs": list(config.data.unknown_dirs),
        "excluded_dirs": list(config.data.exclude_dirs),
        "split_rule": "lists" if index.used_lists else "sha1-speaker-hash",
        "clips": {
            split: {
                label: int(count)
                for label, count in zip(
                    index.labels, loaded.class_counts(len(index.labels)), strict=True
                )
            }
            for split, loaded in splits.items()
        },
        "skipped_files": skipped,
        "background_files": len(noises),
    }
    pool = None
    if config.stream.enabled:
        recordings = [
            recording
            for folder in config.stream.speech_dirs
            for recording in speech_negatives(Path(folder), TRAINING)
        ]
        pool, skipped_speech = load_speech_pool(recordings, frontend.sample_rate, progress)
        summary["speech_dirs"] = list(config.stream.speech_dirs)
        summary["speech_training_s"] = round(pool.seconds, 1)
        summary["speech_training_recordings"] = len(pool)
        summary["skipped_files"] = skipped + skipped_speech.total
    return PreparedData(index, splits, noises, skipped, summary, pool)


def build_shaper(
    config: TrainConfig, data: PreparedData, frontend: FrontendConfig
) -> StreamShaper | None:
    """The stream-shaped example builder for the training split, when the config asks for one."""
    if not config.stream.enabled:
        return None
    labels = data.index.labels
    split = data.splits[TRAINING]
    word_ids = [labels.index(word) for word in config.data.wanted_words]
    whole_clips = np.array([c.path is not None and c.start_ms is None for c in split.clips])
    shapeable = whole_clips & (split.targets != labels.index(SILENCE_LABEL))
    extents = word_extents(split.waves, shapeable)
    logger.info(
        "stream-shaped examples: %d of %d clips have a word extent; speech pool %.0f s",
        int((extents[:, 0] >= 0).sum()),
        len(split),
        data.speech_pool.seconds if data.speech_pool else 0.0,
    )
    return StreamShaper(
        config.stream,
        frontend,
        split.waves,
        extents,
        np.isin(split.targets, word_ids),
        labels.index(UNKNOWN_LABEL),
        data.speech_pool or SpeechPool([], frontend.sample_rate),
    )


def predict(
    model: KwsModel, features: npt.NDArray[np.float32], device: torch.device
) -> npt.NDArray[np.int64]:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, features.shape[0], EVAL_BATCH):
            batch = torch.from_numpy(features[start : start + EVAL_BATCH]).to(device)
            out.append(model(batch)[0].argmax(dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class TrainResult:
    best_checkpoint: Path
    best_validation_accuracy: float
    test: Evaluation
    epochs_run: int
    seconds: float
    parameter_count: int


def train(
    config: TrainConfig,
    resume: Path | None = None,
    progress: bool = True,
    data: PreparedData | None = None,
) -> TrainResult:
    """Train, keep the best checkpoint by validation accuracy, then test it.

    `data` lets a caller that trains several models on the same data decode it once; it must come
    from `prepare_data` with the same data settings.

    numpy's BLAS stays on one thread meanwhile: torch's pool already has the cores it was given
    (`threads`), and numpy's products here are small (each example's mel filterbank, mining's
    features), so a second pool only spins against torch's between calls.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(config, resume, progress, data)


def _train(
    config: TrainConfig,
    resume: Path | None,
    progress: bool,
    data: PreparedData | None,
) -> TrainResult:
    started = time.monotonic()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    frontend = FrontendConfig()
    extractor = FeatureExtractor(frontend)
    output = config.output_path
    output.mkdir(parents=True, exist_ok=True)

    checkpoint = load_checkpoint(resume) if resume else None
    if checkpoint is not None and checkpoint["config"] != config.to_dict():
        logger.warning("resuming with the checkpoint's settings; command-line settings are ignored")
        config = TrainConfig.from_dict(checkpoint["config"])
    # Read and checked before the data, which takes minutes to load: a wrong file fails at once.
    initial = _initial_weights(config) if checkpoint is None and config.init_from else None
    teacher = (
        Teacher(Path(config.distill.teacher), frontend, config.threads)
        if config.distill.enabled
        else None
    )
    if teacher is not None:
        logger.info(
            "distilling from %s (weight %.2f, temperature %.1f)",
            config.distill.teacher,
            config.distill.weight,
            config.distill.temperature,
        )

    if data is None:
        data = prepare_data(config, frontend, progress)
    labels = data.index.labels
    if teacher is not None:
        teacher.check_labels(labels)
    train_split = data.splits[TRAINING]
    validation_features = features_of(data.splits[VALIDATION].waves, extractor)
    test_features = features_of(data.splits[TESTING].waves, extractor)
    shaper = build_shaper(config, data, frontend)
    # A stream-shaped example is already placed where the stream puts it: no random shift.
    augment = replace(config.augment, time_shift_ms=0) if shaper else config.augment
    augmenter = Augmenter(augment, frontend, data.noises, config.seed)
    command_columns = [labels.index(word) for word in config.data.wanted_words]
    logger.info("clips: %s", {s: len(d) for s, d in data.splits.items()})

    fresh = checkpoint is None and initial is None
    model = _new_model(config, labels, frontend, train_split, extractor, fresh)
    if initial is not None:
        _load_initial_weights(model, initial, config.init_from, labels)
    model.to(device)
    objective = (
        ContrastiveObjective(
            config.contrastive, word_embedding_size(model, *frontend.input_shape)
        ).to(device)
        if config.contrastive.enabled
        else None
    )
    trained = list(model.parameters()) + (list(objective.parameters()) if objective else [])
    optimizer = torch.optim.AdamW(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = max(1, len(train_split) // config.batch_size)
    scheduler = _schedule(config, steps_per_epoch)
    loss_function = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    start_epoch, run = 0, RunProgress()
    if checkpoint is not None:
        start_epoch, run = resume_from(checkpoint, model, optimizer, scheduler, objective)
        logger.info(
            "resuming at epoch %d (best validation %.4f)", start_epoch + 1, run.best_accuracy
        )

    checked = check_features(test_features, validation_features, train_split.waves, extractor)
    weights = sampling_weights(train_split.targets, config.class_balance_power)
    params = parameter_count(model)
    logger.info("model %s: %d parameters, device %s", config.model_name, params, device)
    record = RunRecord(config, labels, frontend, params, json.dumps(data.summary), checked)
    checkpoints = RunCheckpoints(record, model, optimizer, scheduler, objective)
    plan = EpochPlan(
        model=model,
        split=train_split,
        weights=weights,
        augmenter=augmenter,
        extractor=extractor,
        optimizer=optimizer,
        scheduler=scheduler,
        loss_function=loss_function,
        device=device,
        config=config,
        steps_per_epoch=steps_per_epoch,
        progress=progress,
        shaper=shaper,
        contrastive=objective,
        unknown_target=labels.index(UNKNOWN_LABEL) if UNKNOWN_LABEL in labels else -1,
        word_batches=_word_batches(config, train_split, frontend),
        teacher=teacher,
    )

    epoch = start_epoch
    try:
        for epoch in range(start_epoch, config.epochs):
            epoch_started = time.monotonic()
            progress_before = scheduler.progress()
            loss, accuracy = train_epoch(plan, epoch)
            mine_if_due(plan, command_columns, progress_before)
            validation = Evaluation.from_predictions(
                labels,
                data.splits[VALIDATION].targets,
                predict(model, validation_features, device),
            )
            # Stream-shaped training keeps the last epoch: mining makes later epochs better on
            # streams even where clip accuracy dips, and the schedule anneals to the end.
            improved = run.add_epoch(
                {
                    "epoch": epoch + 1,
                    "loss": loss,
                    "train_accuracy": accuracy,
                    "validation_accuracy": validation.accuracy,
                    "seconds": time.monotonic() - epoch_started,
                },
                always_best=shaper is not None,
            )
            logger.info(
                "epoch %d/%d: lr %.2e, loss %.4f, train accuracy %.4f, "
                "validation accuracy %.4f%s (%.0f s)",
                epoch + 1, config.epochs, scheduler.learning_rate(), loss, accuracy,
                validation.accuracy, " (best)" if improved else "", run.history[-1]["seconds"],
            )  # fmt: skip
            if improved:
                checkpoints.save(output / BEST_CHECKPOINT, epoch + 1, run)
            checkpoints.save(output / LAST_CHECKPOINT, epoch + 1, run)
            if scheduler.finished and epoch + 1 < config.epochs:
                logger.warning(
                    "time budget of %.1f min reached; stopping", config.time_budget_minutes
                )
                epoch += 1
                break
        else:
            epoch = config.epochs
    except KeyboardInterrupt:
        path = output / LAST_CHECKPOINT
        checkpoints.save(path, epoch, run)
        raise TrainingInterrupted(
            f"interrupted in epoch {epoch + 1}; checkpoint saved to {path} (continue with --resume)"
        ) from None

    test = _test_best(model, output, labels, data.splits[TESTING].targets, test_features, device)
    test.save_json(output / METRICS_JSON)
    test.save_png(output / CONFUSION_PNG, f"{config.model_name}: test accuracy {test.accuracy:.3f}")
    (output / HISTORY_JSON).write_text(json.dumps(run.history, indent=2))
    return TrainResult(
        output / BEST_CHECKPOINT,
        run.best_accuracy,
        test,
        epoch - start_epoch,
        time.monotonic() - started,
        params,
    )


def _new_model(
    config: TrainConfig,
    labels: tuple[str, ...],
    frontend: FrontendConfig,
    train_split: LoadedSplit,
    extractor: FeatureExtractor,
    fresh: bool,
) -> KwsModel:
    """The configured network; a fresh run sets its input normalisation from the clean clips.

    A resumed run skips the statistics: the checkpoint's weights (normalisation included)
    replace them anyway.
    """
    frames, bins = frontend.input_shape
    model = build_model(config.model_name, len(labels), frames, bins)
    if fresh:
        clean = features_of(train_split.waves, extractor)
        model.norm.set_statistics(
            torch.from_numpy(clean.mean(axis=(0, 1))), torch.from_numpy(clean.std(axis=(0, 1)))
        )
    return model


def _initial_weights(config: TrainConfig) -> dict[str, Any]:
    """The `--init-from` checkpoint, refused at once when it holds another architecture."""
    start = load_checkpoint(Path(config.init_from))
    trained = TrainConfig.from_dict(start["config"])
    if trained.model_name != config.model_name:
        raise ValueError(
            f"{config.init_from} holds a {trained.model_name}; "
            f"this run trains a {config.model_name}"
        )
    return start


def _load_initial_weights(
    model: KwsModel, start: dict[str, Any], path: str, labels: tuple[str, ...]
) -> None:
    """Weights only: the run keeps its own optimiser, schedule and data settings."""
    if tuple(start["labels"]) != labels:
        raise ValueError(
            f"{path} was trained for {', '.join(start['labels'])}; "
            f"this run trains for {', '.join(labels)}"
        )
    model.load_state_dict(start["model"])
    logger.info("starting from the weights of %s", path)


def _word_batches(
    config: TrainConfig, split: LoadedSplit, frontend: FrontendConfig
) -> WordBatches | None:
    """The word task's draws over the training split's words and the extra word folders' (one
    class per word name in both), or None where the task is off."""
    task = config.contrastive
    if task.word_weight <= 0:
        return None
    words, found = clip_words(split.clips, config.data.data_dir, task.word_exclude)
    extra_waves, extra_names = load_word_folders(task.word_dirs, frontend, task.word_exclude)
    numbering = {name: i for i, name in enumerate(found)}
    extra = [numbering.setdefault(name, len(numbering)) for name in extra_names]
    names = list(numbering)
    batches = WordBatches(
        task, np.concatenate([words, np.array(extra, dtype=np.int64)]), split.waves, extra_waves
    )
    logger.info(
        "word task: %d words with %d+ training clips (%s), %d excluded",
        len(batches.words),
        task.clips_per_word,
        ", ".join(names[w] for w in batches.words),
        len(task.word_exclude),
    )
    return batches


def _schedule(config: TrainConfig, steps_per_epoch: int) -> Schedule:
    return Schedule(
        config.learning_rate,
        max(1, int(config.warmup_epochs * steps_per_epoch)),
        steps_per_epoch * config.epochs,
        config.time_budget_minutes * SECONDS_PER_MINUTE,
    )


def _test_best(
    model: KwsModel,
    output: Path,
    labels: tuple[str, ...],
    targets: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32],
    device: torch.device,
) -> Evaluation:
    """Test the best checkpoint's weights and record the accuracy in that checkpoint."""
    best = load_checkpoint(output / BEST_CHECKPOINT)
    model.load_state_dict(best["model"])
    test = Evaluation.from_predictions(labels, targets, predict(model, features, device))
    best["test_accuracy"] = json.dumps(test.accuracy_summary())
    save_checkpoint(output / BEST_CHECKPOINT, best)
    return test


def add_parser(subparsers: Any) -> None:
    """`python -m training train`: the flags mirror TF speech_commands' train.py where they can."""
    from training.config import (
        DEFAULT_WANTED_WORDS,
        AugmentConfig,
        ContrastiveConfig,
        DataConfig,
        DistillConfig,
        StreamExampleConfig,
    )
    from training.models import ARCHITECTURES, DEFAULT_MODEL

    defaults, data_defaults = TrainConfig(), DataConfig()
    parser = subparsers.add_parser("train", help="train a model on a folder-per-word dataset")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="dataset folder (one folder per word)")
    source.add_argument(
        "--download", metavar="DIR", help="fetch Speech Commands v0.02 into DIR and train on it"
    )
    parser.add_argument("--download-url", default=None, help="archive URL (for mirrors)")
    parser.add_argument(
        "--wanted-words", default=",".join(DEFAULT_WANTED_WORDS), help="comma-separated words"
    )
    parser.add_argument(
        "--unknown-dir", action="append", default=[], help="extra folder of non-command speech"
    )
    parser.add_argument(
        "--exclude-dir", action="append", default=[], help="never train or test on files here"
    )
    parser.add_argument(
        "--silence-percentage", type=float, default=data_defaults.silence_percentage
    )
    parser.add_argument(
        "--unknown-percentage", type=float, default=data_defaults.unknown_percentage
    )
    parser.add_argument(
        "--unknown-window-hop-ms",
        type=int,
        default=data_defaults.unknown_window_hop_ms,
        help="cut --unknown-dir recordings into a clip-long window every this many ms "
        "(0: one random window per recording)",
    )
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    stream = StreamExampleConfig()
    parser.add_argument(
        "--stream-examples",
        action="store_true",
        help="stream-shaped examples: words end-aligned in context, continuous speech and "
        "mined hard negatives as _unknown_ (training/streams.py)",
    )
    parser.add_argument(
        "--speech-negatives",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of continuous speech with a manifest.csv (its training speakers are used)",
    )
    parser.add_argument("--speech-share", type=float, default=stream.speech_share)
    parser.add_argument("--hard-share", type=float, default=stream.hard_share)
    parser.add_argument("--cut-share", type=float, default=stream.cut_share)
    parser.add_argument(
        "--end-delay-ms",
        type=float,
        nargs=2,
        default=stream.end_delay_ms,
        metavar=("MIN", "MAX"),
        help="a word is a positive in windows ending this long after the word's end",
    )
    parser.add_argument(
        "--mining-points",
        default=",".join(str(p) for p in stream.mining_points),
        help="comma-separated fractions of training after which hard negatives are mined",
    )
    parser.add_argument("--mining-threshold", type=float, default=stream.mining_threshold)
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(ARCHITECTURES))
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument(
        "--time-budget-min",
        type=float,
        default=0.0,
        help="training minutes (data loading excluded): the learning rate anneals to reach zero "
        "by then and training stops after that epoch",
    )
    parser.add_argument("--no-augment", action="store_true", help="train on clean clips only")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--output-dir", default=defaults.output_dir)
    parser.add_argument("--resume", type=Path, help="continue from this checkpoint (last.pt)")
    parser.add_argument(
        "--init-from",
        type=Path,
        help="start from this checkpoint's weights with a fresh schedule and this run's settings",
    )
    augment = AugmentConfig()
    for flag, default, metavar, text in (
        (
            "--speed-range",
            augment.speed_range,
            ("SLOWEST", "FASTEST"),
            "play each example at a random rate in this range (1 1: off)",
        ),
        (
            "--noise-snr-db",
            augment.noise_snr_db,
            ("LOW", "HIGH"),
            "add background noise at a random SNR in this range (dB under the example's loud "
            "part) instead of the dataset's fixed volume range",
        ),
    ):
        parser.add_argument(flag, type=float, nargs=2, default=default, metavar=metavar, help=text)
    contrastive = ContrastiveConfig()
    parser.add_argument(
        "--contrastive-word-weight",
        type=float,
        default=contrastive.word_weight,
        help="weight of the supervised word task on the custom-word embedding "
        "(training/contrastive.py; 0: off)",
    )
    parser.add_argument(
        "--contrastive-words",
        type=int,
        nargs=2,
        default=(contrastive.words_per_step, contrastive.clips_per_word),
        metavar=("WORDS", "CLIPS"),
        help="words per step of the word task, and clips of each",
    )
    parser.add_argument(
        "--contrastive-word-exclude",
        nargs="*",
        default=list(contrastive.word_exclude),
        metavar="WORD",
        help="words never made a class of the word task (to judge it on words it did not see)",
    )
    parser.add_argument(
        "--contrastive-word-dirs",
        nargs="*",
        type=Path,
        default=[],
        metavar="DIR",
        help="more folder-per-word directories whose clips serve the word task alone "
        "(e.g. bench/make_word_classes.py's)",
    )
    parser.add_argument(
        "--contrastive-weight",
        type=float,
        default=contrastive.weight,
        help="weight of the custom-word embedding's contrastive task on _unknown_ rows "
        "(training/contrastive.py; 0: off)",
    )
    parser.add_argument(
        "--contrastive-share",
        type=float,
        default=contrastive.share,
        help="at most this fraction of a batch is seen a second time for that task",
    )
    parser.add_argument("--contrastive-temperature", type=float, default=contrastive.temperature)
    parser.add_argument(
        "--contrastive-word-speed",
        type=float,
        nargs=2,
        default=contrastive.word_speed_range,
        metavar=("SLOWEST", "FASTEST"),
        help="play each clip of the word task at a random rate in this range, another voice "
        "for the task (1 1: as recorded)",
    )
    distill = DistillConfig()
    parser.add_argument(
        "--distill-from",
        type=Path,
        help="an exported model (an ensemble file included) whose soft targets the model also "
        "learns (training/distill.py)",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=distill.weight,
        help="share of the loss taken by the teacher's soft targets (0-1)",
    )
    parser.add_argument("--distill-temperature", type=float, default=distill.temperature)
    parser.add_argument("--export", type=Path, help="also write the best model to this .onnx file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_command, augment_defaults=AugmentConfig())


def run_command(args: Any) -> int:
    from training.config import (
        ContrastiveConfig,
        DataConfig,
        DistillConfig,
        StreamExampleConfig,
    )

    data_dir = args.data_dir
    if args.download:
        from training.download import SPEECH_COMMANDS_URL, download_dataset

        data_dir = str(
            download_dataset(args.download_url or SPEECH_COMMANDS_URL, Path(args.download))
        )
    augment = (
        args.augment_defaults.disabled()
        if args.no_augment
        else replace(
            args.augment_defaults,
            speed_range=tuple(args.speed_range),
            noise_snr_db=None if args.noise_snr_db is None else tuple(args.noise_snr_db),
        )
    )
    config = TrainConfig(
        model_name=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        time_budget_minutes=args.time_budget_min,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        output_dir=args.output_dir,
        init_from=str(args.init_from or ""),
        data=DataConfig(
            data_dir=data_dir,
            wanted_words=tuple(w.strip() for w in args.wanted_words.split(",") if w.strip()),
            unknown_dirs=tuple(args.unknown_dir),
            exclude_dirs=tuple(args.exclude_dir),
            silence_percentage=args.silence_percentage,
            unknown_percentage=args.unknown_percentage,
            unknown_window_hop_ms=args.unknown_window_hop_ms,
        ),
        augment=augment,
        stream=StreamExampleConfig(
            enabled=args.stream_examples,
            speech_dirs=tuple(args.speech_negatives),
            speech_share=args.speech_share,
            hard_share=args.hard_share,
            cut_share=args.cut_share,
            end_delay_ms=tuple(args.end_delay_ms),
            mining_points=tuple(float(p) for p in args.mining_points.split(",") if p.strip()),
            mining_threshold=args.mining_threshold,
        ),
        contrastive=ContrastiveConfig(
            weight=args.contrastive_weight,
            share=args.contrastive_share,
            temperature=args.contrastive_temperature,
            word_weight=args.contrastive_word_weight,
            words_per_step=args.contrastive_words[0],
            clips_per_word=args.contrastive_words[1],
            word_exclude=tuple(args.contrastive_word_exclude),
            word_dirs=tuple(str(d) for d in args.contrastive_word_dirs),
            word_speed_range=(args.contrastive_word_speed[0], args.contrastive_word_speed[1]),
        ),
        distill=DistillConfig(
            teacher=str(args.distill_from or ""),
            weight=args.distill_weight,
            temperature=args.distill_temperature,
        ),
    )
    result = train(config, resume=args.resume, progress=not args.quiet)
    test = result.test
    print(test.format_confusion())
    print(
        f"model {config.model_name}: {result.parameter_count:,} parameters, "
        f"{result.epochs_run} epochs in {result.seconds / SECONDS_PER_MINUTE:.1f} min"
    )
    print(f"best validation accuracy: {result.best_validation_accuracy:.4f}")
    print(f"test accuracy: {test.accuracy:.4f} (all labels), {test.word_accuracy:.4f} (words)")
    print(f"checkpoint: {result.best_checkpoint}; metrics in {config.output_path}")
    if args.export:
        from training.export import export_checkpoint

        export_checkpoint(result.best_checkpoint, args.export)
        print(f"exported {args.export}")
    return 0
