"""Decoder and stream flags: "not given" is real, so the window keeps saved values it was not told
to change and takes every value it was told, even one equal to the app's default."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import temp_settings, window_from_flags

from kws_app.cli import build_parser, configs_from_args
from kws_app.config import DecoderConfig, StreamConfig

pytestmark = pytest.mark.gui

SAVED = DecoderConfig(
    average_window_ms=700, detection_threshold=0.6, suppression_ms=1500, minimum_count=4
)


def test_flags_not_given_take_the_config_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.threshold, args.clip_stride_ms) == (None, None)
    assert configs_from_args(args) == (StreamConfig(), DecoderConfig())


def test_flags_given_reach_the_configs() -> None:
    args = build_parser().parse_args(
        ["--threshold", "0.55", "--average-window-ms", "600", "--suppression-ms", "900",
         "--minimum-count", "2", "--clip-stride-ms", "40"]
    )  # fmt: skip
    stream, decoder = configs_from_args(args)
    assert stream == StreamConfig(clip_stride_ms=40)
    assert decoder == DecoderConfig(
        average_window_ms=600, detection_threshold=0.55, suppression_ms=900, minimum_count=2
    )


def _window(qtbot, tmp_path: Path, model: Path, *flags: str):  # type: ignore[no-untyped-def]
    settings = temp_settings(tmp_path)
    settings.save_decoder_config(SAVED)
    return window_from_flags(qtbot, tmp_path, settings, model, *flags)


def test_window_keeps_saved_decoder_settings_without_flags(
    qtbot, tmp_path: Path, tone_model_path: Path
) -> None:
    window = _window(qtbot, tmp_path, tone_model_path)
    assert window.controller.decoder_config == SAVED
    assert window.controller.stream_config == StreamConfig()


def test_window_takes_a_threshold_flag_equal_to_the_default_over_a_saved_threshold(
    qtbot, tmp_path: Path, tone_model_path: Path
) -> None:
    default = DecoderConfig()
    window = _window(
        qtbot, tmp_path, tone_model_path,
        "--threshold", str(default.detection_threshold),
        "--suppression-ms", str(default.suppression_ms),
        "--clip-stride-ms", str(StreamConfig().clip_stride_ms),
    )  # fmt: skip
    assert window.controller.decoder_config.detection_threshold == default.detection_threshold
    assert window.controller.decoder_config.suppression_ms == default.suppression_ms
    # Flags not given keep the saved values.
    assert window.controller.decoder_config.average_window_ms == SAVED.average_window_ms
    assert window.controller.decoder_config.minimum_count == SAVED.minimum_count
    assert window.probabilities.threshold_label.text() == f"{default.detection_threshold:.2f}"
