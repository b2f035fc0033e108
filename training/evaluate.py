"""`python -m training evaluate`: clip accuracy of an exported .onnx file, run the app's way.

It scores through `kws_app` (the app's front end and its `OnnxModel` runner, reading the labels and
front-end settings from the file), so the figure covers everything between a recording and the
score the user would see, including the export itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kws_app.dsp.frontend import FeatureExtractor, fit_clip
from kws_app.inference.model import OnnxModel
from training.config import SILENCE_LABEL, UNKNOWN_LABEL, DataConfig
from training.data import SPLITS, TESTING, DataError, build_index, load_background, load_split
from training.metrics import Evaluation

logger = logging.getLogger(__name__)

BATCH_CLIPS = 256


def score_waves(model: OnnxModel, waves: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Probabilities for clip waveforms through the app's front end and runner."""
    extractor = FeatureExtractor(model.frontend)
    frames, bins = model.frontend.input_shape
    scores = np.zeros((waves.shape[0], len(model.labels)), dtype=np.float32)
    for start in range(0, waves.shape[0], BATCH_CLIPS):
        chunk = waves[start : start + BATCH_CLIPS]
        features = np.empty((chunk.shape[0], frames, bins), dtype=np.float32)
        for row, wave in enumerate(chunk):
            features[row] = extractor.compute(fit_clip(wave, model.frontend))
        scores[start : start + chunk.shape[0]] = model.predict(features)
    return scores


def evaluate_model(
    model: OnnxModel,
    data_dir: Path,
    split: str = TESTING,
    unknown_dirs: tuple[str, ...] = (),
    exclude_dirs: tuple[str, ...] = (),
    progress: bool = True,
) -> Evaluation:
    labels = model.labels
    if labels[:2] != (SILENCE_LABEL, UNKNOWN_LABEL):
        raise DataError(
            f"{model.path.name}: labels must start with {SILENCE_LABEL}, {UNKNOWN_LABEL} "
            "to be evaluated on a Speech Commands-style folder"
        )
    config = DataConfig(
        data_dir=str(data_dir),
        wanted_words=labels[2:],
        unknown_dirs=unknown_dirs,
        exclude_dirs=exclude_dirs,
    )
    index = build_index(config)
    noises, _ = load_background(index, model.frontend.sample_rate)
    loaded, _ = load_split(index, split, model.frontend, noises, config.seed, progress)
    if len(loaded) == 0:
        raise DataError(f"no {split} clips in {data_dir}")
    predictions = score_waves(model, loaded.waves).argmax(axis=1).astype(np.int64)
    return Evaluation.from_predictions(labels, loaded.targets, predictions)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("evaluate", help="clip accuracy of an .onnx model on a dataset")
    parser.add_argument("--model", type=Path, required=True, help="exported .onnx file")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--split", default=TESTING, choices=SPLITS)
    parser.add_argument("--unknown-dir", action="append", default=[])
    parser.add_argument("--exclude-dir", action="append", default=[])
    parser.add_argument("--json", type=Path, help="write accuracy and per-class figures here")
    parser.add_argument("--png", type=Path, help="write the confusion matrix image here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    model = OnnxModel(args.model, prefer_gpu=True)
    result = evaluate_model(
        model,
        args.data_dir,
        args.split,
        tuple(args.unknown_dir),
        tuple(args.exclude_dir),
        progress=not args.quiet,
    )
    print(result.format_confusion())
    print(
        f"{args.split}: {result.count} clips, accuracy {result.accuracy:.4f} (all labels), "
        f"{result.word_accuracy:.4f} (words)"
    )
    if args.json:
        result.save_json(args.json)
    if args.png:
        result.save_png(
            args.png, f"{model.info.model_name}: {args.split} accuracy {result.accuracy:.3f}"
        )
    return 0
