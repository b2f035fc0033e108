"""`kws-app words ...` and the replay hook, and importing hostile word files."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from model_factory import TONE_LABELS, tone_model
from words_helpers import (
    HUM_HZ,
    LOW_HZ,
    RATE,
    TEST_DECODER_ARGS,
    WHISTLE_HZ,
    damage_recordings,
    stream,
    words_tone_model,
    write_examples,
)

from kws_app.cli import build_parser, load_scorer, main
from kws_app.words.archive import ArchiveError, import_words, read_archive
from kws_app.words.store import WordStore
from kws_app.words.wavio import encode_wav, write_wav

SUBPROCESS_TIMEOUT_S = 120


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    """A tone model whose `_unknown_` fires on loud sounds outside its word bands."""
    return words_tone_model(tmp_path / "words_tone.onnx")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def stream_wav(tmp_path: Path) -> Path:
    path = tmp_path / "stream.wav"
    write_wav(path, stream(WHISTLE_HZ, LOW_HZ), RATE)
    return path


@pytest.fixture
def word_store(tmp_path: Path, words_model_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store holding the word 'whistle', added through the command line."""
    store = tmp_path / "store"
    takes = write_examples(tmp_path / "takes", WHISTLE_HZ)
    code, out, err = _run(
        capsys, "words", "--store", str(store), "--model", str(words_model_path),
        "add", "whistle", "--from-wav-dir", str(takes),
    )  # fmt: skip
    assert code == 0, err
    assert "added 'whistle'" in out
    return store


def _replay_labels(capsys, model: Path, store: Path, wav: Path) -> list[str]:  # type: ignore[no-untyped-def]
    code, out, err = _run(
        capsys,
        "--wav",
        str(wav),
        "--model",
        str(model),
        "--words-store",
        str(store),
        *TEST_DECODER_ARGS,
    )
    assert code == 0, err
    return [json.loads(line)["label"] for line in out.splitlines()]


def test_add_replay_remove(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, word_store: Path, stream_wav: Path
) -> None:
    assert _replay_labels(capsys, words_model_path, word_store, stream_wav) == ["whistle", "low"]
    code, out, _ = _run(capsys, "words", "--store", str(word_store), "list")
    assert code == 0 and out.startswith("whistle\t5 examples")
    code, out, _ = _run(capsys, "words", "--store", str(word_store), "remove", "whistle")
    assert code == 0
    assert _replay_labels(capsys, words_model_path, word_store, stream_wav) == ["low"]


def test_export_import_round_trip(
    capsys: pytest.CaptureFixture[str],
    words_model_path: Path,
    word_store: Path,
    stream_wav: Path,
    tmp_path: Path,
) -> None:
    exported = tmp_path / "whistle.kwswords"
    code, _, err = _run(
        capsys, "words", "--store", str(word_store), "export", "whistle", "--out", str(exported)
    )
    assert code == 0, err
    other = tmp_path / "other-store"
    code, out, err = _run(
        capsys, "words", "--store", str(other), "--model", str(words_model_path),
        "import", str(exported),
    )  # fmt: skip
    assert code == 0, err
    original = WordStore(word_store).get("whistle")
    copy = WordStore(other).get("whistle")
    for name in original.record.examples:
        assert (original.folder / name).read_bytes() == (copy.folder / name).read_bytes()
    assert _replay_labels(capsys, words_model_path, other, stream_wav) == ["whistle", "low"]
    # Importing the same word again is refused and changes nothing.
    code, _, err = _run(
        capsys, "words", "--store", str(other), "--model", str(words_model_path),
        "import", str(exported),
    )  # fmt: skip
    assert code == 2 and "already exists" in err


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_damaged_stored_word_does_not_stop_a_new_one(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    words_model_path: Path,
    word_store: Path,
    tmp_path: Path,
) -> None:
    damage_recordings(WordStore(word_store), "whistle")
    (WordStore(word_store).get("whistle").folder / "head.json").unlink()
    common = ("words", "--store", str(word_store), "--model", str(words_model_path))
    takes = write_examples(tmp_path / "hum-takes", HUM_HZ, seed=3)
    code, out, err = _run(capsys, *common, "add", "hum", "--from-wav-dir", str(takes))
    assert code == 0, err
    assert "added 'hum'" in out and out.rstrip().endswith("words: hum")
    (warning,) = _warnings(caplog)
    assert warning.startswith("custom word 'whistle' is not used: ") and "\n" not in warning
    # The damaged word is kept for the user to mend or remove, not dropped.
    assert [word.name for word in WordStore(word_store).words()] == ["whistle", "hum"]


def test_an_import_beside_a_damaged_word_installs_and_trains_the_new_words(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    words_model_path: Path,
    word_store: Path,
    tmp_path: Path,
) -> None:
    exported = tmp_path / "whistle.kwswords"
    assert _run(capsys, "words", "--store", str(word_store), "export", "whistle", "--out",
                str(exported))[0] == 0  # fmt: skip
    other = tmp_path / "other-store"
    takes = write_examples(tmp_path / "hum-takes", HUM_HZ, seed=3)
    common = ("words", "--store", str(other), "--model", str(words_model_path))
    assert _run(capsys, *common, "add", "hum", "--from-wav-dir", str(takes))[0] == 0
    damage_recordings(WordStore(other), "hum")
    caplog.clear()
    code, out, err = _run(capsys, *common, "import", str(exported))
    assert code == 0, err
    # The damaged word cannot learn the new one as a negative, but keeps its current head.
    assert out.rstrip().endswith("words: whistle, hum")
    (warning,) = _warnings(caplog)
    assert warning.startswith("custom word 'hum' listens as trained before: ")


def _valid_members(word_store: Path) -> dict[str, bytes]:
    word = WordStore(word_store).get("whistle")
    record = word.record.to_dict()
    record["name"] = "intruder"
    members = {
        "kws-words.json": json.dumps(
            {
                "format": "kws-words-archive",
                "version": 1,
                "words": [{"name": "intruder", "folder": "words/01/"}],
            }
        ).encode(),
        "words/01/word.json": json.dumps(record).encode(),
    }
    for name in word.record.examples:
        members[f"words/01/{name}"] = (word.folder / name).read_bytes()
    return members


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _corruptions(members: dict[str, bytes]) -> dict[str, tuple[dict[str, bytes], str]]:
    too_long = encode_wav(stream(WHISTLE_HZ), RATE)  # longer than an example may be
    record = json.loads(members["words/01/word.json"])
    return {
        "traversal": ({**members, "../../evil.py": b"print('hi')"}, "unexpected file"),
        "absolute": ({**members, "/etc/passwd": b"x"}, "unexpected file"),
        "extra file": ({**members, "words/01/head.pkl": b"x"}, "unexpected file"),
        "bad json": ({**members, "words/01/word.json": b"{oops"}, "not valid JSON"),
        "not a wav": ({**members, "words/01/examples/01.wav": b"RIFFnope"}, "not a valid WAV"),
        "long wav": ({**members, "words/01/examples/02.wav": too_long}, "longer than"),
        "bad name": (
            {**members, "words/01/word.json": json.dumps({**record, "name": "../x"}).encode()},
            "not a valid word name",
        ),
        "few examples": (
            {
                **members,
                "words/01/word.json": json.dumps(
                    {**record, "examples": record["examples"][:2]}
                ).encode(),
            },
            "example files",
        ),
    }


def test_corrupt_word_files_give_clear_errors_and_change_nothing(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, word_store: Path, tmp_path: Path
) -> None:
    members = _valid_members(word_store)
    assert [w.record.name for w in read_archive(_zip(tmp_path / "ok.kwswords", members))] == [
        "intruder"
    ]
    before = sorted(p.relative_to(word_store) for p in word_store.rglob("*"))
    garbage = tmp_path / "garbage.kwswords"
    garbage.write_bytes(os.urandom(2000))
    cases = {
        name: _zip(tmp_path / f"{index}.kwswords", content)
        for index, (name, (content, _)) in enumerate(_corruptions(members).items())
    }
    expected = {name: message for name, (_, message) in _corruptions(members).items()}
    cases["garbage"], expected["garbage"] = garbage, "not a zip"
    for name, path in cases.items():
        code, out, err = _run(
            capsys, "words", "--store", str(word_store), "--model", str(words_model_path),
            "import", str(path),
        )  # fmt: skip
        assert code == 2, name
        assert err.startswith("kws-app words: error:") and err.count("\n") == 1, name
        assert expected[name] in err, (name, err)
        assert sorted(p.relative_to(word_store) for p in word_store.rglob("*")) == before, name
    assert [w.name for w in WordStore(word_store).words()] == ["whistle"]


def test_zip_bombs_and_symlinks_are_refused(word_store: Path, tmp_path: Path) -> None:
    members = _valid_members(word_store)
    bomb = tmp_path / "bomb.kwswords"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            # 20 MB of zeros compress to ~20 kB: the declared size must stop it before reading.
            archive.writestr(name, b"\0" * (20 * 1024 * 1024) if name.endswith("01.wav") else data)
    with pytest.raises(ArchiveError, match="too large"):
        import_words(WordStore(tmp_path / "s1"), bomb)
    link = tmp_path / "link.kwswords"
    with zipfile.ZipFile(link, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name.endswith("01.wav"):
                info.external_attr = (0o120777) << 16
            archive.writestr(info, data)
    with pytest.raises(ArchiveError, match="symbolic link"):
        import_words(WordStore(tmp_path / "s2"), link)
    assert not (tmp_path / "s1").exists() or WordStore(tmp_path / "s1").words() == []


def test_user_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    few = write_examples(tmp_path / "few", WHISTLE_HZ, count=2)
    cases = [
        ("words", "--store", store, "remove", "nothing"),
        ("words", "--store", store, "--model", str(words_model_path), "add", "x", "--from-wav-dir",
         str(few)),
        ("words", "--store", store, "--model", str(tmp_path / "missing.onnx"), "add", "x",
         "--from-wav-dir", str(few)),
        ("words", "--store", store, "export", "--out", str(tmp_path / "o.kwswords")),
        ("words", "--store", store, "import", str(tmp_path / "missing.kwswords")),
    ]  # fmt: skip
    for argv in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("kws-app words: error:") and err.count("\n") == 1, (argv, err)


def test_a_renamed_words_old_name_can_be_added_again(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, word_store: Path, tmp_path: Path
) -> None:
    common = ("words", "--store", str(word_store), "--model", str(words_model_path))
    code, out, err = _run(capsys, *common, "rename", "whistle", "lamp")
    assert code == 0, err
    takes = write_examples(tmp_path / "new-takes", WHISTLE_HZ, seed=7)
    code, out, err = _run(capsys, *common, "add", "whistle", "--from-wav-dir", str(takes))
    assert code == 0, err
    code, out, err = _run(capsys, *common, "list")
    assert code == 0, err
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == ["lamp", "whistle"]


def test_a_model_with_a_custom_words_name_skips_that_word_with_one_warning_line(
    capsys: pytest.CaptureFixture[str],
    words_model_path: Path,
    word_store: Path,
    stream_wav: Path,
    tmp_path: Path,
) -> None:
    """A model that has its own 'whistle' wins over the custom 'whistle'; other words stay."""
    takes = write_examples(tmp_path / "hum-takes", HUM_HZ, seed=3)
    code, _, err = _run(
        capsys, "words", "--store", str(word_store), "--model", str(words_model_path),
        "add", "hum", "--from-wav-dir", str(takes),
    )  # fmt: skip
    assert code == 0, err
    clash_model = tone_model(tmp_path / "clash.onnx", labels=(*TONE_LABELS[:3], "whistle"))
    for mode in (("--wav", str(stream_wav)), ("--headless",)):
        args = build_parser().parse_args(
            [*mode, "--model", str(clash_model), "--words-store", str(word_store)]
        )
        assert load_scorer(args).labels == (*TONE_LABELS[:3], "whistle", "hum")
    result = subprocess.run(
        [sys.executable, "-m", "kws_app", "--wav", str(stream_wav), "--model", str(clash_model),
         "--words-store", str(word_store), "--provider", "cpu", *TEST_DECODER_ARGS],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "custom word 'whistle' is not used" in result.stderr
    for line in result.stdout.splitlines():
        assert json.loads(line)["label"] in (*TONE_LABELS, "whistle", "hum")


def test_adding_a_word_from_silent_takes_is_refused_naming_the_file(
    capsys: pytest.CaptureFixture[str], words_model_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    common = ("words", "--store", str(store), "--model", str(words_model_path))
    silent = tmp_path / "silent"
    silent.mkdir()
    for index in range(6):
        write_wav(silent / f"take{index}.wav", np.zeros(RATE, dtype=np.float32), RATE)
    code, out, err = _run(capsys, *common, "add", "lights", "--from-wav-dir", str(silent))
    assert code == 2 and out == ""
    assert err.startswith("kws-app words: error:") and err.count("\n") == 1, err
    assert "take 1 (take0.wav) holds no speech" in err
    # One silent take among good ones is named too, and nothing is stored.
    mixed = write_examples(tmp_path / "mixed", WHISTLE_HZ)
    write_wav(mixed / "take9.wav", np.zeros(RATE, dtype=np.float32), RATE)
    code, _, err = _run(capsys, *common, "add", "lights", "--from-wav-dir", str(mixed))
    assert code == 2 and err.count("\n") == 1 and "take 6 (take9.wav) holds no speech" in err, err
    assert WordStore(store).words() == []


@pytest.mark.parametrize(
    ("flags", "spelling"),
    [((), None), (("--say-as", "wiss-ul"), "wiss-ul")],
)
def test_words_add_keeps_what_synthetic_voices_say(  # type: ignore[no-untyped-def]
    tmp_path: Path, words_model_path: Path, capsys, flags: tuple[str, ...], spelling: str | None
) -> None:
    store = tmp_path / "store"
    takes = write_examples(tmp_path / "takes", WHISTLE_HZ)
    code, out, err = _run(
        capsys, "words", "--store", str(store), "--model", str(words_model_path),
        "add", "whistle", "--from-wav-dir", str(takes), *flags,
    )  # fmt: skip
    assert code == 0, err
    assert WordStore(store).get("whistle").record.spelling == spelling
    code, listed, err = _run(
        capsys, "words", "--store", str(store), "--model", str(words_model_path), "list"
    )
    assert code == 0, err
    assert ("voices say 'wiss-ul'" in listed) == (spelling is not None)
    if spelling is None:
        assert "synthetic" not in out
    elif shutil.which("espeak-ng"):
        assert "and 12 synthetic takes" in out
    else:
        assert "synthetic voices were not used" in out
