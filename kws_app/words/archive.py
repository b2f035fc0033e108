"""Export and import custom words as one file: a zip holding only JSON and mono PCM16 WAV files.

A word file may come from a stranger, so import treats it as hostile:
- nothing in it is executed or unpickled: JSON is parsed by `json`, audio by the `wave` module;
- member names must match a fixed pattern (no absolute paths, no `..`, no symlinks, no other
  files), member count, declared and real sizes are capped (zip bombs), encryption is refused;
- every JSON field, WAV format and length is validated, and name clashes are checked, before
  anything touches the store; words are then installed one by one through the store's staging
  folder, and a failure removes the words this import already installed.
Heads are not exported: they belong to one base model and to the receiver's other words, so the
receiver retrains them from the recordings.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws_app.words.store import (
    BACKGROUND_FILE,
    EXAMPLES_DIR,
    MAX_BACKGROUND_SECONDS,
    MAX_EXAMPLE_SECONDS,
    MAX_EXAMPLES,
    MAX_JSON_BYTES,
    WORD_FILE,
    StoredWord,
    WordRecord,
    WordStore,
    WordStoreError,
)
from kws_app.words.wavio import MAX_SAMPLE_RATE, PCM16_BYTES, WavError, decode_wav

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "kws-words-archive"
ARCHIVE_VERSION = 1
ARCHIVE_INDEX = "kws-words.json"
ARCHIVE_SUFFIX = ".kwswords"
MAX_ARCHIVE_WORDS = 50
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
_WAV_HEADER_ALLOWANCE = 4096
MAX_EXAMPLE_BYTES = int(MAX_EXAMPLE_SECONDS * MAX_SAMPLE_RATE * PCM16_BYTES) + _WAV_HEADER_ALLOWANCE
MAX_BACKGROUND_BYTES = (
    int(MAX_BACKGROUND_SECONDS * MAX_SAMPLE_RATE * PCM16_BYTES) + _WAV_HEADER_ALLOWANCE
)
MAX_MEMBERS = 1 + MAX_ARCHIVE_WORDS * (MAX_EXAMPLES + 2)
MAX_TOTAL_BYTES = 400 * 1024 * 1024
_WORD_FOLDER = re.compile(r"^words/(\d{2})/$")
_FOLDER_ENTRY = re.compile(rf"^words/\d{{2}}/({EXAMPLES_DIR}/)?$")
_MEMBER = re.compile(
    rf"^words/(\d{{2}})/({re.escape(WORD_FILE)}|{re.escape(BACKGROUND_FILE)}|"
    rf"{EXAMPLES_DIR}/\d{{2}}\.wav)$"
)
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


_DEFAULT_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ArchiveError(ValueError):
    """A word file that cannot be imported; str() is a one-line message."""


def export_words(store: WordStore, names: list[str], out_path: Path) -> list[str]:
    """Write the named words (all when empty) to one file; returns the names written."""
    words = [store.get(name) for name in names] if names else store.words()
    if not words:
        raise WordStoreError("there are no custom words to export")
    if len(words) > MAX_ARCHIVE_WORDS:
        raise WordStoreError(f"at most {MAX_ARCHIVE_WORDS} words fit in one file")
    index = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "words": []}
    out_path = Path(out_path)
    handle, temporary = tempfile.mkstemp(prefix=".export-", dir=out_path.parent or Path("."))
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, word in enumerate(words, start=1):
                folder = f"words/{number:02d}/"
                index["words"].append({"name": word.name, "folder": folder})
                record = word.record.to_dict()
                archive.writestr(folder + WORD_FILE, json.dumps(record, indent=1))
                files = list(word.record.examples)
                if word.record.background:
                    files.append(word.record.background)
                for name in files:
                    archive.write(word.folder / name, folder + name)
            archive.writestr(ARCHIVE_INDEX, json.dumps(index, indent=1, ensure_ascii=False))
        os.chmod(temporary, _DEFAULT_FILE_MODE & ~_umask())  # mkstemp made it owner-only
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("exported %d custom word(s) to %s", len(words), out_path)
    return [word.name for word in words]


@dataclass(frozen=True)
class _ImportedWord:
    record: WordRecord
    files: dict[str, bytes]  # relative path in the word folder -> validated bytes


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, never more than `limit` even if its header lies about its size."""
    if info.file_size > limit:
        raise ArchiveError(f"{info.filename} is too large ({info.file_size} bytes)")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise ArchiveError(f"{info.filename} cannot be read: {error}") from error
    if len(data) > limit:
        raise ArchiveError(f"{info.filename} is larger than its header says")
    return data


def _parse_json(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ArchiveError(f"{what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ArchiveError(f"{what} must be a JSON object")
    return value


def _check_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArchiveError(f"too many files inside ({len(infos)} > {MAX_MEMBERS})")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if info.is_dir() and _FOLDER_ENTRY.match(name):
            continue
        if name != ARCHIVE_INDEX and not _MEMBER.match(name):
            raise ArchiveError(f"unexpected file inside: {name[:80]!r}")
        if name in members:
            raise ArchiveError(f"duplicate file inside: {name!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"{name} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{name} is encrypted")
        if info.compress_type not in _ALLOWED_COMPRESSION:
            raise ArchiveError(f"{name} uses an unsupported compression method")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ArchiveError("the files inside are too large in total")
        members[name] = info
    if ARCHIVE_INDEX not in members:
        raise ArchiveError(f"not a kws word file: {ARCHIVE_INDEX} is missing")
    return members


def read_archive(path: Path) -> list[_ImportedWord]:
    """Parse and validate a whole word file without touching any store."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ArchiveError(f"cannot read {path}: {error.strerror}") from error
    if size > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"{path.name} is too large to be a word file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ArchiveError(f"{path.name} is not a kws word file (not a zip archive)") from error
    with archive:
        members = _check_members(archive)
        index = _parse_json(
            _read_member(archive, members[ARCHIVE_INDEX], MAX_JSON_BYTES), ARCHIVE_INDEX
        )
        if index.get("format") != ARCHIVE_FORMAT:
            raise ArchiveError(f"{path.name} is not a kws word file")
        if index.get("version") != ARCHIVE_VERSION:
            raise ArchiveError(
                f"{path.name} has version {index.get('version')!r}; this app reads "
                f"{ARCHIVE_VERSION}"
            )
        entries = index.get("words")
        if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ARCHIVE_WORDS:
            raise ArchiveError(f"{ARCHIVE_INDEX}: 'words' must list 1-{MAX_ARCHIVE_WORDS} words")
        words: list[_ImportedWord] = []
        used: set[str] = {ARCHIVE_INDEX}
        seen_names: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("folder"), str):
                raise ArchiveError(f"{ARCHIVE_INDEX}: each word needs a folder")
            folder = entry["folder"]
            if not _WORD_FOLDER.match(folder):
                raise ArchiveError(f"{ARCHIVE_INDEX}: bad folder {folder[:40]!r}")
            word = _read_word(archive, members, folder)
            if entry.get("name") != word.record.name:
                raise ArchiveError(f"{folder}: name differs from {ARCHIVE_INDEX}")
            if word.record.name.casefold() in seen_names:
                raise ArchiveError(f"the word {word.record.name!r} appears twice")
            seen_names.add(word.record.name.casefold())
            used.update(folder + name for name in word.files)
            used.add(folder + WORD_FILE)
            words.append(word)
        extra = sorted(set(members) - used)
        if extra:
            raise ArchiveError(f"file not listed by {ARCHIVE_INDEX}: {extra[0]!r}")
    return words


def _read_word(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], folder: str
) -> _ImportedWord:
    word_path = folder + WORD_FILE
    if word_path not in members:
        raise ArchiveError(f"{word_path} is missing")
    data = _parse_json(_read_member(archive, members[word_path], MAX_JSON_BYTES), word_path)
    try:
        record = WordRecord.from_dict(data, word_path)
    except WordStoreError as error:
        raise ArchiveError(str(error)) from error
    files: dict[str, bytes] = {}
    wanted = [(name, MAX_EXAMPLE_BYTES, MAX_EXAMPLE_SECONDS) for name in record.examples]
    if record.background:
        wanted.append((record.background, MAX_BACKGROUND_BYTES, MAX_BACKGROUND_SECONDS))
    for name, byte_limit, seconds in wanted:
        member = folder + name
        if member not in members:
            raise ArchiveError(f"{member} is missing")
        content = _read_member(archive, members[member], byte_limit)
        try:
            samples, rate = decode_wav(content, member, seconds)
        except WavError as error:
            raise ArchiveError(str(error)) from error
        if rate != record.sample_rate:
            raise ArchiveError(f"{member}: {rate} Hz differs from the word's sample_rate")
        if not np.all(np.isfinite(samples)):
            raise ArchiveError(f"{member}: holds invalid samples")
        files[name] = content
    return _ImportedWord(record, files)


def import_words(store: WordStore, path: Path, reserved: tuple[str, ...] = ()) -> list[StoredWord]:
    """Validate the whole file, then install its words; any failure leaves the store as it was."""
    words = read_archive(path)
    for word in words:
        name = word.record.name
        if name.casefold() in {label.casefold() for label in reserved}:
            raise ArchiveError(f"{name!r} is already a word of the model")
        if store.find(name) is not None:
            raise ArchiveError(f"a custom word named {name!r} already exists: remove or rename it")
    installed: list[StoredWord] = []
    try:
        for word in words:
            installed.append(store.install(word.record.name, _writer(word), reserved))
    except BaseException:
        for done in installed:
            store.remove(done.name)
        raise
    logger.info("imported %d custom word(s) from %s", len(installed), path)
    return installed


def _writer(word: _ImportedWord):  # type: ignore[no-untyped-def]
    def write(staging: Path) -> None:
        (staging / EXAMPLES_DIR).mkdir()
        for name, content in word.files.items():
            (staging / name).write_bytes(content)
        (staging / WORD_FILE).write_text(
            json.dumps(word.record.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8"
        )

    return write
