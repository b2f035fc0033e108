"""Each user setting is described once on its config field; the flags and the range checks of the
app, the stream tools and the benchmarks are made from that description."""

from __future__ import annotations

import argparse

import pytest

from kws_app.cli import build_parser
from kws_app.config import (
    MAX_AVERAGE_WINDOW_MS,
    ConfigError,
    DecoderConfig,
    StreamConfig,
    settings_of,
)
from kws_app.config_flags import (
    DECODER_FLAGS,
    STREAM_FLAGS,
    add_setting_flags,
    config_from_args,
    given_lists,
    setting_args,
)

DESCRIBED = [(DecoderConfig, name) for name in settings_of(DecoderConfig)] + [
    (StreamConfig, name) for name in settings_of(StreamConfig)
]


def test_the_user_settings_are_the_described_fields() -> None:
    assert list(settings_of(DecoderConfig)) == [
        "average_window_ms", "detection_threshold", "suppression_ms", "minimum_count",
    ]  # fmt: skip
    assert list(settings_of(StreamConfig)) == ["clip_stride_ms"]


def test_flag_names_and_destinations_stay_what_users_type() -> None:
    flags = {name: s.flag for cls, name in DESCRIBED for s in [settings_of(cls)[name]]}
    assert flags == {
        "average_window_ms": "--average-window-ms",
        "detection_threshold": "--threshold",
        "suppression_ms": "--suppression-ms",
        "minimum_count": "--minimum-count",
        "clip_stride_ms": "--clip-stride-ms",
    }
    assert DECODER_FLAGS["detection_threshold"] == "threshold"
    assert STREAM_FLAGS == {"clip_stride_ms": "clip_stride_ms"}


@pytest.mark.parametrize(("config_class", "name"), DESCRIBED)
def test_each_described_field_becomes_an_app_flag_of_its_type(
    config_class: type, name: str
) -> None:
    setting = settings_of(config_class)[name]
    default = getattr(config_class(), name)
    low, high = setting.valid_range
    value = type(default)(high)  # any valid value other than most defaults
    args = build_parser().parse_args([setting.flag, str(value)])
    assert getattr(args, setting.dest) == value
    assert getattr(config_from_args(args, config_class), name) == value
    assert getattr(build_parser().parse_args([]), setting.dest) is None


@pytest.mark.parametrize(("config_class", "name"), DESCRIBED)
def test_the_help_says_the_unit_range_and_default(config_class: type, name: str) -> None:
    setting = settings_of(config_class)[name]
    text = " ".join(build_parser().format_help().split())
    default = getattr(config_class(), name)
    assert f"{setting.help}, {setting.describe_range()} (default: {default})" in text


@pytest.mark.parametrize(("config_class", "name"), DESCRIBED)
def test_a_value_outside_the_described_range_is_refused_by_name(
    config_class: type, name: str
) -> None:
    setting = settings_of(config_class)[name]
    low, high = setting.valid_range
    unit = f" {setting.unit}" if setting.unit else ""
    with pytest.raises(ConfigError, match=f"^{setting.name} must be between .* and .*{unit}$"):
        config_class(**{name: type(getattr(config_class(), name))(high + 1)})
    assert setting.describe_range().startswith(str(int(low)))


def test_range_messages_read_as_before() -> None:
    with pytest.raises(ConfigError) as raised:
        DecoderConfig(average_window_ms=0)
    assert str(raised.value) == f"averaging window must be between 1 and {MAX_AVERAGE_WINDOW_MS} ms"
    with pytest.raises(ConfigError) as raised:
        DecoderConfig(detection_threshold=float("nan"))
    assert str(raised.value) == "detection threshold must be between 0 and 1"


def test_sweep_flags_take_lists_and_fall_back_to_the_default() -> None:
    parser = argparse.ArgumentParser()
    fields = ("average_window_ms", "minimum_count")
    add_setting_flags(parser, DecoderConfig, fields, value_lists=True)
    lists = given_lists(
        parser.parse_args(["--average-window-ms", "300,500"]), DecoderConfig, fields
    )
    assert lists == {
        "average_window_ms": [300, 500],
        "minimum_count": [DecoderConfig().minimum_count],
    }
    with pytest.raises(ConfigError, match="--minimum-count must be a comma-separated list"):
        given_lists(parser.parse_args(["--minimum-count", "3,many"]), DecoderConfig, fields)


def test_setting_args_start_the_app_with_exactly_a_config() -> None:
    decoder = DecoderConfig(
        average_window_ms=450, detection_threshold=0.65, suppression_ms=800, minimum_count=2
    )
    stream = StreamConfig(clip_stride_ms=40)
    args = build_parser().parse_args([*setting_args(decoder), *setting_args(stream)])
    assert config_from_args(args, DecoderConfig) == decoder
    assert config_from_args(args, StreamConfig) == stream
