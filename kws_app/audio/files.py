"""Reading audio files for replay, with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile


class AudioFileError(Exception):
    """An audio file that cannot be used; str() is a one-line message."""


def read_audio(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples in [-1, 1] and the file's sample rate (channels are averaged)."""
    file_path = Path(path)
    if not file_path.exists():
        raise AudioFileError(f"audio file not found: {file_path}")
    if not file_path.is_file():
        raise AudioFileError(f"not a file: {file_path}")
    try:
        samples, rate = soundfile.read(file_path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AudioFileError(f"cannot read audio file {file_path.name}: {message}") from error
    if samples.shape[0] == 0:
        raise AudioFileError(f"audio file {file_path.name} holds no samples")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)
