"""Fetch and unpack the official Speech Commands archive, resuming interrupted downloads.

The archive is ~2.3 GB, so a broken connection must not mean starting over: a partial file is
continued with an HTTP Range request, and a finished one is verified (size, optional SHA-256)
before it is unpacked. The URL is a parameter so tests can serve a tiny archive from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kws_app.errors import UserError
from training.config import SPEECH_COMMANDS_URL

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
TIMEOUT_SECONDS = 60
PARTIAL_SUFFIX = ".partial"
DONE_MARKER = ".kws-extracted"
HTTP_PARTIAL_CONTENT = 206
HTTP_RANGE_NOT_SATISFIABLE = 416

__all__ = ["SPEECH_COMMANDS_URL", "DownloadError", "download_dataset", "fetch", "extract"]


class DownloadError(UserError):
    """Download, verification or extraction failed; str() is one line for the user."""


def _remote_size(url: str) -> int | None:
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length is not None else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    url: str,
    archive: Path,
    expected_sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Download `url` to `archive`, resuming `archive.partial`; verify and return the path."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    expected_size = _remote_size(url)
    if archive.exists():
        if expected_size is not None and archive.stat().st_size != expected_size:
            logger.warning("%s has the wrong size; downloading it again", archive.name)
            archive.rename(archive.with_name(archive.name + PARTIAL_SUFFIX))
        else:
            _verify(archive, expected_size, expected_sha256)
            logger.info("%s already downloaded and verified", archive.name)
            return archive
    partial = archive.with_name(archive.name + PARTIAL_SUFFIX)
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url)
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            resumed = offset and response.status == HTTP_PARTIAL_CONTENT
            if offset and not resumed:
                logger.warning("the server ignored the resume request; starting over")
                offset = 0
            elif resumed:
                logger.info("resuming %s at %d bytes", archive.name, offset)
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else expected_size
            with (
                partial.open("ab" if resumed else "wb") as handle,
                tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    desc=archive.name,
                    disable=not progress,
                ) as bar,
            ):
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    handle.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as error:
        if error.code == HTTP_RANGE_NOT_SATISFIABLE and offset:
            logger.info("the partial file is already complete")
        else:
            raise DownloadError(
                f"cannot download {url}: HTTP {error.code} {error.reason}"
            ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"cannot download {url}: {reason} (run again to resume from {partial.name})"
        ) from error
    _verify(partial, expected_size, expected_sha256)
    partial.replace(archive)
    return archive


def _verify(path: Path, expected_size: int | None, expected_sha256: str | None) -> None:
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(
            f"{path.name} has {size} bytes, the server says {expected_size}; run again to resume"
        )
    if expected_sha256 is not None and sha256_of(path) != expected_sha256.lower():
        path.unlink()
        raise DownloadError(f"{path.name} fails its SHA-256 check; deleted, run again")


def extract(archive: Path, destination: Path) -> Path:
    """Unpack once; a marker file records a finished extraction so reruns skip it."""
    marker = destination / DONE_MARKER
    if marker.exists():
        return destination
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise DownloadError(f"cannot unpack {archive.name}: {error}") from error
    marker.write_text(archive.name + "\n")
    return destination


def download_dataset(
    url: str = SPEECH_COMMANDS_URL,
    directory: Path = Path("data/speech_commands_v0.02"),
    expected_sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """The dataset folder, downloading and unpacking into `directory` as needed."""
    name = Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1])).name or "archive.tar.gz"
    archive = fetch(url, directory / name, expected_sha256, progress)
    return extract(archive, directory)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("download", help="fetch and unpack Speech Commands v0.02")
    parser.add_argument("directory", type=Path, help="where the archive and the dataset go")
    parser.add_argument("--url", default=SPEECH_COMMANDS_URL)
    parser.add_argument("--sha256", default=None, help="expected SHA-256 of the archive")
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    folder = download_dataset(args.url, args.directory, args.sha256)
    print(f"dataset ready in {folder}")
    return 0
