"""Reading audio files, with errors a user can act on: the one place that knows file formats.

`AudioFileStream` reads a file of any length block by block, so replaying a two-hour recording
holds one block in memory, not the whole decoded file; `read_audio` reads a short file at once and
`read_audio_at` at the rate a model or a dataset wants. The app, the word tools, training and the
benchmarks all list and read audio through here, so they agree on what counts as an audio file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import soundfile

from kws_app.audio.resample import to_rate
from kws_app.config import MS_PER_SECOND
from kws_app.errors import UserError, one_line, os_error_reason

FloatArray = npt.NDArray[np.float32]

# A header outside these rates is damaged or not audio we can use; refusing it before reading keeps
# a lying header from sizing blocks (or a resampler) absurdly.
MIN_FILE_SAMPLE_RATE_HZ = 1000
MAX_FILE_SAMPLE_RATE_HZ = 768_000
# Upper bound on the samples (frames x channels) decoded at once, whatever the channel count.
MAX_BLOCK_SAMPLES = 1 << 20
_READ_ERRORS = (soundfile.LibsndfileError, RuntimeError, ValueError, OSError)
# What libsndfile decodes (Opus inside Ogg; MP3 since libsndfile 1.1), by file name ending.
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif"})


class AudioFileError(UserError):
    """An audio file that cannot be used; str() is a one-line message."""


class EmptyAudioFileError(AudioFileError):
    """A readable audio file that holds no samples (dataset loaders count these apart)."""


class AudioFileStream:
    """An open audio file read as mono float32 blocks in [-1, 1] (channels are averaged).

    The header is checked on opening (existence, format, sample rate, a non-empty length), so a
    caller learns about an unusable file before it builds anything on the file's rate.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise AudioFileError(f"audio file not found: {self.path}")
        if not self.path.is_file():
            raise AudioFileError(f"not a file: {self.path}")
        try:  # libsndfile says only "System error." when it cannot open a file
            with self.path.open("rb"):
                pass
        except OSError as error:
            raise AudioFileError(
                f"cannot read audio file {self.path.name}: {os_error_reason(error)}"
            ) from error
        try:
            self._file = soundfile.SoundFile(self.path)
        except _READ_ERRORS as error:
            raise AudioFileError(
                f"cannot read audio file {self.path.name}: {one_line(error)}"
            ) from error
        try:
            self._check_header()
        except AudioFileError:
            self._file.close()
            raise

    def _check_header(self) -> None:
        rate = int(self._file.samplerate)
        if not MIN_FILE_SAMPLE_RATE_HZ <= rate <= MAX_FILE_SAMPLE_RATE_HZ:
            raise AudioFileError(
                f"audio file {self.path.name} claims a sample rate of {rate} Hz; "
                f"usable rates are {MIN_FILE_SAMPLE_RATE_HZ}-{MAX_FILE_SAMPLE_RATE_HZ} Hz"
            )
        if self._file.frames == 0:
            raise EmptyAudioFileError(f"audio file {self.path.name} holds no samples")

    @property
    def sample_rate(self) -> int:
        return int(self._file.samplerate)

    @property
    def channels(self) -> int:
        return int(self._file.channels)

    def block_frames(self, block_ms: int) -> int:
        """Frames per block of `block_ms`, fewer where many channels would make it large."""
        wanted = self.sample_rate * block_ms // MS_PER_SECOND
        return max(1, min(wanted, MAX_BLOCK_SAMPLES // max(1, self.channels)))

    def blocks(self, block_ms: int) -> Iterator[FloatArray]:
        """Mono blocks of about `block_ms` each, until the end of the file.

        Each block is a new array the caller may keep; the decoding buffer is reused.
        """
        buffer = np.empty((self.block_frames(block_ms), self.channels), dtype=np.float32)
        while True:
            try:
                block = self._file.read(buffer.shape[0], dtype="float32", out=buffer)
            except _READ_ERRORS as error:
                raise AudioFileError(
                    f"cannot read audio file {self.path.name}: {one_line(error)}"
                ) from error
            if block.shape[0] == 0:
                return
            yield _mono(block)

    def read_all(self) -> FloatArray:
        """The rest of the file as one mono array (for short files)."""
        try:
            samples = self._file.read(dtype="float32", always_2d=True)
        except _READ_ERRORS as error:
            raise AudioFileError(
                f"cannot read audio file {self.path.name}: {one_line(error)}"
            ) from error
        if samples.shape[0] == 0:
            raise EmptyAudioFileError(f"audio file {self.path.name} holds no samples")
        return _mono(samples)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AudioFileStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _mono(samples: npt.NDArray[np.float32]) -> FloatArray:
    """A new contiguous mono array: the channels' mean, or a copy of the only channel."""
    if samples.shape[1] > 1:
        return np.ascontiguousarray(samples.mean(axis=1, dtype=np.float32))
    return np.array(samples[:, 0], dtype=np.float32)


def read_audio(path: str | Path) -> tuple[FloatArray, int]:
    """Mono float32 samples in [-1, 1] and the file's sample rate (channels are averaged)."""
    with AudioFileStream(path) as stream:
        return stream.read_all(), stream.sample_rate


def read_audio_at(path: str | Path, sample_rate: int) -> FloatArray:
    """Mono float32 samples at `sample_rate`, whatever the file's format, channels and rate."""
    samples, rate = read_audio(path)
    return to_rate(samples, rate, sample_rate)


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()


def list_audio_files(folder: Path, recursive: bool = True) -> list[Path]:
    """The audio files in `folder` (and its subfolders when `recursive`), sorted by path."""
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(path for path in candidates if is_audio_file(path))
