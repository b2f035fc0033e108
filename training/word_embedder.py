"""`python -m training pair-embedder`: name, in a command model's file, the model custom words
read their embedding from (kws_app/words/embedder.py says why).

The name is written as the `kws.word_embedder` metadata (docs/model-format.md); the app follows
only a bare file name beside the model, so the embedder must already lie in the output's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kws_app.errors import UserError
from kws_app.inference.model import META_WORD_EMBEDDER, OnnxModel
from kws_app.words.embedder import PairedModel


class PairingError(UserError):
    """A pair the app could not use; str() is a one-line message."""


def pair_embedder(model_path: Path, embedder_path: Path, out_path: Path) -> None:
    """Write `model_path` to `out_path` naming `embedder_path` as its word embedder, after
    checking that the app can run the two as a pair."""
    from training.onnx_files import write_with_metadata

    if embedder_path.resolve().parent != out_path.resolve().parent:
        raise PairingError(
            f"the embedder {embedder_path} must lie in the output's folder {out_path.parent}: "
            "the app looks for it beside the model"
        )
    base = OnnxModel(model_path, prefer_gpu=False)
    PairedModel(base, OnnxModel(embedder_path, prefer_gpu=False))
    write_with_metadata(model_path, {META_WORD_EMBEDDER: embedder_path.name}, out_path)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pair-embedder",
        help="name the model whose embedding custom words read, in a command model's file",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("model", type=Path, help="the command model (.onnx)")
    parser.add_argument(
        "--embedder", type=Path, required=True, help="the word embedder, in --out's folder"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    pair_embedder(args.model, args.embedder, args.out)
    print(
        f"wrote {args.out}: custom words read {args.embedder.name}'s embedding; make the "
        "negatives file again for the pair (bench/words_negatives.py --model "
        f"{args.out})"
    )
    return 0
