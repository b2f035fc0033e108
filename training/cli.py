"""`python -m training <command>`: each command lives in its own module and registers itself.

A module adds its command with `add_parser(subparsers)`, setting `func` to a handler that returns
the exit code; adding a command is one entry in `COMMAND_MODULES`. User errors become one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from kws_app.errors import UserError, one_line

USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130
COMMAND_MODULES = (
    "training.train",
    "training.export",
    "training.evaluate",
    "training.label_wav",
    "training.summary",
    "training.download",
    "training.stream_cli",
    "training.ensemble",
    "training.embedding_graph",
    "training.word_embedder",
    "training.onnx_import",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


# Besides every UserError: a file named on the command line that is not there, and the plain
# ValueErrors training's option checks still raise (an unknown architecture or device).
USER_ERRORS = (UserError, FileNotFoundError, ValueError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    from training.train import TrainingInterrupted

    try:
        return int(args.func(args))
    except TrainingInterrupted as interrupted:
        print(f"stopped: {interrupted}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return INTERRUPTED_EXIT
    except USER_ERRORS as error:
        if args.verbose:
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        return USER_ERROR_EXIT
