"""The window's saved decoder settings and its spin boxes come from the same field descriptions:
keys keep their names (settings saved by earlier versions still load), spin boxes offer the
described range in the described unit with the help as tooltip."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from kws_app.config import DecoderConfig, StreamConfig, settings_of
from kws_app.ui.setting_fields import setting_label, setting_spin_box
from kws_app.ui.settings import DECODER_KEYS, AppSettings

pytestmark = pytest.mark.gui

SAVED_BY_AN_EARLIER_VERSION = """[decoder-v2]
detection_threshold=0.6
average_window_ms=700
suppression_ms=1500
minimum_count=4
"""


def _settings(path: Path) -> AppSettings:
    return AppSettings(QSettings(str(path), QSettings.Format.IniFormat))


def test_each_decoder_field_is_stored_under_its_existing_key() -> None:
    assert DECODER_KEYS == {
        "average_window_ms": "decoder-v2/average_window_ms",
        "detection_threshold": "decoder-v2/detection_threshold",
        "suppression_ms": "decoder-v2/suppression_ms",
        "minimum_count": "decoder-v2/minimum_count",
    }


def test_settings_saved_by_an_earlier_version_still_load(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_text(SAVED_BY_AN_EARLIER_VERSION)
    settings = _settings(path)
    assert settings.has_decoder_config()
    assert settings.decoder_config() == DecoderConfig(
        average_window_ms=700, detection_threshold=0.6, suppression_ms=1500, minimum_count=4
    )


def test_saved_values_come_back_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    config = DecoderConfig(average_window_ms=450, detection_threshold=0.35, minimum_count=5)
    first = _settings(path)
    assert not first.has_decoder_config()
    first.save_decoder_config(config)
    first.sync()
    assert _settings(path).decoder_config() == config


def test_a_damaged_saved_value_falls_back_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_text(SAVED_BY_AN_EARLIER_VERSION.replace("minimum_count=4", "minimum_count=lots"))
    assert _settings(path).decoder_config() == DecoderConfig()


@pytest.mark.parametrize("name", list(settings_of(DecoderConfig)))
def test_a_spin_box_offers_the_described_range_unit_step_and_help(qtbot, name: str) -> None:  # type: ignore[no-untyped-def]
    setting = settings_of(DecoderConfig)[name]
    box = setting_spin_box(DecoderConfig, name)
    qtbot.addWidget(box)
    is_int = isinstance(getattr(DecoderConfig(), name), int)
    assert isinstance(box, QSpinBox if is_int else QDoubleSpinBox)
    assert (box.minimum(), box.maximum()) == pytest.approx(setting.offered_range)
    assert box.singleStep() == pytest.approx(setting.step)
    assert box.suffix() == (f" {setting.unit}" if setting.unit else "")
    assert setting.help[1:] in box.toolTip() and setting.describe_range() in box.toolTip()
    assert box.value() == pytest.approx(getattr(DecoderConfig(), name))


def test_the_decoder_spin_boxes_keep_the_window_s_ranges(qtbot) -> None:  # type: ignore[no-untyped-def]
    boxes = {
        name: setting_spin_box(DecoderConfig, name, value)
        for name, value in (("average_window_ms", 700), ("suppression_ms", 0), ("minimum_count", 4))
    }
    for box in boxes.values():
        qtbot.addWidget(box)
    window = boxes["average_window_ms"]
    assert (window.minimum(), window.maximum(), window.singleStep()) == (100, 3000, 50)
    assert (window.suffix(), window.value()) == (" ms", 700)
    assert (boxes["suppression_ms"].minimum(), boxes["suppression_ms"].maximum()) == (0, 5000)
    assert (boxes["minimum_count"].maximum(), boxes["minimum_count"].suffix()) == (50, "")
    threshold = setting_spin_box(DecoderConfig, "detection_threshold")
    qtbot.addWidget(threshold)
    assert isinstance(threshold, QDoubleSpinBox) and threshold.decimals() == 2


def test_labels_and_unknown_fields(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert setting_label(DecoderConfig, "average_window_ms") == "Averaging window"
    assert setting_label(StreamConfig, "clip_stride_ms") == "Clip stride"
    with pytest.raises(KeyError, match="StreamConfig.queue_blocks is not a described setting"):
        setting_spin_box(StreamConfig, "queue_blocks")
