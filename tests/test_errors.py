"""Every error meant for a user derives from UserError, so each entry point catches one class;
the ones that were ValueErrors still are, so older `except ValueError` clauses keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from kws_app.audio.devices import (
    DeviceError,
    DeviceUnavailableError,
    RateRefusedError,
    StreamStalledError,
)
from kws_app.audio.files import AudioFileError
from kws_app.cli import EXIT_USER_ERROR
from kws_app.cli import main as app_main
from kws_app.config import ConfigError
from kws_app.errors import UserError, one_line
from kws_app.inference.decoder import DecoderError
from kws_app.inference.model import ModelError
from kws_app.inference.operating_points import OperatingPointsError
from kws_app.words.archive import ArchiveError
from kws_app.words.head import HeadError, UntrustedJsonError
from kws_app.words.store import WordStoreError
from kws_app.words.takes import TakeError
from kws_app.words.trainer import TrainingError
from kws_app.words.wavio import WavError
from training.cli import main as training_main
from training.data import DataError
from training.download import DownloadError
from training.export import ExportError
from training.speech_negatives import SpeechNegativesError
from training.stream_data import StreamError

USER_ERRORS = (
    ConfigError, DeviceError, RateRefusedError, DeviceUnavailableError, StreamStalledError,
    AudioFileError, ModelError, DecoderError, OperatingPointsError, WavError, HeadError,
    UntrustedJsonError, TrainingError, WordStoreError, ArchiveError, TakeError,
    SpeechNegativesError, ExportError, StreamError, DataError, DownloadError,
)  # fmt: skip
FORMER_VALUE_ERRORS = (
    ConfigError, DecoderError, OperatingPointsError, WavError, HeadError, UntrustedJsonError,
    TrainingError, WordStoreError, ArchiveError, TakeError, SpeechNegativesError, StreamError,
)  # fmt: skip


@pytest.mark.parametrize("error_class", USER_ERRORS, ids=lambda cls: cls.__name__)
def test_every_user_facing_error_is_a_user_error(error_class: type[Exception]) -> None:
    assert issubclass(error_class, UserError)


@pytest.mark.parametrize("error_class", FORMER_VALUE_ERRORS, ids=lambda cls: cls.__name__)
def test_former_value_errors_are_still_caught_as_value_errors(
    error_class: type[Exception],
) -> None:
    assert issubclass(error_class, ValueError)


def test_one_line_keeps_the_first_line_or_names_the_class() -> None:
    assert one_line(ValueError("first\nsecond")) == "first"
    assert one_line(KeyError()) == "KeyError"


def test_the_app_reports_a_missing_audio_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = app_main(["--wav", str(tmp_path / "missing.wav")])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err == f"kws-app: error: audio file not found: {tmp_path / 'missing.wav'}\n"


def test_training_reports_a_user_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-checkpoint.pt"
    code = training_main(
        ["export", "--checkpoint", str(missing), "--output", str(tmp_path / "m.onnx")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
