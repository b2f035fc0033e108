"""A hostile word file is refused by its counts and sizes before it is read, trained or written.

Every archive here is a real zip built with `zipfile` (or, for the end-record attacks, written byte
by byte as a zip tool would), never a mock. Each refusal must be one line, and it must leave the
store, and everything beside it, exactly as it was.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from words_helpers import words_tone_model

from kws_app.cli import main
from kws_app.words.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_INDEX,
    ARCHIVE_VERSION,
    MAX_ARCHIVE_AUDIO_SECONDS,
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_TAKES,
    MAX_ARCHIVE_WORDS,
    MAX_BACKGROUND_BYTES,
    MAX_CENTRAL_DIRECTORY_BYTES,
    MAX_DECODED_BYTES,
    MAX_TAKES_PER_WORD,
    MAX_ZIP_ENTRIES,
    ArchiveError,
    export_words,
    import_words,
    read_archive,
)
from kws_app.words.head import (
    MAX_HEAD_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARS,
    HeadError,
    WordHead,
)
from kws_app.words.store import (
    BACKGROUND_FILE,
    MAX_BACKGROUND_SECONDS,
    MAX_EXAMPLE_SECONDS,
    MAX_JSON_BYTES,
    MIN_EXAMPLES,
    WORD_FILE,
    WordRecord,
    WordStore,
    WordStoreError,
    example_file_name,
)
from kws_app.words.wavio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, encode_wav

RATE = MIN_SAMPLE_RATE  # the lowest rate a word may have: the smallest files for a given length
TAKE_SECONDS = 0.1
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.1
CREATED = "2024-01-01T00:00:00+00:00"
HUGE_INTEGER_DIGITS = 5001  # past Python's 4,300-digit int-string conversion limit
DEEP_NESTING = 30000  # past the interpreter's recursion limit, still under MAX_JSON_BYTES
SHALLOW_TOO_DEEP = 100  # under the recursion limit, over MAX_JSON_DEPTH
COMMENT_BYTES = 60000  # a zip entry's comment may hold up to 65,535 bytes
CLAIMED_ENTRIES = 4_000_000
REAL_ENTRIES = 70_000  # more than the 65,535 a plain end record can count: needs ZIP64


def _tone(seconds: float = TAKE_SECONDS, rate: int = RATE) -> np.ndarray:
    time = np.arange(round(seconds * rate)) / rate
    return (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * time)).astype(np.float32)


def _take(seconds: float = TAKE_SECONDS, rate: int = RATE) -> bytes:
    """A mono PCM16 WAV of a quiet tone, the format the store writes."""
    return encode_wav(_tone(seconds, rate), rate)


def _silence(seconds: float, rate: int = RATE) -> bytes:
    return encode_wav(np.zeros(round(seconds * rate), dtype=np.float32), rate)


@dataclass
class _Word:
    name: str
    takes: list[bytes]
    background: bytes | None = None
    rate: int = RATE


def _word(name: str, takes: int = MIN_EXAMPLES, **kwargs) -> _Word:  # type: ignore[no-untyped-def]
    return _Word(name, [_take()] * takes, **kwargs)


def _members(words: list[_Word]) -> dict[str, bytes]:
    """The members of a word file holding `words`, laid out as `export_words` lays them out."""
    index: dict = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "words": []}
    members: dict[str, bytes] = {}
    for number, word in enumerate(words, start=1):
        folder = f"words/{number:02d}/"
        index["words"].append({"name": word.name, "folder": folder})
        record = WordRecord(
            word.name,
            word.rate,
            tuple(example_file_name(i) for i in range(len(word.takes))),
            BACKGROUND_FILE if word.background is not None else None,
            CREATED,
        )
        members[folder + WORD_FILE] = json.dumps(record.to_dict()).encode()
        for file_name, take in zip(record.examples, word.takes, strict=True):
            members[folder + file_name] = take
        if word.background is not None:
            members[folder + BACKGROUND_FILE] = word.background
    members[ARCHIVE_INDEX] = json.dumps(index).encode()
    return members


def _zip(path: Path, members: dict[str, bytes], comment: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return path


@pytest.fixture
def store(tmp_path: Path) -> WordStore:
    """A store that already holds one word, so "unchanged" means more than "still empty"."""
    words = WordStore(tmp_path / "store")
    words.add("existing", [_tone()] * MIN_EXAMPLES, RATE)
    return words


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def _refused(store: WordStore, path: Path) -> str:
    """Import `path`, expecting a one-line refusal that writes nothing anywhere; its message."""
    around = store.root.parent
    before = _tree(around)
    with pytest.raises(ArchiveError) as caught:
        import_words(store, path)
    message = str(caught.value)
    assert message and "\n" not in message
    assert _tree(around) == before
    assert [word.name for word in store.words()] == ["existing"]
    return message


def _soundfile_take() -> bytes:
    """A take written by libsndfile rather than the `wave` module."""
    buffer = io.BytesIO()
    soundfile.write(buffer, _tone(), RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def test_a_valid_file_still_imports(store: WordStore, tmp_path: Path) -> None:
    lights = _word("lights")
    lights.takes[0] = _soundfile_take()
    words = [lights, _Word("music", [_take(1.0)] * 6, background=_silence(10.0))]
    members = _members(words)
    installed = import_words(store, _zip(tmp_path / "ok.kwswords", members))
    assert [word.name for word in installed] == ["lights", "music"]
    music = store.get("music")
    assert (music.folder / BACKGROUND_FILE).read_bytes() == members["words/02/background.wav"]
    assert (music.folder / "examples/06.wav").read_bytes() == members["words/02/examples/06.wav"]
    # What the app exports imports again.
    exported = tmp_path / "all.kwswords"
    export_words(store, [], exported)
    assert sorted(w.record.name for w in read_archive(exported)) == ["existing", "lights", "music"]


def test_too_many_words(store: WordStore, tmp_path: Path) -> None:
    count = MAX_ARCHIVE_WORDS + 1
    words = [_word(f"word{number}") for number in range(count)]
    message = _refused(store, _zip(tmp_path / "many.kwswords", _members(words)))
    assert f"{count} word folders" in message and f"at most {MAX_ARCHIVE_WORDS}" in message


def test_too_many_takes_of_one_word(store: WordStore, tmp_path: Path) -> None:
    count = MAX_TAKES_PER_WORD + 1
    path = _zip(tmp_path / "takes.kwswords", _members([_word("chatty", count)]))
    message = _refused(store, path)
    assert f"holds {count} takes" in message and f"at most {MAX_TAKES_PER_WORD}" in message


def test_too_many_takes_in_one_file(store: WordStore, tmp_path: Path) -> None:
    per_word = MAX_ARCHIVE_TAKES // 5 + 1
    words = [_word(f"word{number}", per_word) for number in range(5)]
    message = _refused(store, _zip(tmp_path / "takes.kwswords", _members(words)))
    assert f"{5 * per_word} takes" in message and f"at most {MAX_ARCHIVE_TAKES}" in message


def test_a_take_too_long(store: WordStore, tmp_path: Path) -> None:
    word = _word("slow")
    word.takes[2] = _take(MAX_EXAMPLE_SECONDS + 0.5)
    message = _refused(store, _zip(tmp_path / "long.kwswords", _members([word])))
    assert message == (
        f"words/01/examples/03.wav: {MAX_EXAMPLE_SECONDS + 0.5:.2f} s is longer than the "
        f"{MAX_EXAMPLE_SECONDS:g} s a take may last"
    )


def test_a_room_recording_too_long(store: WordStore, tmp_path: Path) -> None:
    word = _word("roomy", background=_silence(MAX_BACKGROUND_SECONDS + 1))
    message = _refused(store, _zip(tmp_path / "room.kwswords", _members([word])))
    assert f"longer than the {MAX_BACKGROUND_SECONDS:g} s a room recording" in message


def test_too_much_audio_in_total(store: WordStore, tmp_path: Path) -> None:
    # Every file is within its own limit; together they hold more than a file may.
    room = _silence(MAX_BACKGROUND_SECONDS)
    count = int(MAX_ARCHIVE_AUDIO_SECONDS // MAX_BACKGROUND_SECONDS) + 1
    words = [_word(f"word{number}", background=room) for number in range(count)]
    total = count * (MAX_BACKGROUND_SECONDS + MIN_EXAMPLES * TAKE_SECONDS)
    message = _refused(store, _zip(tmp_path / "audio.kwswords", _members(words)))
    assert message == (
        f"the words hold {total:.0f} s of audio; a word file holds at most "
        f"{MAX_ARCHIVE_AUDIO_SECONDS:g} s"
    )


def test_too_many_decoded_bytes(store: WordStore, tmp_path: Path) -> None:
    # At 48 kHz the members' declared sizes pass the byte limit; nothing is decompressed.
    room = _silence(MAX_BACKGROUND_SECONDS, MAX_SAMPLE_RATE)
    count = MAX_DECODED_BYTES // len(room) + 1
    words = [
        _Word(f"word{number}", [_take(rate=MAX_SAMPLE_RATE)] * MIN_EXAMPLES, room, MAX_SAMPLE_RATE)
        for number in range(count)
    ]
    message = _refused(store, _zip(tmp_path / "bytes.kwswords", _members(words)))
    assert "bytes" in message and f"at most {MAX_DECODED_BYTES}" in message


def test_a_file_too_large_is_refused_unopened(store: WordStore, tmp_path: Path) -> None:
    path = tmp_path / "large" / "huge.kwswords"
    path.parent.mkdir()
    with path.open("wb") as file:
        file.truncate(MAX_ARCHIVE_BYTES + 1)  # sparse: no disk space, no time
    before = _tree(store.root)
    with pytest.raises(ArchiveError, match=f"huge.kwswords is {MAX_ARCHIVE_BYTES + 1} bytes"):
        import_words(store, path)
    assert _tree(store.root) == before


def _end_record_at(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


@pytest.mark.parametrize("comment", [b"", b"a comment before which the end record must be found"])
def test_an_end_record_claiming_too_many_entries(
    store: WordStore, tmp_path: Path, comment: bytes
) -> None:
    path = _zip(tmp_path / "claims.kwswords", _members([_word("tiny")]), comment)
    data = bytearray(path.read_bytes())
    entries = _end_record_at(bytes(data)) + 8  # after the signature and the two disk numbers
    struct.pack_into("<HH", data, entries, 0xFFFF, 0xFFFF)  # on this disk, in all
    path.write_bytes(bytes(data))
    message = _refused(store, path)
    assert f"lists {0xFFFF} entries" in message and f"at most {MAX_ZIP_ENTRIES}" in message


_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")


def _zip64_file(path: Path, real_entries: int, claimed_entries: int) -> Path:
    """A zip whose ZIP64 end record claims `claimed_entries` over `real_entries` real ones.

    The plain end record claims one entry, so only a reader of the ZIP64 record (as zipfile
    is) sees the count. Written byte by byte: `zipfile` would need minutes and gigabytes.
    """
    name = b"kws-words.json"
    entry = _CENTRAL_HEADER.pack(
        b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
    )
    directory = (entry + name) * real_entries
    zip64_end = _ZIP64_END.pack(
        b"PK\x06\x06", _ZIP64_END.size - 12, 45, 45, 0, 0,
        claimed_entries, claimed_entries, len(directory), 0,
    )  # fmt: skip
    locator = _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, len(directory), 1)
    end = _END.pack(b"PK\x05\x06", 0, 0, 1, 1, len(entry) + len(name), 0, 0)
    path.write_bytes(directory + zip64_end + locator + end)
    return path


@pytest.mark.parametrize(("real", "claimed"), [(1, CLAIMED_ENTRIES), (REAL_ENTRIES, REAL_ENTRIES)])
def test_a_zip64_end_record_claiming_millions_of_entries(
    store: WordStore, tmp_path: Path, real: int, claimed: int
) -> None:
    path = _zip64_file(tmp_path / "zip64.kwswords", real, claimed)
    if real == 1:  # the crafted bytes are a zip that zipfile reads through its ZIP64 record
        with zipfile.ZipFile(path) as archive:
            assert [info.filename for info in archive.infolist()] == [ARCHIVE_INDEX]
    message = _refused(store, path)
    assert f"lists {claimed} entries" in message and f"at most {MAX_ZIP_ENTRIES}" in message


def test_a_central_directory_too_large(store: WordStore, tmp_path: Path) -> None:
    path = tmp_path / "directory.kwswords"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _members([_word("chatty")]).items():
            info = zipfile.ZipInfo(name)
            info.comment = b"c" * COMMENT_BYTES
            archive.writestr(info, data)
    message = _refused(store, path)
    assert "central directory" in message and f"at most {MAX_CENTRAL_DIRECTORY_BYTES}" in message


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_VALUES = {
    "huge integer": ("9" * HUGE_INTEGER_DIGITS, f"{HUGE_INTEGER_DIGITS}-character number"),
    "NaN": ("NaN", "holds NaN"),
    "Infinity": ("-Infinity", "holds -Infinity"),
    "overflow": ("1e999", "out of range"),
    "nested": (_nested(SHALLOW_TOO_DEEP), f"nested more than {MAX_JSON_DEPTH} levels"),
    "deeply nested": (_nested(DEEP_NESTING), f"nested more than {MAX_JSON_DEPTH} levels"),
}


@pytest.mark.parametrize("case", list(HOSTILE_VALUES))
@pytest.mark.parametrize("member", ["words/01/word.json", ARCHIVE_INDEX])
def test_absurd_json_is_one_line(store: WordStore, tmp_path: Path, case: str, member: str) -> None:
    value, expected = HOSTILE_VALUES[case]
    members = _members([_word("numbers")])
    document = json.loads(members[member])
    document["extra"] = "PLACEHOLDER"
    members[member] = json.dumps(document).replace('"PLACEHOLDER"', value).encode()
    message = _refused(store, _zip(tmp_path / "json.kwswords", members))
    assert message.startswith(f"{member} ") and expected in message


def test_a_huge_integer_is_one_line_on_the_command_line(
    store: WordStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = _members([_word("numbers")])
    members["words/01/word.json"] = members["words/01/word.json"].replace(
        f'"sample_rate": {RATE}'.encode(), f'"sample_rate": {"9" * HUGE_INTEGER_DIGITS}'.encode()
    )
    path = _zip(tmp_path / "int.kwswords", members)
    model = words_tone_model(tmp_path / "words_tone.onnx")
    before = _tree(store.root)
    code = main(["words", "--store", str(store.root), "--model", str(model), "import", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kws-app words: error: words/01/word.json holds a 5001-character")
    assert err.count("\n") == 1
    assert _tree(store.root) == before


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_INVALID_DEFLATE_BLOCK = b"\xff"  # final block of the reserved type 3: zlib.error, not BadZipFile


def test_damaged_deflate_data_is_one_line(store: WordStore, tmp_path: Path) -> None:
    path = _zip(tmp_path / "damaged.kwswords", _members([_word("damaged")]))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("words/01/examples/01.wav")
    data = bytearray(path.read_bytes())
    *_, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    data[start : start + 1] = _INVALID_DEFLATE_BLOCK
    path.write_bytes(bytes(data))
    message = _refused(store, path)
    assert message.startswith("words/01/examples/01.wav cannot be read: Error -3")


def _wav_with_a_chunk_past_its_end() -> bytes:
    """A WAV whose LIST chunk runs past the RIFF chunk (the `wave` module raises RuntimeError)."""
    fmt = b"fmt " + struct.pack("<L2H2L2H", 16, 1, 1, RATE, 2 * RATE, 2, 16)
    riff_size = len(b"WAVE") + len(fmt) + 8
    body = b"WAVE" + fmt + b"LIST" + struct.pack("<L", 5000) + b"data" + struct.pack("<L", 2)
    return b"RIFF" + struct.pack("<L", riff_size) + body + b"\0\0"


def test_broken_members_are_one_line(store: WordStore, tmp_path: Path) -> None:
    members = _members([_word("broken")])
    members["words/01/examples/02.wav"] = _wav_with_a_chunk_past_its_end()
    message = _refused(store, _zip(tmp_path / "chunk.kwswords", members))
    assert message.startswith("words/01/examples/02.wav: not a valid WAV file")
    nameless = _zip(tmp_path / "nameless.kwswords", _members([_word("broken")]))
    with zipfile.ZipFile(nameless, "a") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"x")  # a name zipfile's is_dir() fails on
    assert _refused(store, nameless) == "unexpected file inside: ''"


@pytest.mark.parametrize("case", list(HOSTILE_VALUES))
def test_absurd_head_json_is_one_line(case: str) -> None:
    value, expected = HOSTILE_VALUES[case]
    text = json.dumps(
        {"format": "kws-word-head", "version": 1, "model_id": "x", "embedding_size": 1,
         "weights": [0.5], "bias": "PLACEHOLDER"}
    ).replace('"PLACEHOLDER"', value)  # fmt: skip
    with pytest.raises(HeadError) as caught:
        WordHead.from_json(text)
    assert str(caught.value).startswith("head ") and expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_oversized_head_is_refused_before_parsing() -> None:
    with pytest.raises(HeadError, match=f"larger than {MAX_HEAD_JSON_BYTES} bytes"):
        WordHead.from_json(" " * (MAX_HEAD_JSON_BYTES + 1))


def test_a_long_number_literal_is_refused_even_when_small() -> None:
    text = '{"format": "kws-word-head", "version": 1.' + "0" * MAX_JSON_NUMBER_CHARS + "}"
    with pytest.raises(HeadError, match=f"at most {MAX_JSON_NUMBER_CHARS}"):
        WordHead.from_json(text)


def test_export_refuses_what_import_would_refuse(tmp_path: Path) -> None:
    words = WordStore(tmp_path / "big")
    takes = [_tone()] * MIN_EXAMPLES
    room = np.zeros(int(MAX_BACKGROUND_SECONDS * RATE), dtype=np.float32)
    count = int(MAX_ARCHIVE_AUDIO_SECONDS // MAX_BACKGROUND_SECONDS) + 1
    for number in range(count):
        words.add(f"word{number}", takes, RATE, background=room)
    out = tmp_path / "big.kwswords"
    with pytest.raises(WordStoreError, match="s of audio; one file holds at most"):
        export_words(words, [], out)
    assert not out.exists() and not list(tmp_path.glob(".export-*"))


# ----- every member's own limit, and a member that lies about its size ------------------------


def test_a_room_recording_declaring_too_many_bytes(store: WordStore, tmp_path: Path) -> None:
    # Zeros compress to almost nothing: only the declared size can stop it before it is read.
    members = _members([_word("roomy", background=_silence(1.0))])
    members["words/01/background.wav"] = b"\0" * (MAX_BACKGROUND_BYTES + 1)
    message = _refused(store, _zip(tmp_path / "room.kwswords", members))
    assert message == (
        f"words/01/background.wav is too large ({MAX_BACKGROUND_BYTES + 1} bytes; "
        f"at most {MAX_BACKGROUND_BYTES} are accepted)"
    )


@pytest.mark.parametrize("member", ["words/01/word.json", ARCHIVE_INDEX])
def test_a_json_file_declaring_too_many_bytes(
    store: WordStore, tmp_path: Path, member: str
) -> None:
    members = _members([_word("wordy")])
    document = json.loads(members[member])
    document["extra"] = " " * MAX_JSON_BYTES
    members[member] = json.dumps(document).encode()
    message = _refused(store, _zip(tmp_path / "json.kwswords", members))
    assert message.startswith(f"{member} is too large (") and f"at most {MAX_JSON_BYTES}" in message


def _declare_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the central directory so `member` claims `declared` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = _END.unpack_from(data, _end_record_at(bytes(data)))[6]  # where the directory starts
    while True:  # walk the central directory to the member's entry
        fields = _CENTRAL_HEADER.unpack_from(data, at)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        start = at + _CENTRAL_HEADER.size
        if bytes(data[start : start + name_length]) == name:
            struct.pack_into("<L", data, at + 24, declared)  # the uncompressed size field
            break
        at = start + name_length + extra_length + comment_length
    path.write_bytes(bytes(data))


def test_a_take_holding_more_than_it_declares_is_refused_without_reading_it_all(
    store: WordStore, tmp_path: Path
) -> None:
    """A header that understates a member's size passes the size checks; reading then stops at
    the declared size (the rest is never inflated) and the checksum refuses the member."""
    members = _members([_word("liar")])
    members["words/01/examples/01.wav"] = _take() + b"\0" * (MAX_DECODED_BYTES + 1)
    path = _zip(tmp_path / "liar.kwswords", members)
    _declare_size(path, "words/01/examples/01.wav", len(_take()))
    message = _refused(store, path)
    assert message.startswith("words/01/examples/01.wav cannot be read: Bad CRC-32"), message


def test_an_index_listing_too_many_words(store: WordStore, tmp_path: Path) -> None:
    members = _members([_word("one")])
    index = json.loads(members[ARCHIVE_INDEX])
    index["words"] *= MAX_ARCHIVE_WORDS + 1
    members[ARCHIVE_INDEX] = json.dumps(index).encode()
    message = _refused(store, _zip(tmp_path / "index.kwswords", members))
    assert message == f"{ARCHIVE_INDEX}: 'words' must list 1-{MAX_ARCHIVE_WORDS} words"


@pytest.mark.gui
@pytest.mark.parametrize("attack", ["huge integer", "millions of entries"])
def test_the_manage_words_dialog_shows_a_hostile_file_as_a_message(
    qtbot, store: WordStore, tmp_path: Path, attack: str
) -> None:
    """The refusals above reach the window as a status line; nothing escapes the import job."""
    from ui_support import make_controller, silence_factory

    from kws_app.ui.words_manager_dialog import WordsManagerDialog

    if attack == "huge integer":
        members = _members([_word("numbers")])
        members["words/01/word.json"] = members["words/01/word.json"].replace(
            f'"sample_rate": {RATE}'.encode(),
            f'"sample_rate": {"9" * HUGE_INTEGER_DIGITS}'.encode(),
        )
        path = _zip(tmp_path / "int.kwswords", members)
    else:
        path = _zip64_file(tmp_path / "zip64.kwswords", 1, CLAIMED_ENTRIES)
    controller = make_controller(tmp_path, silence_factory(), store=store)
    assert controller.open_model(words_tone_model(tmp_path / "words_tone.onnx"))
    qtbot.waitUntil(lambda: not controller.training_words)
    dialog = WordsManagerDialog(controller)
    qtbot.addWidget(dialog)
    before = _tree(store.root)
    with qtbot.waitSignal(controller.words_imported, timeout=30000):
        dialog.import_file(path)
    shown = dialog.status_label.text()
    assert shown.startswith(f"cannot import {path.name}: ") and "\n" not in shown
    assert not controller.training_words  # nothing to train
    assert _tree(store.root) == before
