"""Reading and writing the word store's WAV files with the standard library's `wave` module.

Word files may come from strangers, so their audio is parsed by pure Python (no C decoder sees
untrusted bytes) and only one simple format is accepted: mono 16-bit PCM. Every size is checked
against the header before a sample is read, so a lying header cannot make us allocate much.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.errors import UserError

FloatArray = npt.NDArray[np.float32]

PCM16_BYTES = 2
PCM16_FULL_SCALE = 32767.0
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000


class WavError(UserError, ValueError):
    """A WAV file the word store refuses; str() is a one-line message."""


def encode_wav(samples: npt.ArrayLike, sample_rate: int) -> bytes:
    """Mono 16-bit PCM bytes; samples outside [-1, 1] are clipped, as a sound card would."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    pcm = np.round(clipped * PCM16_FULL_SCALE).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(PCM16_BYTES)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: npt.ArrayLike, sample_rate: int) -> None:
    path.write_bytes(encode_wav(samples, sample_rate))


def _checked_format(reader: wave.Wave_read, what: str) -> tuple[int, int]:
    """(sample rate, frames) of a mono PCM16 WAV at a rate the store accepts."""
    if reader.getnchannels() != 1 or reader.getsampwidth() != PCM16_BYTES:
        raise WavError(f"{what}: must be mono 16-bit PCM WAV")
    rate = reader.getframerate()
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise WavError(f"{what}: sample rate {rate} Hz is outside 8-48 kHz")
    return rate, reader.getnframes()


def _not_a_wav(what: str, error: Exception) -> WavError:
    # RuntimeError with no message: a chunk that runs past the RIFF end.
    return WavError(f"{what}: not a valid WAV file ({error or 'bad chunk size'})")


# Enough bytes to hold any WAV header this app writes or accepts, with room for extra chunks.
WAV_HEADER_BYTES = 4096


def read_wav_header(path: Path) -> tuple[int, int]:
    """(sample rate, frames) of a stored WAV from its first WAV_HEADER_BYTES alone (OSError
    where it cannot be read, WavError where it is not a WAV this app reads)."""
    with path.open("rb") as file:
        return wav_header(file.read(WAV_HEADER_BYTES), path.name)


def wav_header(data: bytes, what: str) -> tuple[int, int]:
    """(sample rate, frames) of a mono PCM16 WAV from its first bytes (the header) alone, so a
    caller can refuse a file by its length before reading it."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            return _checked_format(reader, what)
    except (wave.Error, EOFError, RuntimeError) as error:
        raise _not_a_wav(what, error) from error


def decode_wav(data: bytes, what: str, max_seconds: float) -> tuple[FloatArray, int]:
    """Float32 samples and rate of a mono PCM16 WAV, refusing anything else or anything too long."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate, frames = _checked_format(reader, what)
            if frames <= 0:
                raise WavError(f"{what}: holds no samples")
            if frames > max_seconds * rate:
                raise WavError(f"{what}: longer than {max_seconds:g} s")
            raw = reader.readframes(frames)
    except (wave.Error, EOFError, RuntimeError) as error:
        raise _not_a_wav(what, error) from error
    if len(raw) != frames * PCM16_BYTES:
        raise WavError(f"{what}: truncated WAV data")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / PCM16_FULL_SCALE
    return samples, rate


def read_wav(path: Path, max_seconds: float) -> tuple[FloatArray, int]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WavError(f"cannot read {path.name}: {error.strerror}") from error
    return decode_wav(data, path.name, max_seconds)
