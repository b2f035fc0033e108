"""`python -m training summary --model NAME`: layer shapes and parameters, like Keras' summary()."""

from __future__ import annotations

from typing import Any

from kws_app.config import FrontendConfig
from training.config import DEFAULT_WANTED_WORDS
from training.models import ARCHITECTURES, DEFAULT_MODEL, build_model, format_summary

# _silence_ and _unknown_ come before the words.
SPECIAL_CLASSES = 2


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("summary", help="print a model's layers and parameter counts")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(ARCHITECTURES))
    parser.add_argument("--classes", type=int, default=SPECIAL_CLASSES + len(DEFAULT_WANTED_WORDS))
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    frames, bins = FrontendConfig().input_shape
    print(format_summary(build_model(args.model, args.classes, frames, bins), frames, bins))
    return 0
