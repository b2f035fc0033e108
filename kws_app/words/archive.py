"""Export and import custom words as one file: a zip holding only JSON and mono PCM16 WAV files.

A word file may come from a stranger, so import treats it as hostile:
- nothing in it is executed or unpickled: JSON is parsed by `json`, audio by the `wave` module;
- the zip's end record is read with `struct` before `zipfile` lists anything, so a central
  directory claiming millions of entries is refused in microseconds, not after gigabytes;
- member names must match a fixed pattern (no absolute paths, no `..`, no symlinks, no other
  files); words, takes, declared and real sizes are capped (zip bombs), encryption is refused;
- JSON is parsed with bounded numbers and depth (`parse_untrusted_json`); every field is
  validated; each WAV header is read, and the seconds of audio counted against the limits, before
  a single sample is decoded; name clashes are checked before anything touches the store; words
  are then installed one by one through the store's staging folder, and a failure removes the
  words this import already installed.
Heads are not exported: they belong to one base model and to the receiver's other words, so the
receiver retrains them from the recordings.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from kws_app.errors import UserError
from kws_app.words.head import UntrustedJsonError, parse_untrusted_json
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
from kws_app.words.wavio import (
    MAX_SAMPLE_RATE,
    PCM16_BYTES,
    WAV_HEADER_BYTES,
    WavError,
    decode_wav,
    wav_header,
)

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "kws-words-archive"
ARCHIVE_VERSION = 1
ARCHIVE_INDEX = "kws-words.json"
ARCHIVE_SUFFIX = ".kwswords"

MAX_ARCHIVE_WORDS = 20
"""Words in one file. An import retrains every word against all the others (each sees the others'
takes as negatives), so the work grows faster than the word count; 20 is a full personal
vocabulary (the window shows a tile per word). Export refuses more, so a file we write imports."""
MAX_TAKES_PER_WORD = MAX_EXAMPLES
"""Takes (example recordings) of one word: the store's own limit, so any word the store holds can
travel; MAX_ARCHIVE_TAKES is what bounds the training an import starts."""
MAX_ARCHIVE_TAKES = 200
"""Takes in one file: training time grows with them (one held-out regression per take, 18
augmented windows of it, 2 of every other word's). The file of 2,500 takes trained for 15 minutes;
on a busy 2-core machine 200 takes retrained in 150 s as 20 words of 10 and in 180 s as 4 words of
50 (one word of 50: 33 s). 200 still holds a generous vocabulary of 20 words of 10 takes."""
MAX_TAKE_SECONDS = MAX_EXAMPLE_SECONDS
"""Longest take: the store's limit (a word lasts about a second; 3 s allows slow speech and loose
trimming)."""
MAX_ROOM_SECONDS = MAX_BACKGROUND_SECONDS
"""Longest room recording: the store's limit (training crops 40 one-second windows from it)."""
MAX_ARCHIVE_AUDIO_SECONDS = 600.0
"""All audio in one file, takes and room recordings together: what an import writes into the
store. 20 words of 10 one-second takes and a 10-s room recording hold 400 s; 600 s is 58 MB at
48 kHz (19 MB at the model's 16 kHz), where the file that prompted this limit wrote 236 MB."""
"""Bytes a WAV file may spend on headers besides its samples (the `wave` module writes 44), and
how much of each WAV is read to learn its length before any sample is decoded."""
MAX_EXAMPLE_BYTES = int(MAX_TAKE_SECONDS * MAX_SAMPLE_RATE * PCM16_BYTES) + WAV_HEADER_BYTES
MAX_BACKGROUND_BYTES = int(MAX_ROOM_SECONDS * MAX_SAMPLE_RATE * PCM16_BYTES) + WAV_HEADER_BYTES
_ENTRIES_PER_WORD = 4
"""Zip entries of a word besides its takes: word.json, the room recording, and the two folder
entries (`words/NN/`, `words/NN/examples/`) some zip tools add."""
MAX_ZIP_ENTRIES = 1 + MAX_ARCHIVE_WORDS * _ENTRIES_PER_WORD + MAX_ARCHIVE_TAKES
"""Entries in the zip's central directory: the index, each word's files and every take."""
_CENTRAL_ENTRY_BYTES = 512
"""Central-directory bytes allowed per entry: 46 fixed bytes, a name of at most 24 bytes here, and
the extra fields zip tools add (timestamps, Unix ids, NTFS times, ZIP64 sizes: about 100 bytes)."""
MAX_CENTRAL_DIRECTORY_BYTES = MAX_ZIP_ENTRIES * _CENTRAL_ENTRY_BYTES
"""`zipfile` reads and parses the whole central directory when it opens a file (4 million entries
took 20 s and 1.6 GB), so the size the end record declares is checked first."""
MAX_DECODED_BYTES = (
    int(MAX_ARCHIVE_AUDIO_SECONDS * MAX_SAMPLE_RATE * PCM16_BYTES)
    + MAX_ZIP_ENTRIES * WAV_HEADER_BYTES
    + (1 + MAX_ARCHIVE_WORDS) * MAX_JSON_BYTES
)
"""Uncompressed bytes of all members, summed from the central directory before anything is
decompressed: the most audio a file may hold at the highest rate, each WAV's header allowance and
the JSON files (about 60 MB). Every member is read into memory before the store is touched."""
MAX_ARCHIVE_BYTES = 2 * MAX_DECODED_BYTES
"""Size of the file itself: deflate grows data by a fraction of a percent at worst and the entries'
headers are bounded like the central directory, so a genuine word file is smaller than what it
holds; twice that leaves room, and a 188 MB file is refused unopened."""

_WORD_FOLDER = re.compile(r"^words/(\d{2})/$")
_FOLDER_ENTRY = re.compile(rf"^words/\d{{2}}/({EXAMPLES_DIR}/)?$")
_MEMBER = re.compile(
    rf"^words/(\d{{2}})/({re.escape(WORD_FILE)}|{re.escape(BACKGROUND_FILE)}|"
    rf"{EXAMPLES_DIR}/\d{{2}}\.wav)$"
)
_TAKE = re.compile(rf"^(words/\d{{2}}/){EXAMPLES_DIR}/\d{{2}}\.wav$")
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# What zipfile and its decompressors raise on a damaged file (zlib.error for bad deflate data).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    struct.error,
    zlib.error,
)

# The zip's end records (PKWARE APPNOTE.TXT 4.3.14-4.3.16), little-endian. The end record: its
# signature, this disk, the directory's disk, entries on this disk, entries in all, directory size
# and offset, comment length; a comment of up to 64 KiB may follow it.
_END_RECORD = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_END_SEARCH_BYTES = (1 << 16) + _END_RECORD.size  # the last 64 KiB + 22 bytes, as zipfile searches
# ZIP64 locator, right before the end record: signature, disk and offset of the ZIP64 end record,
# disk count.
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
# ZIP64 end record: signature, record size, versions made by and needed, this disk, the
# directory's disk, entries on this disk, entries in all, directory size and offset.
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"

_DEFAULT_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ArchiveError(UserError, ValueError):
    """A word file that cannot be imported; str() is a one-line message."""


def export_words(store: WordStore, names: list[str], out_path: Path) -> list[str]:
    """Write the named words (all when empty) to one file; returns the names written."""
    words = [store.get(name) for name in names] if names else store.words()
    if not words:
        raise WordStoreError("there are no custom words to export")
    _check_export_limits(words)
    index: dict[str, Any] = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "words": []}
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
                for name in _audio_names(word.record):
                    archive.write(word.folder / name, folder + name)
            archive.writestr(ARCHIVE_INDEX, json.dumps(index, indent=1, ensure_ascii=False))
        os.chmod(temporary, _DEFAULT_FILE_MODE & ~_umask())  # mkstemp made it owner-only
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("exported %d custom word(s) to %s", len(words), out_path)
    return [word.name for word in words]


def _check_export_limits(words: list[StoredWord]) -> None:
    """Refuse to write a file that import would refuse, by the same limits."""
    if len(words) > MAX_ARCHIVE_WORDS:
        raise WordStoreError(f"at most {MAX_ARCHIVE_WORDS} words fit in one file")
    takes = sum(len(word.record.examples) for word in words)
    if takes > MAX_ARCHIVE_TAKES:
        raise WordStoreError(
            f"the words hold {takes} takes; one file holds at most {MAX_ARCHIVE_TAKES}: "
            "export fewer words"
        )
    seconds = sum(_stored_seconds(word) for word in words)
    if seconds > MAX_ARCHIVE_AUDIO_SECONDS:
        raise WordStoreError(
            f"the words hold {seconds:.0f} s of audio; one file holds at most "
            f"{MAX_ARCHIVE_AUDIO_SECONDS:g} s: export fewer words"
        )


def _stored_seconds(word: StoredWord) -> float:
    total = 0.0
    for name in _audio_names(word.record):
        try:
            with (word.folder / name).open("rb") as file:
                header = file.read(WAV_HEADER_BYTES)
            total += _wav_seconds(header, name, word.record.sample_rate)
        except OSError as error:
            raise WordStoreError(f"custom word {word.name!r}: {name}: {error.strerror}") from error
        except ArchiveError as error:
            raise WordStoreError(f"custom word {word.name!r}: {error}") from error
    return total


@dataclass(frozen=True)
class _ImportedWord:
    record: WordRecord
    files: dict[str, bytes]  # relative path in the word folder -> validated bytes


@dataclass(frozen=True)
class _AudioFile:
    name: str  # relative to the word folder
    max_bytes: int
    max_seconds: float
    kind: str  # for messages


def _audio_files(record: WordRecord) -> list[_AudioFile]:
    files = [
        _AudioFile(name, MAX_EXAMPLE_BYTES, MAX_TAKE_SECONDS, "take") for name in record.examples
    ]
    if record.background:
        files.append(
            _AudioFile(record.background, MAX_BACKGROUND_BYTES, MAX_ROOM_SECONDS, "room recording")
        )
    return files


def _audio_names(record: WordRecord) -> list[str]:
    return [file.name for file in _audio_files(record)]


def _read_prefix(archive: zipfile.ZipFile, info: zipfile.ZipInfo, count: int) -> bytes:
    """At most `count` bytes from the start of a member; damaged data gives an ArchiveError."""
    try:
        with archive.open(info) as member:
            return member.read(count)
    except ZIP_ERRORS as error:
        raise ArchiveError(f"{info.filename} cannot be read: {error}") from error


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, never more than `limit` even if its header lies about its size."""
    if info.file_size > limit:
        raise ArchiveError(f"{info.filename} is too large ({info.file_size} bytes)")
    data = _read_prefix(archive, info, limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"{info.filename} is larger than its header says")
    return data


def _parse_json(data: bytes, what: str) -> dict:
    try:
        value = parse_untrusted_json(data, MAX_JSON_BYTES)
    except UntrustedJsonError as error:
        raise ArchiveError(f"{what} {error}") from error
    if not isinstance(value, dict):
        raise ArchiveError(f"{what} must be a JSON object")
    return value


@dataclass(frozen=True)
class _DirectoryClaim:
    """What one end record says about the central directory."""

    entries: int
    size: int


def _directory_claims(file: BinaryIO) -> list[_DirectoryClaim] | None:
    """The claims of the end record and of any ZIP64 end record; None without an end record.

    They are found where zipfile looks: the end record is the last 22 bytes when there is no
    comment, else the last signature in the final 64 KiB + 22 bytes; the ZIP64 end record lies
    right before its locator (zipfile up to 3.13.0) or where the locator points (later ones), so
    both places are read.
    """
    file_size = file.seek(0, os.SEEK_END)
    tail_start = max(0, file_size - _END_SEARCH_BYTES)
    file.seek(tail_start)
    tail = file.read()
    end = _find_end_record(tail)
    if end is None:
        return None
    _, _, _, entries_here, entries, size, _, _ = _END_RECORD.unpack_from(tail, end)
    claims = [_DirectoryClaim(max(entries_here, entries), size)]
    locator_at = tail_start + end - _ZIP64_LOCATOR.size
    locator = _unpack_at(file, locator_at, _ZIP64_LOCATOR, file_size)
    if locator is None or locator[0] != _ZIP64_LOCATOR_SIGNATURE:
        return claims
    for record_at in dict.fromkeys((locator_at - _ZIP64_END_RECORD.size, locator[2])):
        record = _unpack_at(file, record_at, _ZIP64_END_RECORD, file_size)
        if record is not None and record[0] == _ZIP64_END_SIGNATURE:
            claims.append(_DirectoryClaim(max(record[6], record[7]), record[8]))
    return claims


def _find_end_record(tail: bytes) -> int | None:
    """Offset of the end record in the file's tail, by zipfile's rules (see _directory_claims)."""
    last = len(tail) - _END_RECORD.size
    if last >= 0 and tail.startswith(_END_SIGNATURE, last) and tail.endswith(b"\0\0"):
        return last  # no comment
    found = tail.rfind(_END_SIGNATURE)
    if found < 0 or found > last:
        return None
    return found


def _unpack_at(file: BinaryIO, offset: int, layout: struct.Struct, file_size: int) -> tuple | None:
    """The record at `offset`, or None when it does not fit in the file (a hostile offset may be
    anything up to 2**64, past what seek accepts)."""
    if not 0 <= offset <= file_size - layout.size:
        return None
    file.seek(offset)
    data = file.read(layout.size)
    return layout.unpack(data) if len(data) == layout.size else None


def _check_file(path: Path) -> None:
    """File size and central directory, from the end records alone, before zipfile opens it."""
    try:
        size = path.stat().st_size
        if size > MAX_ARCHIVE_BYTES:
            raise ArchiveError(
                f"{path.name} is {size} bytes; a word file is at most {MAX_ARCHIVE_BYTES}"
            )
        with path.open("rb") as file:
            claims = _directory_claims(file)
    except OSError as error:
        raise ArchiveError(f"cannot read {path}: {error.strerror}") from error
    if claims is None:
        raise ArchiveError(f"{path.name} is not a kws word file (not a zip archive)")
    entries = max(claim.entries for claim in claims)
    if entries > MAX_ZIP_ENTRIES:
        raise ArchiveError(
            f"{path.name} lists {entries} entries; a word file has at most {MAX_ZIP_ENTRIES}"
        )
    directory_bytes = max(claim.size for claim in claims)
    if directory_bytes > MAX_CENTRAL_DIRECTORY_BYTES:
        raise ArchiveError(
            f"{path.name} has a {directory_bytes}-byte central directory; a word file's is at "
            f"most {MAX_CENTRAL_DIRECTORY_BYTES}"
        )


def _check_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ArchiveError(f"too many files inside ({len(infos)} > {MAX_ZIP_ENTRIES})")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if _FOLDER_ENTRY.match(name):  # not info.is_dir(): it fails on an empty name
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
        limit = _size_limit(name)
        if info.file_size > limit:
            raise ArchiveError(
                f"{name} is too large ({info.file_size} bytes; at most {limit} are accepted)"
            )
        members[name] = info
    if ARCHIVE_INDEX not in members:
        raise ArchiveError(f"not a kws word file: {ARCHIVE_INDEX} is missing")
    _check_counts(list(members))
    total = sum(info.file_size for info in members.values())
    if total > MAX_DECODED_BYTES:
        raise ArchiveError(
            f"the files inside hold {total} bytes; a word file holds at most {MAX_DECODED_BYTES}"
        )
    return members


def _size_limit(name: str) -> int:
    """Most bytes a member of this name may declare (names already match _MEMBER or the index)."""
    if name.endswith(BACKGROUND_FILE):
        return MAX_BACKGROUND_BYTES
    if _TAKE.match(name):
        return MAX_EXAMPLE_BYTES
    return MAX_JSON_BYTES


def _check_counts(names: list[str]) -> None:
    """Words and takes, counted from the member names before any JSON or audio is read."""
    folders = {match.group(1) for match in map(_MEMBER.match, names) if match}
    if len(folders) > MAX_ARCHIVE_WORDS:
        raise ArchiveError(
            f"{len(folders)} word folders inside; a word file holds at most "
            f"{MAX_ARCHIVE_WORDS} words"
        )
    takes = Counter(match.group(1) for match in map(_TAKE.match, names) if match)
    if takes:
        folder, most = takes.most_common(1)[0]
        if most > MAX_TAKES_PER_WORD:
            raise ArchiveError(
                f"{folder} holds {most} takes; a word has at most {MAX_TAKES_PER_WORD}"
            )
    total = sum(takes.values())
    if total > MAX_ARCHIVE_TAKES:
        raise ArchiveError(f"{total} takes inside; a word file holds at most {MAX_ARCHIVE_TAKES}")


def read_archive(path: Path) -> list[_ImportedWord]:
    """Parse and validate a whole word file without touching any store.

    Cheap checks come first, so a hostile file costs little: the end records, the member list
    with its counts and declared sizes, the JSON, then every WAV header with the seconds it holds,
    and only then the samples.
    """
    path = Path(path)
    _check_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as error:
        raise ArchiveError(f"{path.name} is not a kws word file (not a zip archive)") from error
    with archive:
        members = _check_members(archive)
        records = _read_records(archive, members, _read_index(archive, members, path.name))
        _check_listed(members, records)
        _check_audio_length(archive, members, records)
        return [_read_word(archive, members, folder, record) for folder, record in records]


def _read_index(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], file_name: str
) -> list[tuple[str, object]]:
    """(folder, listed name) of each word in kws-words.json."""
    index = _parse_json(
        _read_member(archive, members[ARCHIVE_INDEX], MAX_JSON_BYTES), ARCHIVE_INDEX
    )
    if index.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"{file_name} is not a kws word file")
    if index.get("version") != ARCHIVE_VERSION:
        raise ArchiveError(
            f"{file_name} has version {index.get('version')!r:.40}; this app reads "
            f"{ARCHIVE_VERSION}"
        )
    entries = index.get("words")
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ARCHIVE_WORDS:
        raise ArchiveError(f"{ARCHIVE_INDEX}: 'words' must list 1-{MAX_ARCHIVE_WORDS} words")
    listed: list[tuple[str, object]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("folder"), str):
            raise ArchiveError(f"{ARCHIVE_INDEX}: each word needs a folder")
        folder = entry["folder"]
        if not _WORD_FOLDER.match(folder):
            raise ArchiveError(f"{ARCHIVE_INDEX}: bad folder {folder[:40]!r}")
        listed.append((folder, entry.get("name")))
    return listed


def _read_records(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    listed: list[tuple[str, object]],
) -> list[tuple[str, WordRecord]]:
    """Each listed folder's validated word.json; names must match the index and be unique."""
    records: list[tuple[str, WordRecord]] = []
    seen_names: set[str] = set()
    for folder, listed_name in listed:
        word_path = folder + WORD_FILE
        if word_path not in members:
            raise ArchiveError(f"{word_path} is missing")
        data = _parse_json(_read_member(archive, members[word_path], MAX_JSON_BYTES), word_path)
        try:
            record = WordRecord.from_dict(data, word_path)
        except WordStoreError as error:
            raise ArchiveError(str(error)) from error
        if listed_name != record.name:
            raise ArchiveError(f"{folder}: name differs from {ARCHIVE_INDEX}")
        if record.name.casefold() in seen_names:
            raise ArchiveError(f"the word {record.name!r} appears twice")
        seen_names.add(record.name.casefold())
        records.append((folder, record))
    return records


def _check_listed(
    members: dict[str, zipfile.ZipInfo], records: list[tuple[str, WordRecord]]
) -> None:
    """Every file a word.json names is present, and every file present is named by one."""
    used = {ARCHIVE_INDEX}
    for folder, record in records:
        used.add(folder + WORD_FILE)
        for name in _audio_names(record):
            if folder + name not in members:
                raise ArchiveError(f"{folder + name} is missing")
            used.add(folder + name)
    extra = sorted(set(members) - used)
    if extra:
        raise ArchiveError(f"file not listed by {ARCHIVE_INDEX}: {extra[0]!r}")


def _check_audio_length(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    records: list[tuple[str, WordRecord]],
) -> None:
    """Seconds of every WAV from its header alone, against the per-file and total limits."""
    total = 0.0
    for folder, record in records:
        for audio in _audio_files(record):
            member = folder + audio.name
            header = _read_prefix(archive, members[member], WAV_HEADER_BYTES)
            seconds = _wav_seconds(header, member, record.sample_rate)
            if seconds > audio.max_seconds:
                raise ArchiveError(
                    f"{member}: {seconds:.2f} s is longer than the {audio.max_seconds:g} s "
                    f"a {audio.kind} may last"
                )
            total += seconds
    if total > MAX_ARCHIVE_AUDIO_SECONDS:
        raise ArchiveError(
            f"the words hold {total:.0f} s of audio; a word file holds at most "
            f"{MAX_ARCHIVE_AUDIO_SECONDS:g} s"
        )


def _wav_seconds(header: bytes, what: str, sample_rate: int) -> float:
    """Length of a mono PCM16 WAV at `sample_rate`, from its first bytes (the header) alone."""
    try:
        rate, frames = wav_header(header, what)
    except WavError as error:
        raise ArchiveError(str(error)) from error
    if rate != sample_rate:
        raise ArchiveError(f"{what}: {rate} Hz differs from the word's sample_rate")
    return frames / rate


def _read_word(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    folder: str,
    record: WordRecord,
) -> _ImportedWord:
    files: dict[str, bytes] = {}
    for audio in _audio_files(record):
        member = folder + audio.name
        content = _read_member(archive, members[member], audio.max_bytes)
        try:
            samples, _ = decode_wav(content, member, audio.max_seconds)
        except WavError as error:
            raise ArchiveError(str(error)) from error
        if not np.all(np.isfinite(samples)):
            raise ArchiveError(f"{member}: holds invalid samples")
        files[audio.name] = content
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
