"""WordStore: custom words on disk, one folder per word (layout in docs/custom-words.md).

```
<root>/manifest.json                {"format": "kws-custom-words", "version": 1}
<root>/<slug>/word.json             name, sample rate, example and background file names, and
                                    optionally the spelling synthetic voices say
<root>/<slug>/examples/NN.wav       the recorded examples, mono 16-bit PCM
<root>/<slug>/background.wav        optional room recording
<root>/<slug>/false-alarms.wav      optional: what the word fired on and the user said was not it
<root>/<slug>/false-alarms.json     where each of those sounds starts ({"lengths": [samples...]})
<root>/<slug>/head.json             the learned head, tied to one base model (rebuilt when stale)
<root>/.command-alarms/<slug>.wav   optional: what a command word of the model fired on and the
                                    user said was not it (its veto learns from them), and its
                                    <slug>.json of lengths; <slug>.takes.wav (and .json): the
                                    user's own takes of that word, detections they kept
```
False alarms are the user's own sounds in their own room: they stay on this machine (word files
do not carry them) and are kept only as long as `MAX_FALSE_ALARM_SECONDS`, newest first.
Recordings are the source of truth and the head is a cache: a model change retrains every head
from the stored examples. A word folder is written under a temporary name and renamed into place,
so a crash or a refused import never leaves half a word behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.audio.resample import to_rate
from kws_app.dsp.levels import peak_dbfs
from kws_app.errors import UserError
from kws_app.words.head import HeadError, UntrustedJsonError, WordHead, parse_untrusted_json
from kws_app.words.synthetic import SyntheticVoicesConfig, clean_spelling
from kws_app.words.wavio import WavError, encode_wav, read_wav, read_wav_header, write_wav

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

STORE_FORMAT = "kws-custom-words"
WORD_FORMAT = "kws-custom-word"
STORE_VERSION = 1
MANIFEST_NAME = "manifest.json"
WORD_FILE = "word.json"
HEAD_FILE = "head.json"
BACKGROUND_FILE = "background.wav"
FALSE_ALARMS_FILE = "false-alarms.wav"
# False alarms of the command model's words, one file per label (dot: never a word folder).
COMMAND_ALARMS_DIR = ".command-alarms"
EXAMPLES_DIR = "examples"
TEMP_PREFIX = ".tmp-"

MIN_EXAMPLES = 5
MAX_EXAMPLES = 50
MAX_EXAMPLE_SECONDS = 3.0
MAX_BACKGROUND_SECONDS = 120.0
# About eighteen false alarms of a word heard through a one-second window and its averaging.
MAX_FALSE_ALARM_SECONDS = 30.0
# About ten of the user's own takes of a command word (detections they kept), heard the same way.
MAX_OWN_TAKE_SECONDS = 15.0
# Beside a false-alarms file: the length in samples of each sound in it.
LENGTHS_KEY = "lengths"
# 60 bits: an exact JSON integer, and far more than enough to tell one file from the next.
FALSE_ALARMS_ID_HEX_DIGITS = 15
MAX_NAME_LENGTH = 32
MAX_JSON_BYTES = 64 * 1024
# A take whose peak stays below this holds no sound a word could be learned from (digital silence,
# a muted microphone); the recorder only warns below -50 dBFS, so a quiet real take passes.
SILENT_TAKE_PEAK_DBFS = -60.0
_NAME_PATTERN = re.compile(r"^[^\W_](?:[\w' -]*[^\W_])?$")
_SLUG_HASH_CHARS = 8
MAX_FOLDER_ATTEMPTS = 100


class WordStoreError(UserError, ValueError):
    """A request the store refuses or a file it cannot use; str() is a one-line message."""


def normalise_name(name: str) -> str:
    """The canonical spelling of a word name, or WordStoreError saying what is wrong with it.

    Names become labels, folder names and menu entries, so they are short, printable words:
    letters and digits (any script), inner spaces, hyphens, apostrophes and underscores. A leading
    underscore would hide the word (such labels are never reported), so names start with a letter
    or digit.
    """
    if not isinstance(name, str):
        raise WordStoreError("a word name must be text")
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        raise WordStoreError("a word name cannot be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise WordStoreError(f"a word name has at most {MAX_NAME_LENGTH} characters")
    if not _NAME_PATTERN.match(text):
        raise WordStoreError(
            f"{text!r} is not a valid word name: use letters, digits, spaces, hyphens and "
            "apostrophes, starting and ending with a letter or digit"
        )
    return text


def normalise_spelling(spelling: object) -> str:
    """What synthetic voices are to say for a word, or WordStoreError saying what is wrong."""
    if not isinstance(spelling, str):
        raise WordStoreError("a spelling must be text")
    try:
        return clean_spelling(spelling, SyntheticVoicesConfig())
    except ValueError as error:
        raise WordStoreError(str(error)) from error


def is_silent_take(samples: npt.ArrayLike) -> bool:
    """True when a take holds no sound to learn from: its peak is below SILENT_TAKE_PEAK_DBFS."""
    return peak_dbfs(samples) < SILENT_TAKE_PEAK_DBFS


def _slug(name: str) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:MAX_NAME_LENGTH] or "word"
    digest = hashlib.sha256(name.casefold().encode("utf-8")).hexdigest()[:_SLUG_HASH_CHARS]
    return f"{ascii_part}-{digest}"


def read_json_file(path: Path, what: str) -> dict:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise WordStoreError(f"{what} is too large")
        data = parse_untrusted_json(path.read_bytes(), MAX_JSON_BYTES)
    except FileNotFoundError as error:
        raise WordStoreError(f"{what} is missing") from error
    except UntrustedJsonError as error:
        raise WordStoreError(f"{what} {error}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise WordStoreError(f"{what} is unreadable: {error}") from error
    if not isinstance(data, dict):
        raise WordStoreError(f"{what} must be a JSON object")
    return data


def _write_json_atomic(path: Path, data: dict | str) -> None:
    """`_write_bytes_atomic` of the JSON text of `data` (or of `data` itself, already text)."""
    text = data if isinstance(data, str) else json.dumps(data, indent=1, ensure_ascii=False)
    _write_bytes_atomic(path, text.encode("utf-8"))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file of its own, then rename it over `path`.

    Each write gets a unique temporary name, so two writers of the same file (the window and
    `kws-app words` retraining one head) never rename or truncate each other's half-written file;
    the last complete write wins and a reader never sees a partial one.
    """
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "wb",
            dir=path.parent,
            prefix=f"{TEMP_PREFIX}{path.stem}-",
            suffix=path.suffix,
            delete=False,
        ) as file:
            temporary = Path(file.name)
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise


class AlarmFile:
    """One file of false alarms given back ("Not 'word'"), or of a command word's takes the user
    kept: the sounds joined, newest last, at most `max_seconds`, and beside it (`lengths_path`)
    where each one starts, so that a clip spanning two of them, which the pipeline never
    scored, is never learned from. `what` names its owner in warnings."""

    def __init__(self, path: Path, what: str, max_seconds: float = MAX_FALSE_ALARM_SECONDS) -> None:
        self.path = path
        self.what = what
        self.max_seconds = max_seconds

    @property
    def lengths_path(self) -> Path:
        return self.path.with_suffix(".json")

    def read(self) -> tuple[FloatArray, int] | None:
        """The sounds joined and their rate; None when there are none. A damaged file is
        skipped with a warning (its owner still works, without them)."""
        if not self.path.exists():
            return None
        try:
            return read_wav(self.path, self.max_seconds)
        except WavError as error:
            logger.warning("%s: ignoring %s (%s)", self.what, self.path.name, error)
            return None

    def parts(self) -> tuple[list[FloatArray], int] | None:
        """Each sound on its own and their rate; the whole file as one sound where the lengths
        beside it are missing or do not add up (a file from before them, or a crash between
        the two writes)."""
        joined = self.read()
        if joined is None:
            return None
        samples, rate = joined
        lengths = self._lengths()
        if not lengths or sum(lengths) != samples.size:
            return [samples], rate
        ends = np.cumsum(lengths)
        return [
            samples[end - length : end] for end, length in zip(ends, lengths, strict=True)
        ], rate

    def _lengths(self) -> list[int]:
        if not self.lengths_path.exists():
            return []
        try:
            data = read_json_file(self.lengths_path, f"{self.what}: {self.lengths_path.name}")
        except WordStoreError as error:
            logger.warning("%s", error)
            return []
        lengths = data.get(LENGTHS_KEY)
        if not isinstance(lengths, list):
            return []
        valid = all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in lengths)
        return [int(n) for n in lengths] if valid else []

    def seconds(self) -> float:
        """How much audio the file keeps, from its header alone; 0 when there is none (or a
        damaged one, which `read` skips too)."""
        if not self.path.exists():
            return 0.0
        try:
            rate, frames = read_wav_header(self.path)
        except (WavError, OSError) as error:
            logger.warning("%s: ignoring %s (%s)", self.what, self.path.name, error)
            return 0.0
        return frames / rate

    def identity(self) -> int:
        """The first FALSE_ALARMS_ID_HEX_DIGITS of the SHA-256 of the file and its lengths as a
        number (a head's details hold numbers only); 0 when there is none."""
        digest = hashlib.sha256()
        try:
            digest.update(self.path.read_bytes())
        except FileNotFoundError:
            return 0
        try:
            digest.update(self.lengths_path.read_bytes())
        except FileNotFoundError:
            pass
        return int(digest.hexdigest()[:FALSE_ALARMS_ID_HEX_DIGITS], 16)

    def add(self, samples: npt.ArrayLike, sample_rate: int, rate: int) -> float:
        """Append a sound (resampled to `rate`); beyond `max_seconds` the oldest audio goes
        first. Returns the seconds now kept."""
        sound = to_rate(np.asarray(samples, dtype=np.float32).reshape(-1), sample_rate, rate)
        if sound.size == 0:
            raise WordStoreError("the false alarm holds no audio")
        earlier = self.parts()
        if earlier is not None and earlier[1] != rate:  # kept at another rate: keep that one
            sound = to_rate(sound, rate, earlier[1])
            rate = earlier[1]
        parts = [*(earlier[0] if earlier is not None else []), sound]
        excess = sum(part.size for part in parts) - int(self.max_seconds * rate)
        while excess > 0:  # the oldest go, the last of them cut at its start
            if parts[0].size <= excess:
                excess -= parts.pop(0).size
            else:
                parts[0], excess = parts[0][excess:], 0
        kept = np.concatenate(parts)
        _write_bytes_atomic(self.path, encode_wav(kept, rate))
        _write_json_atomic(self.lengths_path, {LENGTHS_KEY: [int(part.size) for part in parts]})
        logger.info("%s: kept a false alarm (%.1f s)", self.what, kept.size / rate)
        return kept.size / rate

    def forget(self) -> bool:
        """Drop the false alarms; False when there were none."""
        self.lengths_path.unlink(missing_ok=True)
        if not self.path.exists():
            return False
        self.path.unlink()
        logger.info("%s: forgot its false alarms", self.what)
        return True


@dataclass(frozen=True)
class WordRecord:
    """A word's description (word.json), validated; file names are relative to its folder."""

    name: str
    sample_rate: int
    examples: tuple[str, ...]
    background: str | None
    created: str
    # What synthetic voices say to teach the word in other voices (kws_app/words/synthetic.py);
    # None: the word learns from the user's takes alone.
    spelling: str | None = None

    def to_dict(self) -> dict:
        data = {
            "format": WORD_FORMAT,
            "version": STORE_VERSION,
            "name": self.name,
            "sample_rate": self.sample_rate,
            "examples": list(self.examples),
            "background": self.background,
            "created": self.created,
        }
        if self.spelling is not None:
            data["spelling"] = self.spelling
        return data

    @classmethod
    def from_dict(cls, data: dict, what: str) -> WordRecord:
        """Validates untrusted JSON; file names must be the canonical ones this store writes."""
        if data.get("format") != WORD_FORMAT:
            raise WordStoreError(f"{what} is not a kws custom word")
        if data.get("version") != STORE_VERSION:
            raise WordStoreError(f"{what} has version {data.get('version')!r}; this app reads 1")
        try:
            name = normalise_name(data.get("name"))  # type: ignore[arg-type]
        except WordStoreError as error:
            raise WordStoreError(f"{what}: {error}") from error
        rate = data.get("sample_rate")
        examples = data.get("examples")
        background = data.get("background")
        created = data.get("created", "")
        if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
            raise WordStoreError(f"{what}: sample_rate must be an integer in 8000-48000")
        if not isinstance(examples, list) or not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
            raise WordStoreError(
                f"{what}: needs a list of {MIN_EXAMPLES} to {MAX_EXAMPLES} example files"
            )
        expected = [example_file_name(index) for index in range(len(examples))]
        if examples != expected:
            raise WordStoreError(f"{what}: example files must be named {expected[0]}, ...")
        if background not in (None, BACKGROUND_FILE):
            raise WordStoreError(f"{what}: background must be null or {BACKGROUND_FILE!r}")
        if not isinstance(created, str) or len(created) > 64:
            raise WordStoreError(f"{what}: created must be a short string")
        spelling = data.get("spelling")
        if spelling is not None:
            try:
                spelling = normalise_spelling(spelling)
            except WordStoreError as error:
                raise WordStoreError(f"{what}: {error}") from error
        return cls(name, rate, tuple(examples), background, created, spelling)


def example_file_name(index: int) -> str:
    return f"{EXAMPLES_DIR}/{index + 1:02d}.wav"


@dataclass(frozen=True)
class StoredWord:
    record: WordRecord
    folder: Path

    @property
    def name(self) -> str:
        return self.record.name


class WordStore:
    """The user's custom words; `root` defaults to platformdirs' user data folder."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            from platformdirs import user_data_dir

            root = Path(user_data_dir("kws", appauthor=False)) / "words"
        self.root = Path(root)

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self.root / MANIFEST_NAME
        if manifest.exists():
            data = read_json_file(manifest, f"word store manifest {manifest}")
            if data.get("format") != STORE_FORMAT or data.get("version") != STORE_VERSION:
                raise WordStoreError(
                    f"{manifest} is not a version-{STORE_VERSION} kws word store "
                    "(written by a newer app?)"
                )
        else:
            _write_json_atomic(manifest, {"format": STORE_FORMAT, "version": STORE_VERSION})

    def words(self) -> list[StoredWord]:
        """Every readable word, oldest first; an unreadable folder is logged and skipped."""
        found: list[StoredWord] = []
        if not self.root.is_dir():
            return found
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir() or folder.is_symlink():
                continue
            try:
                found.append(self._load(folder))
            except WordStoreError as error:
                logger.warning("skipping custom word folder %s: %s", folder.name, error)
        return sorted(found, key=lambda word: (word.record.created, word.name.casefold()))

    def _load(self, folder: Path) -> StoredWord:
        data = read_json_file(folder / WORD_FILE, f"{folder.name}/{WORD_FILE}")
        return StoredWord(WordRecord.from_dict(data, f"{folder.name}/{WORD_FILE}"), folder)

    def find(self, name: str) -> StoredWord | None:
        wanted = normalise_name(name).casefold()
        return next((w for w in self.words() if w.name.casefold() == wanted), None)

    def get(self, name: str) -> StoredWord:
        word = self.find(name)
        if word is None:
            raise WordStoreError(f"no custom word named {name!r}")
        return word

    def add(
        self,
        name: str,
        examples: Sequence[npt.ArrayLike],
        sample_rate: int,
        background: npt.ArrayLike | None = None,
        reserved: Sequence[str] = (),
        spelling: str | None = None,
    ) -> StoredWord:
        """Store a new word's recordings; `reserved` are labels it may not take (the model's);
        `spelling`, when given, is what synthetic voices say to teach it in other voices.

        `examples` are takes already trimmed to their word by `kws_app.words.takes.trim_take`
        (the dialog and the command line do it, naming a refused take); a raw take longer than
        MAX_EXAMPLE_SECONDS is refused here.
        """
        record = self._new_record(name, len(examples), sample_rate, background is not None)
        if spelling is not None:
            record = replace(record, spelling=normalise_spelling(spelling))
        self._check_free(record.name, reserved)
        for index, example in enumerate(examples):
            samples = np.asarray(example, dtype=np.float32).reshape(-1)
            if samples.size == 0 or samples.size > MAX_EXAMPLE_SECONDS * sample_rate:
                raise WordStoreError(
                    f"example {index + 1} must hold 0-{MAX_EXAMPLE_SECONDS:g} s of audio"
                )
            if is_silent_take(samples):
                raise WordStoreError(
                    f"example {index + 1} holds no sound (peak below "
                    f"{SILENT_TAKE_PEAK_DBFS:g} dBFS): record it again"
                )
        if background is not None:
            samples = np.asarray(background, dtype=np.float32).reshape(-1)
            if samples.size == 0 or samples.size > MAX_BACKGROUND_SECONDS * sample_rate:
                raise WordStoreError(
                    f"the background must hold 0-{MAX_BACKGROUND_SECONDS:g} s of audio"
                )

        def write(staging: Path) -> None:
            (staging / EXAMPLES_DIR).mkdir()
            for file_name, example in zip(record.examples, examples, strict=True):
                write_wav(staging / file_name, example, sample_rate)
            if background is not None:
                write_wav(staging / BACKGROUND_FILE, background, sample_rate)
            _write_json_atomic(staging / WORD_FILE, record.to_dict())

        return self.install(record.name, write, reserved)

    def _new_record(
        self, name: str, count: int, sample_rate: int, has_background: bool
    ) -> WordRecord:
        canonical = normalise_name(name)
        if not MIN_EXAMPLES <= count <= MAX_EXAMPLES:
            raise WordStoreError(
                f"a word needs {MIN_EXAMPLES} to {MAX_EXAMPLES} examples, got {count}"
            )
        return WordRecord(
            name=canonical,
            sample_rate=sample_rate,
            examples=tuple(example_file_name(index) for index in range(count)),
            background=BACKGROUND_FILE if has_background else None,
            created=datetime.now(UTC).isoformat(timespec="microseconds"),
        )

    def _check_free(self, name: str, reserved: Sequence[str]) -> None:
        if name.casefold() in {label.casefold() for label in reserved}:
            raise WordStoreError(f"{name!r} is already a word of the model")
        if self.find(name) is not None:
            raise WordStoreError(f"a custom word named {name!r} already exists")

    def install(self, name: str, write, reserved: Sequence[str] = ()) -> StoredWord:  # type: ignore[no-untyped-def]
        """Run `write(staging_folder)` and move the folder into place only if it succeeds."""
        self._ensure_root()
        canonical = normalise_name(name)
        self._check_free(canonical, reserved)
        staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))
        try:
            write(staging)
            word = self._load(staging)
            if word.name != canonical:
                raise WordStoreError(f"word folder holds {word.name!r}, expected {canonical!r}")
            final = self._free_folder(canonical)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        logger.info("stored custom word %r in %s", canonical, final)
        return StoredWord(word.record, final)

    def remove(self, name: str) -> None:
        word = self.get(name)
        # Rename first so a half-deleted folder can never be read as a word.
        doomed = self.root / f"{TEMP_PREFIX}removed-{word.folder.name}"
        os.replace(word.folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        logger.info("removed custom word %r", word.name)

    def rename(self, old: str, new: str, reserved: Sequence[str] = ()) -> StoredWord:
        """Give a word a new name; its folder moves to the new name's, so the old name is free."""
        word = self.get(old)
        canonical = normalise_name(new)
        if canonical.casefold() != word.name.casefold():
            self._check_free(canonical, reserved)
        record = replace(word.record, name=canonical)
        folder = self._free_folder(canonical, current=word.folder)
        # One rename moves the whole word; word.json follows. Should that write fail, the folder
        # goes back, so the word is never left under a folder of one name holding another.
        if folder != word.folder:
            os.rename(word.folder, folder)
        try:
            _write_json_atomic(folder / WORD_FILE, record.to_dict())
        except BaseException:
            if folder != word.folder:
                os.rename(folder, word.folder)
            raise
        logger.info("renamed custom word %r to %r", word.name, canonical)
        return StoredWord(record, folder)

    def _free_folder(self, name: str, current: Path | None = None) -> Path:
        """The folder a word of this name goes to: its slug, or a numbered variant when taken.

        Names are looked up in word.json, never from folder names, so a folder left under an old
        name (stores renamed by older versions kept the folder) only shifts the new one aside.
        `current` is the word's own folder, which counts as free.
        """
        slug = _slug(name)
        for attempt in range(1, MAX_FOLDER_ATTEMPTS + 1):
            folder = self.root / (slug if attempt == 1 else f"{slug}-{attempt}")
            if folder == current or not folder.exists():
                return folder
        raise WordStoreError(f"no free folder for {name!r} in {self.root}: tidy the word store")

    def examples(self, word: StoredWord) -> list[tuple[FloatArray, int]]:
        try:
            return [
                read_wav(word.folder / name, MAX_EXAMPLE_SECONDS) for name in word.record.examples
            ]
        except WavError as error:
            raise WordStoreError(f"custom word {word.name!r}: {error}") from error

    def background(self, word: StoredWord) -> tuple[FloatArray, int] | None:
        if word.record.background is None:
            return None
        try:
            return read_wav(word.folder / word.record.background, MAX_BACKGROUND_SECONDS)
        except WavError as error:
            raise WordStoreError(f"custom word {word.name!r}: {error}") from error

    def word_alarms(self, word: StoredWord) -> AlarmFile:
        """The sounds the user said the word must not fire on."""
        return AlarmFile(word.folder / FALSE_ALARMS_FILE, f"custom word {word.name!r}")

    def false_alarms(self, word: StoredWord) -> tuple[FloatArray, int] | None:
        """The word's false alarms joined (the trainer crops negatives from them)."""
        return self.word_alarms(word).read()

    def false_alarm_seconds(self, word: StoredWord) -> float:
        """Shown beside the word in Manage words and `words list`."""
        return self.word_alarms(word).seconds()

    def false_alarms_id(self, word: StoredWord) -> int:
        """A head records the identity of the false alarms it was trained with and any other
        makes it stale, so a head saved late by a cancelled training is never taken for a
        current one."""
        return self.word_alarms(word).identity()

    def add_false_alarm(self, word: StoredWord, samples: npt.ArrayLike, sample_rate: int) -> float:
        """Keep a sound the word fired on that was not the word; its head then no longer
        matches (`false_alarms_id`), so the word trains again with it among its negatives and
        listens with its current head meanwhile. Returns the seconds of false alarms now kept."""
        return self.word_alarms(word).add(samples, sample_rate, word.record.sample_rate)

    def forget_false_alarms(self, word: StoredWord) -> bool:
        """Drop the word's false alarms (one given back by mistake would teach it to miss
        itself), so it trains again without them; False when it had none."""
        return self.word_alarms(word).forget()

    def command_alarms(self, label: str) -> AlarmFile:
        """The sounds the user said a command word of the model must not fire on (its veto,
        kws_app/words/vetoes.py, learns from them); kept per label, whatever the model."""
        return AlarmFile(
            self.root / COMMAND_ALARMS_DIR / f"{_slug(label)}.wav", f"command word {label!r}"
        )

    def command_takes(self, label: str) -> AlarmFile:
        """The user's own takes of a command word that has false alarms: detections they kept
        (did not give back), so that its veto never learns to block the user's own word."""
        return AlarmFile(
            self.root / COMMAND_ALARMS_DIR / f"{_slug(label)}.takes.wav",
            f"command word {label!r} (your takes)",
            MAX_OWN_TAKE_SECONDS,
        )

    def add_command_alarm(
        self, label: str, samples: npt.ArrayLike, sample_rate: int, rate: int
    ) -> float:
        """Keep a sound the command word `label` fired on that was not the word (at `rate`,
        the model's, where it has none yet); returns the seconds now kept."""
        self._ensure_command_alarms()
        alarms = self.command_alarms(label)
        if not alarms.path.exists():  # takes left by a forget that failed to delete them
            self.command_takes(label).forget()
        return alarms.add(samples, sample_rate, rate)

    def add_command_take(
        self, label: str, samples: npt.ArrayLike, sample_rate: int, rate: int
    ) -> float:
        """Keep a detection of `label` the user kept (see `command_takes`); refused for a word
        without false alarms: nothing of the user's voice is stored before they give one back."""
        if not self.command_alarms(label).path.exists():
            raise WordStoreError(f"{label!r} has no false alarms to keep your takes with")
        return self.command_takes(label).add(samples, sample_rate, rate)

    def _ensure_command_alarms(self) -> None:
        self._ensure_root()
        (self.root / COMMAND_ALARMS_DIR).mkdir(exist_ok=True)

    def forget_command_alarms(self, label: str) -> bool:
        """Drop a command word's false alarms and the takes kept with them (its veto goes);
        False when it had no false alarms."""
        forgot = self.command_alarms(label).forget()
        try:
            self.command_takes(label).forget()
        except OSError as error:  # refused without false alarms, deleted before the next ones
            logger.warning("cannot forget the takes of %r: %s", label, error)
        return forgot

    def command_alarm_seconds(self, labels: Sequence[str]) -> dict[str, float]:
        """Of `labels`, those with false alarms kept, and their seconds."""
        seconds = {label: self.command_alarms(label).seconds() for label in labels}
        return {label: value for label, value in seconds.items() if value > 0}

    def head(self, word: StoredWord) -> WordHead | None:
        """The stored head, or None when there is none or it is unreadable (it gets retrained)."""
        path = word.folder / HEAD_FILE
        if not path.exists():
            return None
        try:
            if path.stat().st_size > MAX_JSON_BYTES * 4:
                raise HeadError("head file is too large")
            return WordHead.from_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, HeadError) as error:
            logger.warning("custom word %r: ignoring its head (%s)", word.name, error)
            return None

    def save_head(self, word: StoredWord, head: WordHead) -> None:
        _write_json_atomic(word.folder / HEAD_FILE, head.to_json())
