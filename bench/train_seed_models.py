"""Train the seed architectures (and TC-ResNet14) on ../shared/data with a fixed epoch count.

On a busy shared machine a time budget measures the neighbours more than the model, so this
compares architectures at equal epochs, decoding the data once for all of them, and prints each
model's parameters, epochs, wall time, and validation/test accuracy (12-class and words).
Usage: python bench/train_seed_models.py [--epochs N] [--models a,b,...] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

from kws_app.config import FrontendConfig
from training.config import DataConfig, TrainConfig
from training.train import prepare_data, train

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED_MODELS = "ds_tcresnet,tcresnet,tfjs_convnet,tf_low_latency_conv,tf_conv"
# The shipped model's data settings (bench/train_models.sh), so only the architecture differs.
UNKNOWN_PERCENTAGE = 40.0
UNKNOWN_WINDOW_HOP_MS = 250
# Adam at 3e-3 suits the batch-normalised temporal nets; the seed nets have no normalisation
# layers and are trained at 1e-3 (Adam's usual rate).
LEARNING_RATES = {"tcresnet": 3e-3, "ds_tcresnet": 3e-3}
SEED_LEARNING_RATE = 1e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--models", default=SEED_MODELS)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/seeds"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    negatives = DATA / "negatives" / "precise"
    base = TrainConfig(
        epochs=args.epochs,
        threads=args.threads,
        data=DataConfig(
            data_dir=str(DATA / "speech_commands"),
            unknown_dirs=(str(negatives),),
            exclude_dirs=(str(negatives / "heysavant" / "not-wake-words"),),
            unknown_percentage=UNKNOWN_PERCENTAGE,
            unknown_window_hop_ms=UNKNOWN_WINDOW_HOP_MS,
        ),
    )
    data = prepare_data(base, FrontendConfig(), progress=False)
    results = []
    for name in args.models.split(","):
        config = dataclasses.replace(
            base,
            model_name=name,
            learning_rate=LEARNING_RATES.get(name, SEED_LEARNING_RATE),
            output_dir=str(args.output_dir / name),
        )
        started = time.monotonic()
        result = train(config, progress=False, data=data)
        row = {
            "model": name,
            "parameters": result.parameter_count,
            "epochs": result.epochs_run,
            "learning_rate": config.learning_rate,
            "minutes": round((time.monotonic() - started) / 60, 1),
            "validation_accuracy": round(result.best_validation_accuracy, 4),
            "test_accuracy_12": round(result.test.accuracy, 4),
            "test_accuracy_words": round(result.test.word_accuracy, 4),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
        print(result.test.format_confusion(), flush=True)
    (args.output_dir / "summary.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
