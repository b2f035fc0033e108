"""Does a command word's veto learn the user's voice? Their own word against other people's.

Usage: .venv/bin/python bench/command_veto_own_voice.py [--data-dir ../shared/data]
           [--model assets/kws-default.onnx] [--min-other-clips 6] [--max-given-back N]
           [--own-takes N] [--without-own] [--split test|training] [--kept FILE]
           [--max-speakers N] [--max-others N]

A veto ("Not 'on'", kws_app/words/vetoes.py) is learned from sounds in the user's voice, against
the kept strides of the word said by other people; it could learn to tell the user's voice
rather than the sound, and then block the user's own "on". bench/command_vetoes.py cannot see
that (its false alarms and its command words are different speakers). Here each speaker of the
Speech Commands test split with at least --min-other-clips other clips stands for a user: for
each command word they say, the word's veto is learned from their clips of every other word
(given back as the window would: the averaging window before each clip and the clip), and then
the speaker's own takes of the word and every other test speaker's takes of it are decoded at
the app's defaults, each take alone in a quiet room, with and without the veto. If the veto
learned the voice, the speaker's own takes lose far more than other people's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from words_fewshot import decode, load_models

from kws_app.audio.files import read_audio_at
from kws_app.config import MS_PER_SECOND, DecoderConfig
from kws_app.inference.pipeline import is_command_label, operating_points_of
from kws_app.paths import default_model_path
from kws_app.words.trainer import WordTrainer
from kws_app.words.vetoes import (
    CommandVeto,
    VetoConfig,
    apply_vetoes,
    kept_strides_path,
    learn_veto,
    load_kept_strides,
    stride_windows,
)

logger = logging.getLogger(__name__)

RATE = 16000
ROOM_RMS = 0.003  # a quiet room under each take
LEAD_S = 0.5  # room before and after each take when it is decoded


def speakers_of(speech_commands: Path, split: str) -> dict[str, dict[str, list[Path]]]:
    """speaker -> label -> the split's takes (Speech Commands names files speaker_nohash_n; the
    training split is every take in neither list)."""
    listed = {
        name: set((speech_commands / f"{name}_list.txt").read_text().split())
        for name in ("validation", "testing")
    }
    if split == "test":
        lines = sorted(listed["testing"])
    else:
        reserved = listed["validation"] | listed["testing"]
        lines = sorted(
            f"{folder.name}/{take.name}"
            for folder in speech_commands.iterdir()
            if folder.is_dir() and not folder.name.startswith("_")
            for take in folder.iterdir()
            if f"{folder.name}/{take.name}" not in reserved
        )
    found: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        label, name = line.split("/")
        found[name.split("_")[0]][label].append(speech_commands / line)
    return found


def in_room(take: np.ndarray, before_s: float, after_s: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wave = np.concatenate(
        [np.zeros(int(before_s * RATE)), take, np.zeros(int(after_s * RATE))]
    ).astype(np.float32)
    return (wave + rng.normal(0.0, ROOM_RMS, wave.size)).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--min-other-clips", type=int, default=6)
    parser.add_argument(
        "--max-given-back",
        type=int,
        help="learn each veto from at most this many of the speaker's other takes (a few false "
        "alarms given back, as a user would), drawn at random; default: all of them",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        choices=("test", "training"),
        default="test",
        help="whose takes: the test speakers' (report), or the training speakers' (to choose)",
    )
    parser.add_argument("--kept", type=Path, help="kept strides (default: beside the model)")
    parser.add_argument("--max-speakers", type=int, help="at most this many users, at random")
    parser.add_argument(
        "--max-others", type=int, help="other speakers' takes per word, at most, at random"
    )
    parser.add_argument(
        "--without-own",
        action="store_true",
        help="with --own-takes: the same speakers and counted takes, but the veto does not "
        "learn from the kept ones (what the own takes change)",
    )
    parser.add_argument(
        "--own-takes",
        type=int,
        default=0,
        help="the speaker's first N takes of the word are detections they kept: the veto also "
        "learns from them (as the window keeps them), and only the speaker's other takes of "
        "the word are counted (so only speakers with more than N takes of it)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    model, paths = load_models(args.model, None)
    trainer = WordTrainer(model, paths)
    kept = load_kept_strides(
        args.kept or kept_strides_path(args.model), trainer.model_id, trainer.embedding_size
    )
    if kept is None:
        raise SystemExit("no kept strides beside the model were made for it")
    labels = tuple(model.labels)
    commands = [label for label in labels if is_command_label(label)]
    decoder, config = DecoderConfig(), VetoConfig()
    points = operating_points_of(model)  # type: ignore[arg-type]
    window_ms = decoder.average_window_ms
    speakers = speakers_of(args.data_dir / "speech_commands", args.split)
    draw = np.random.default_rng(args.seed + 1)
    users = sorted(speakers)
    if args.max_speakers is not None and len(users) > args.max_speakers:
        users = sorted(draw.choice(users, args.max_speakers, replace=False))
    others_of: dict[str, list[tuple[str, Path]]] = {}
    for word in commands:
        takes_of_word = [(who, p) for who, t in sorted(speakers.items()) for p in t.get(word, [])]
        if args.max_others is not None and len(takes_of_word) > args.max_others:
            chosen = draw.choice(len(takes_of_word), args.max_others, replace=False)
            takes_of_word = [takes_of_word[i] for i in sorted(chosen)]
        others_of[word] = takes_of_word
    needed = {p for who in users for w in commands for p in speakers[who].get(w, [])}
    needed |= {p for takes_of_word in others_of.values() for _, p in takes_of_word}

    # Every test take of a command word, decoded alone: its rows, once.
    rows: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
    for index, path in enumerate(sorted(needed)):
        take = read_audio_at(path, RATE)[:RATE]
        windows = stride_windows(
            in_room(take, LEAD_S, LEAD_S, index), model.frontend, config.stride_ms
        )
        rows[path] = trainer.outputs(windows)
    times = np.arange(1, max(len(p) for p, _ in rows.values()) + 1) * config.stride_ms

    def found(path: Path, word: str, veto: CommandVeto | None) -> bool:
        probabilities, embeddings = rows[path]
        if veto is not None:
            probabilities = apply_vetoes(probabilities, embeddings, labels, [veto])
        heard = decode(labels, probabilities, times[: len(probabilities)], decoder, points)
        return word in {label for _, label in heard}

    rng = np.random.default_rng(args.seed)
    own = np.zeros((2, 2), dtype=int)  # [before, after] x [found, takes]
    others = np.zeros((2, 2), dtype=int)
    pairs = 0
    for speaker in users:
        takes = speakers[speaker]
        for word in commands:
            given = [p for label, ps in sorted(takes.items()) if label != word for p in ps]
            if len(takes.get(word, [])) <= args.own_takes or len(given) < args.min_other_clips:
                continue
            kept_takes, counted = takes[word][: args.own_takes], takes[word][args.own_takes :]
            if args.max_given_back is not None and len(given) > args.max_given_back:
                chosen = rng.choice(len(given), args.max_given_back, replace=False)
                given = [given[i] for i in sorted(chosen)]
            sounds = [
                in_room(read_audio_at(p, RATE)[:RATE], window_ms / MS_PER_SECOND, 0.0, i)
                for i, p in enumerate(given)
            ]
            own_sounds = [  # heard as the window keeps a detection: window and clip
                in_room(read_audio_at(p, RATE)[:RATE], window_ms / MS_PER_SECOND, 0.0, i)
                for i, p in enumerate(kept_takes)
                if not args.without_own
            ]
            veto = learn_veto(
                word, sounds, kept, trainer.embed, model.frontend, config, own=own_sounds
            )
            if veto is None:
                continue
            pairs += 1
            for path in counted:
                own[:, 1] += 1
                own[0, 0] += found(path, word, None)
                own[1, 0] += found(path, word, veto)
            for other, path in others_of[word]:
                if other != speaker:
                    others[:, 1] += 1
                    others[0, 0] += found(path, word, None)
                    others[1, 0] += found(path, word, veto)
    print(
        f"{pairs} speaker-word vetoes, each from the speaker's takes of the other words"
        + (f" and their first {args.own_takes} of the word" if args.own_takes else "")
    )
    for name, counts in (("the speaker's own takes", own), ("other speakers' takes", others)):
        print(
            f"{name}: found {counts[0, 0]} of {counts[0, 1]} ({counts[0, 0] / counts[0, 1]:.1%}) "
            f"-> {counts[1, 0]} ({counts[1, 0] / counts[1, 1]:.1%}) with the veto"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
