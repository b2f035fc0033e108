"""A model's word thresholds hold only at the averaging window and count they were calibrated at,
so the decoder follows the model's calibration, except for the values the user chose: flags, and
values changed in the Advanced panel, which also survive a restart and opening another model."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_factory import tone_model
from ui_support import temp_settings, window_from_flags

from kws_app.cli import build_parser, configs_from_args
from kws_app.config import DecoderConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.operating_points import (
    OperatingPoints,
    calibrated_decoder_values,
    follow_calibration,
)
from kws_app.ui.settings import AppSettings

DEFAULT = DecoderConfig()


def _points(**details: object) -> OperatingPoints:
    return OperatingPoints(0.5, {"low": 0.7, "high": 0.6}, details)


def _calibrated_model(path: Path, window_ms: int, count: int) -> Path:
    points = _points(average_window_ms=window_ms, minimum_count=count, suppression_ms=800)
    return tone_model(path, metadata={"kws.operating_points": points.to_json()})


def test_the_calibrated_values_are_read_from_the_details_by_field_name() -> None:
    points = _points(average_window_ms=300, minimum_count=2, suppression_ms=1000, other=5)
    assert calibrated_decoder_values(points) == {
        "average_window_ms": 300,
        "minimum_count": 2,
        "suppression_ms": 1000,
    }
    assert calibrated_decoder_values(None) == {}


@pytest.mark.parametrize("odd", ["300", 300.5, True, None, float("nan"), [300]])
def test_values_that_are_not_whole_numbers_are_left_out(odd: object) -> None:
    assert calibrated_decoder_values(_points(average_window_ms=odd, minimum_count=2)) == {
        "minimum_count": 2
    }


def test_following_a_calibration_keeps_the_fields_the_user_chose() -> None:
    calibrated = {"average_window_ms": 300, "minimum_count": 2}
    assert follow_calibration(DEFAULT, calibrated) == DecoderConfig(
        average_window_ms=300, minimum_count=2
    )
    kept = follow_calibration(DEFAULT, calibrated, keep={"average_window_ms"})
    assert (kept.average_window_ms, kept.minimum_count) == (DEFAULT.average_window_ms, 2)


def test_a_calibrated_value_the_decoder_refuses_leaves_the_field_as_it_was() -> None:
    followed = follow_calibration(DEFAULT, {"average_window_ms": 0, "minimum_count": 2})
    assert followed == DecoderConfig(minimum_count=2)


def test_the_command_line_decoder_follows_the_model_unless_a_flag_is_given(
    tmp_path: Path,
) -> None:
    model = OnnxModel(_calibrated_model(tmp_path / "m.onnx", 300, 2), prefer_gpu=False)
    _, decoder = configs_from_args(build_parser().parse_args([]), model)
    assert decoder == DecoderConfig(average_window_ms=300, minimum_count=2, suppression_ms=800)
    flagged = build_parser().parse_args(["--average-window-ms", "600"])
    _, decoder = configs_from_args(flagged, model)
    assert (decoder.average_window_ms, decoder.minimum_count) == (600, 2)


# ----- the window -----------------------------------------------------------------------------


def _window(  # type: ignore[no-untyped-def]
    qtbot, settings: AppSettings, tmp_path: Path, model: Path, *flags: str
):
    return window_from_flags(qtbot, tmp_path, settings, model, *flags)


def _window_and_count(window) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    config = window.controller.decoder_config
    return config.average_window_ms, config.minimum_count


@pytest.mark.gui
def test_a_first_run_uses_the_models_calibrated_window_and_shows_it(qtbot, tmp_path: Path) -> None:
    model = _calibrated_model(tmp_path / "m.onnx", 300, 2)
    window = _window(qtbot, temp_settings(tmp_path), tmp_path, model)
    assert _window_and_count(window) == (300, 2)
    assert window.probabilities.average_window_spin.value() == 300
    assert window.probabilities.minimum_count_spin.value() == 2


@pytest.mark.gui
def test_settings_saved_before_the_app_followed_calibrations_take_the_models_values(
    qtbot, tmp_path: Path
) -> None:
    settings = temp_settings(tmp_path)
    settings.save_decoder_config(DecoderConfig(average_window_ms=400, detection_threshold=0.6))
    window = _window(qtbot, settings, tmp_path, _calibrated_model(tmp_path / "m.onnx", 300, 2))
    assert _window_and_count(window) == (300, 2)
    assert window.controller.decoder_config.detection_threshold == 0.6  # the slider is the user's


@pytest.mark.gui
def test_a_window_the_user_chose_survives_a_restart_and_another_model(
    qtbot, tmp_path: Path
) -> None:
    settings = temp_settings(tmp_path)
    first = _calibrated_model(tmp_path / "first.onnx", 300, 2)
    window = _window(qtbot, settings, tmp_path, first)
    window.probabilities.average_window_spin.setValue(700)
    assert window.controller.decoder_config.average_window_ms == 700
    window.controller.shutdown(timeout_s=5.0)
    window.close()

    window = _window(qtbot, settings, tmp_path, first)
    assert _window_and_count(window) == (700, 2)
    assert window.controller.open_model(_calibrated_model(tmp_path / "second.onnx", 500, 4))
    # The user's window stays; the count, never changed, follows the new model.
    assert _window_and_count(window) == (700, 4)
    assert window.probabilities.minimum_count_spin.value() == 4


@pytest.mark.gui
def test_opening_another_model_moves_values_the_user_left_alone(qtbot, tmp_path: Path) -> None:
    window = _window(
        qtbot, temp_settings(tmp_path), tmp_path, _calibrated_model(tmp_path / "a.onnx", 300, 2)
    )
    assert window.controller.open_model(_calibrated_model(tmp_path / "b.onnx", 500, 4))
    assert _window_and_count(window) == (500, 4)
    assert window.probabilities.average_window_spin.value() == 500


@pytest.mark.gui
def test_a_flag_outranks_the_models_calibration(qtbot, tmp_path: Path) -> None:
    model = _calibrated_model(tmp_path / "m.onnx", 300, 2)
    window = _window(qtbot, temp_settings(tmp_path), tmp_path, model, "--average-window-ms", "900")
    assert _window_and_count(window) == (900, 2)
    assert window.controller.open_model(_calibrated_model(tmp_path / "b.onnx", 500, 4))
    assert _window_and_count(window) == (900, 4)


@pytest.mark.gui
def test_a_model_without_a_calibration_keeps_the_decoder_as_it_is(
    qtbot, tmp_path: Path, tone_model_path: Path
) -> None:
    settings = temp_settings(tmp_path)
    saved = DecoderConfig(average_window_ms=650, minimum_count=5)
    settings.save_decoder_config(saved)
    window = _window(qtbot, settings, tmp_path, tone_model_path)
    assert window.controller.decoder_config == saved
