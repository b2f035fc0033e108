"""`--download` against a tiny Speech Commands archive served from 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from training_helpers import SAMPLE_RATE, tone

from training.cli import USER_ERROR_EXIT, main
from training.config import SILENCE_LABEL, DataConfig
from training.data import build_index
from training.download import PARTIAL_SUFFIX, DownloadError, download_dataset, fetch

ARCHIVE_NAME = "speech_commands_v0.02.tar.gz"


def _tiny_archive() -> bytes:
    """Speech Commands layout: word folders, noise, lists; a few hundred kB of gzip."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for word, frequency in (("yes", 440.0), ("no", 880.0), ("cat", 1500.0)):
            for speaker in ("0a7c2a8d", "3cfc6b3a", "bfd26d6b", "c1d39ce8"):
                wav = io.BytesIO()
                sf.write(wav, tone(frequency, rng), SAMPLE_RATE, format="WAV")
                add(f"{word}/{speaker}_nohash_0.wav", wav.getvalue())
        noise = io.BytesIO()
        sf.write(noise, 0.1 * rng.standard_normal(SAMPLE_RATE), SAMPLE_RATE, format="WAV")
        add("_background_noise_/white_noise.wav", noise.getvalue())
        add("validation_list.txt", b"yes/3cfc6b3a_nohash_0.wav\n")
        add("testing_list.txt", b"no/bfd26d6b_nohash_0.wav\n")
    return buffer.getvalue()


class _Server:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.range_requests: list[str] = []
        self.fail_after: int | None = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.payload)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self) -> None:
                if self.path != f"/{ARCHIVE_NAME}":
                    self.send_error(404)
                    return
                start = 0
                requested = self.headers.get("Range")
                if requested:
                    server.range_requests.append(requested)
                    start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))  # type: ignore[union-attr]
                    if start >= len(server.payload):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range",
                        f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}",
                    )
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{ARCHIVE_NAME}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    served = _Server(_tiny_archive())
    yield served
    served.close()


def test_download_extract_and_train_index(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checksum = hashlib.sha256(server.payload).hexdigest()
    folder = download_dataset(server.url, tmp_path / "sc", expected_sha256=checksum)
    assert (tmp_path / "sc" / ARCHIVE_NAME).stat().st_size == len(server.payload)
    assert ARCHIVE_NAME in capsys.readouterr().err  # the progress bar names the archive
    index = build_index(DataConfig(data_dir=str(folder), wanted_words=("yes", "no")))
    assert index.used_lists
    assert len(index.background_paths) == 1
    assert {c.label for c in index.clips} >= {"yes", "no", SILENCE_LABEL}
    # A second run verifies the archive and skips the download.
    assert download_dataset(server.url, tmp_path / "sc", expected_sha256=checksum) == folder
    assert server.range_requests == []


def test_train_download_runs_end_to_end(server: _Server, tmp_path: Path) -> None:
    argv = ["train", "--download", str(tmp_path / "sc"), "--download-url", server.url,
            "--wanted-words", "yes,no", "--model", "tcresnet", "--epochs", "1",
            "--batch-size", "4", "--threads", "1", "--device", "cpu",
            "--output-dir", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "run" / "best.pt").is_file()


def test_partial_download_resumes_with_a_range_request(server: _Server, tmp_path: Path) -> None:
    archive = tmp_path / ARCHIVE_NAME
    half = len(server.payload) // 2
    archive.with_name(archive.name + PARTIAL_SUFFIX).write_bytes(server.payload[:half])
    fetch(server.url, archive, hashlib.sha256(server.payload).hexdigest(), progress=False)
    assert server.range_requests == [f"bytes={half}-"]
    assert archive.read_bytes() == server.payload


def test_checksum_mismatch_and_missing_file_are_one_line_errors(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(DownloadError, match="SHA-256"):
        fetch(server.url, tmp_path / ARCHIVE_NAME, "0" * 64, progress=False)
    assert not (tmp_path / ARCHIVE_NAME).exists()
    missing = server.url.replace(ARCHIVE_NAME, "absent.tar.gz")
    code = main(["download", str(tmp_path / "x"), "--url", missing])
    assert code == USER_ERROR_EXIT
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("error: ") and "404" in error[-1]
