"""`kws-app words ...`: add, list, remove, rename, export and import custom words.

The same store, trainer and archive code as the window's "Add word..." dialog, so a word added here
shows up in the app and the other way round. User mistakes end with one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.audio.files import AudioFileError, AudioFileStream, list_audio_files, read_audio_at
from kws_app.audio.resample import to_rate
from kws_app.errors import UserError, one_line
from kws_app.paths import default_model_path
from kws_app.words.archive import export_words, import_words
from kws_app.words.calibration import describe_operating_point
from kws_app.words.refresh import learn, train_words
from kws_app.words.store import MIN_EXAMPLES, WordStore, WordStoreError
from kws_app.words.synthetic import SYNTHETIC_TAKES_KEY
from kws_app.words.takes import MAX_TAKE_SECONDS, check_take_duration, take_label, trim_take
from kws_app.words.trainer import WordTrainer, model_id_of

logger = logging.getLogger(__name__)

EXIT_USER_ERROR = 2
READ_BLOCK_MS = 500


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kws-app words", description="Teach the app your own words from a few recordings."
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="word store folder (default: user data folder)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"base ONNX model (default: the bundled {default_model_path().name})",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="learn a word from a folder of recordings")
    add.add_argument("name")
    add.add_argument(
        "--from-wav-dir",
        type=Path,
        required=True,
        help=(
            f"folder of at least {MIN_EXAMPLES} recordings of the word (WAV, FLAC, OGG...), each "
            f"up to {MAX_TAKE_SECONDS:g} s holding the word once; silence around it is trimmed"
        ),
    )
    add.add_argument("--background", type=Path, help="optional recording of the room, 10 s+")
    add.add_argument(
        "--say-as",
        metavar="TEXT",
        help="also learn the word from synthetic voices (espeak-ng) saying TEXT, e.g. the name; "
        "without espeak-ng the word learns from the recordings alone",
    )
    commands.add_parser("list", help="list the custom words")
    remove = commands.add_parser("remove", help="forget a word")
    remove.add_argument("name")
    forget = commands.add_parser(
        "forget-alarms",
        help="forget the false alarms given back to a custom word or a command word "
        "(\"Not 'word'\" in the window)",
    )
    forget.add_argument("name")
    rename = commands.add_parser("rename", help="rename a word")
    rename.add_argument("old")
    rename.add_argument("new")
    export = commands.add_parser("export", help="write words to one file")
    export.add_argument("names", nargs="*", help="words to export (default: all)")
    export.add_argument("--out", type=Path, required=True, help="output file (.kwswords)")
    imported = commands.add_parser("import", help="add the words of a word file")
    imported.add_argument("file", type=Path)
    return parser


def _load_model(path: Path | None):  # type: ignore[no-untyped-def]
    from kws_app.inference.model import OnnxModel

    return OnnxModel(path or default_model_path(), prefer_gpu=False)


def _words_model(path: Path | None):  # type: ignore[no-untyped-def]
    """The model custom words are learned on (with its word embedder, where it names one)."""
    from kws_app.words.embedder import words_model

    model, problem = words_model(_load_model(path))
    if problem is not None:
        print(problem, file=sys.stderr)
    return model


def _labels_of(path: Path) -> tuple[str, ...]:
    """The model's labels; none where it cannot be loaded (listing words does not need it)."""
    from kws_app.inference.model import ModelError

    if not path.is_file():
        return ()
    try:
        return tuple(_load_model(path).labels)
    except ModelError as error:
        logger.warning("%s", error)
        return ()


def _words_model_id(path: Path) -> str | None:
    """The identity a head trained now for the model at `path` would carry; None where the model
    cannot be loaded (listing the words does not need it)."""
    from kws_app.inference.model import ModelError
    from kws_app.words.embedder import identity_paths

    try:
        return model_id_of(identity_paths(_words_model(path)))
    except ModelError as error:
        logger.warning("%s", error)
        return None


def _trainer(args: argparse.Namespace) -> WordTrainer:
    from kws_app.words.embedder import identity_paths

    model = _words_model(args.model)
    return WordTrainer(model, identity_paths(model))


def _read_take(path: Path, what: str) -> tuple[npt.NDArray[np.float32], int]:
    """A recording's samples and rate, read in blocks so an hour-long file stops at the limit."""
    blocks: list[npt.NDArray[np.float32]] = []
    read = 0
    with AudioFileStream(path) as stream:
        for block in stream.blocks(READ_BLOCK_MS):
            read += block.shape[0]
            check_take_duration(read, stream.sample_rate, what)
            blocks.append(block)
        rate = stream.sample_rate
    if not blocks:
        raise AudioFileError(f"audio file {path.name} holds no samples")
    return np.concatenate(blocks), rate


def _read_examples(folder: Path, rate: int) -> list[npt.NDArray[np.float32]]:
    """The folder's recordings at `rate`, each trimmed to its one utterance.

    A take that is not exactly one word (silent, noise only, the word twice, too long) is refused
    by number and file name, with the same words the Add-word dialog shows next to a take.
    """
    if not folder.is_dir():
        raise WordStoreError(f"not a folder: {folder}")
    files = list_audio_files(folder, recursive=False)
    if len(files) < MIN_EXAMPLES:
        raise WordStoreError(
            f"{folder} holds {len(files)} recordings; a word needs at least {MIN_EXAMPLES}"
        )
    examples: list[npt.NDArray[np.float32]] = []
    for number, path in enumerate(files, start=1):
        what = take_label(number, path.name)
        samples, file_rate = _read_take(path, what)
        examples.append(trim_take(to_rate(samples, file_rate, rate), rate, what))
    return examples


def run_add(args: argparse.Namespace, store: WordStore) -> int:
    trainer = _trainer(args)
    rate = trainer.frontend.sample_rate
    examples = _read_examples(args.from_wav_dir, rate)
    background = read_audio_at(args.background, rate) if args.background else None
    spelling = args.say_as
    refresh = learn(trainer, store, args.name, examples, rate, background, spelling=spelling)
    heads = refresh.heads
    learned = store.get(args.name)
    head = dict(heads).get(learned.name)
    synthetic = int(head.details.get(SYNTHETIC_TAKES_KEY, 0)) if head is not None else 0
    voices = f" and {synthetic} synthetic takes" if synthetic else ""
    print(f"added {learned.name!r} from {len(examples)} recordings{voices}; words: {_names(heads)}")
    if spelling is not None and not synthetic:
        print("synthetic voices were not used (the warning above says why)")
    return 0


def _names(heads: Sequence[tuple[str, object]]) -> str:
    return ", ".join(name for name, _ in heads) or "(none)"


def run_list(args: argparse.Namespace, store: WordStore) -> int:
    words = store.words()
    model_path = args.model or default_model_path()
    for label, seconds in store.command_alarm_seconds(_labels_of(model_path)).items():
        print(f"{label}\tcommand word, {seconds:.1f} s of false alarms")
    if not words:
        print("no custom words")
        return 0
    model_id = _words_model_id(model_path) if model_path.is_file() else None
    for word in words:
        head = store.head(word)
        if head is None:
            state = "not trained"
        elif model_id is not None and head.model_id != model_id:
            state = "trained for another model (retrains on next use)"
        else:
            state = f"trained, {describe_operating_point(head.details)}"
        background = ", background" if word.record.background else ""
        spelling = f", voices say {word.record.spelling!r}" if word.record.spelling else ""
        alarm_s = store.false_alarm_seconds(word)
        given_back = f", {alarm_s:.1f} s of false alarms" if alarm_s else ""
        print(
            f"{word.name}\t{len(word.record.examples)} examples{background}{spelling}"
            f"{given_back}\t{state}"
        )
    return 0


def run_forget_command_alarms(args: argparse.Namespace, store: WordStore) -> int:
    """The command word's veto goes with its false alarms: the window hears it as the model
    does again."""
    if store.forget_command_alarms(args.name):
        print(f"{args.name!r} forgot its false alarms")
        return 0
    if args.name in _labels_of(args.model or default_model_path()):
        print(f"{args.name!r} has no false alarms")
        return 0
    raise WordStoreError(f"no custom word or command word named {args.name!r}")


def run_import(args: argparse.Namespace, store: WordStore) -> int:
    trainer = _trainer(args)
    installed = import_words(store, args.file, reserved=trainer.model.labels)
    refresh = train_words(trainer, store, retrain_all=True)
    print(f"imported {', '.join(w.name for w in installed)}; words: {_names(refresh.heads)}")
    # As in the window, a word that cannot train stays stored and the warning above says why;
    # the exit status says whether every imported word can be listened for.
    imported = {word.name for word in installed}
    return 1 if any(name in imported for name, _ in refresh.failed) else 0


def dispatch(args: argparse.Namespace) -> int:
    store = WordStore(args.store)
    if args.command == "add":
        return run_add(args, store)
    if args.command == "list":
        return run_list(args, store)
    if args.command == "remove":
        store.remove(args.name)
        print(f"removed {args.name!r}")
        return 0
    if args.command == "forget-alarms":
        word = store.find(args.name)
        if word is None:  # a command word's, or no such word
            return run_forget_command_alarms(args, store)
        if not store.forget_false_alarms(word):
            print(f"{word.name!r} has no false alarms")
            return 0
        refresh = train_words(_trainer(args), store)
        print(f"{word.name!r} forgot its false alarms; words: {_names(refresh.heads)}")
        return 0
    if args.command == "rename":
        model_path = args.model or default_model_path()
        reserved = _load_model(model_path).labels if model_path.is_file() else ()
        word = store.rename(args.old, args.new, reserved=reserved)
        print(f"renamed {args.old!r} to {word.name!r}")
        return 0
    if args.command == "export":
        names = export_words(store, list(args.names), args.out)
        print(f"exported {', '.join(names)} to {args.out}")
        return 0
    if args.command == "import":
        return run_import(args, store)
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return dispatch(args)
    except (UserError, OSError) as error:
        print(f"kws-app words: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 1
