"""Command-line flags made from the settings described in config.py, and which of them were given.

The app, the word tools, training's stream commands and the benchmarks all add their decoder and
stream flags here, so a flag has one name, one unit and one help text everywhere. Flags default to
None: "not given" stays distinguishable from "given the default value", so the window lays only the
flags actually given over its saved settings. This module sits below both the command line and the
window, so the window need not import the command line (that was an import cycle).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kws_app.config import ConfigError, DecoderConfig, StreamConfig, settings_of


def flag_destinations(config_class: type) -> dict[str, str]:
    """{config field: argparse destination of its flag} for the fields a user can set."""
    return {name: setting.dest for name, setting in settings_of(config_class).items()}


DECODER_FLAGS: Mapping[str, str] = flag_destinations(DecoderConfig)
STREAM_FLAGS: Mapping[str, str] = flag_destinations(StreamConfig)


def add_setting_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config_class: type,
    fields: Iterable[str] | None = None,
    value_lists: bool = False,
) -> None:
    """One flag per described field of `config_class` (or of `fields`), defaulting to None.

    With `value_lists` each flag takes comma-separated values to try (read them with
    `given_lists`), for commands that sweep settings.
    """
    defaults = config_class()
    described = settings_of(config_class)
    for name in described if fields is None else fields:
        setting = described[name]
        default = getattr(defaults, name)
        if value_lists:
            parser.add_argument(
                setting.flag,
                default=None,
                metavar="V[,V...]",
                help=f"{setting.help}; comma-separated values to try, "
                f"{setting.describe_range()} (default: {default})",
            )
        else:
            parser.add_argument(
                setting.flag,
                type=type(default),
                default=None,
                metavar=setting.unit.upper() or ("N" if isinstance(default, int) else "VALUE"),
                help=f"{setting.help}, {setting.describe_range()} (default: {default})",
            )


def given_options(args: argparse.Namespace, fields: Mapping[str, str]) -> dict[str, Any]:
    """{config field: value} for the flags the user gave; `fields` maps config fields to flags."""
    values = {field: getattr(args, flag, None) for field, flag in fields.items()}
    return {field: value for field, value in values.items() if value is not None}


def setting_args(config: object) -> tuple[str, ...]:
    """The command-line arguments that set every described field to `config`'s value, for
    starting the app (or a test of it) with exactly these settings."""
    return tuple(
        text
        for name, setting in settings_of(type(config)).items()
        for text in (setting.flag, str(getattr(config, name)))
    )


def config_from_args(
    args: argparse.Namespace,
    config_class: type,
    fields: Iterable[str] | None = None,
    base: Any = None,
) -> Any:
    """`base` (default: the class's defaults) with every flag the user gave laid over it; only
    the flags of `fields` when given (the others may be value lists)."""
    start = config_class() if base is None else base
    destinations = flag_destinations(config_class)
    if fields is not None:
        destinations = {name: destinations[name] for name in fields}
    return dataclasses.replace(start, **given_options(args, destinations))


def given_lists(
    args: argparse.Namespace, config_class: type, fields: Iterable[str]
) -> dict[str, list[Any]]:
    """{config field: values to try} from flags added with `value_lists`; a flag not given
    gives the field's default alone."""
    defaults = config_class()
    described = settings_of(config_class)
    lists: dict[str, list[Any]] = {}
    for name in fields:
        default, setting = getattr(defaults, name), described[name]
        text = getattr(args, setting.dest, None)
        lists[name] = (
            [default] if text is None else parse_value_list(text, type(default), setting.flag)
        )
    return lists


def parse_value_list(text: str, kind: type, flag: str) -> list[Any]:
    """Comma-separated numbers ("300,500") as a list; a one-line ConfigError naming `flag`."""
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{flag} must be a comma-separated list of numbers") from None
    if not values:
        raise ConfigError(f"{flag} is empty")
    return values
