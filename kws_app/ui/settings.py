"""What the window remembers between runs, behind QSettings with typed accessors and defaults.

The decoder values are stored one key per described field of DecoderConfig (config.py), named
`<group>/<field name>`, so a new setting is saved and loaded without a line here. Tests hand in a
QSettings on an INI file under tmp_path, so they never read or write the user's real settings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from kws_app.config import ConfigError, DecoderConfig, settings_of
from kws_app.inference.operating_points import CALIBRATED_DECODER_FIELDS

logger = logging.getLogger(__name__)

ORGANIZATION_NAME = "kws"
APPLICATION_NAME = "kws-app"

_DEVICE = "audio/device_name"
_MODEL = "model/last_path"
_GEOMETRY = "window/geometry"
# Version 2 of the decoder group: the threshold became a sensitivity relative to each word's
# calibrated operating point (0.5 = calibrated), so values saved by earlier versions, which were
# raw probabilities for one shared threshold, are not carried over.
DECODER_GROUP = "decoder-v2"


def setting_keys(config_class: type, group: str) -> dict[str, str]:
    """{config field: QSettings key} for the fields a user can set: `<group>/<field name>`."""
    return {name: f"{group}/{name}" for name in settings_of(config_class)}


DECODER_KEYS = setting_keys(DecoderConfig, DECODER_GROUP)
# The calibrated decoder values of the model the saved decoder values were set against, so that a
# saved value that differs from them is known to be the user's own choice (ui/controller.py).
CALIBRATION_KEYS = {
    name: f"{DECODER_GROUP}/calibrated/{name}" for name in CALIBRATED_DECODER_FIELDS
}


def user_settings() -> QSettings:
    return QSettings(
        QSettings.Format.IniFormat,
        QSettings.Scope.UserScope,
        ORGANIZATION_NAME,
        APPLICATION_NAME,
    )


class AppSettings:
    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _text(self, key: str) -> str | None:
        value = self.store.value(key)
        return str(value) if value not in (None, "") else None

    @property
    def device_name(self) -> str | None:
        return self._text(_DEVICE)

    @device_name.setter
    def device_name(self, name: str | None) -> None:
        self.store.setValue(_DEVICE, name or "")

    @property
    def model_path(self) -> Path | None:
        text = self._text(_MODEL)
        return Path(text) if text else None

    @model_path.setter
    def model_path(self, path: Path | None) -> None:
        self.store.setValue(_MODEL, str(path) if path else "")

    @property
    def geometry(self) -> QByteArray | None:
        value = self.store.value(_GEOMETRY)
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.store.setValue(_GEOMETRY, value)

    def decoder_config(self) -> DecoderConfig:
        """The saved decoder values; a damaged or out-of-range entry falls back to the default."""
        defaults = DecoderConfig()
        try:
            return DecoderConfig(**self._typed_values(defaults, DECODER_KEYS))
        except (ConfigError, TypeError, ValueError) as error:
            logger.warning("ignoring saved decoder settings: %s", error)
            return defaults

    def _typed_values(self, defaults: object, keys: dict[str, str]) -> dict[str, Any]:
        """Each key's saved value as its field's type (the default's), or the default.

        QSettings.value() is typed as object (an INI file gives strings): the field's type parses
        what is there, and a damaged value raises TypeError or ValueError.
        """
        values: dict[str, Any] = {}
        for name, key in keys.items():
            default = getattr(defaults, name)
            values[name] = type(default)(self.store.value(key, default))
        return values

    def has_decoder_config(self) -> bool:
        return self.store.contains(DECODER_KEYS["detection_threshold"])

    def save_decoder_config(self, config: DecoderConfig) -> None:
        for name, key in DECODER_KEYS.items():
            self.store.setValue(key, getattr(config, name))

    def followed_calibration(self) -> dict[str, int] | None:
        """The calibrated decoder values saved with the decoder values; None where none were
        saved (a first run, or settings written before the app followed calibrations)."""
        values: dict[str, int] = {}
        for name, key in CALIBRATION_KEYS.items():
            if not self.store.contains(key):
                continue
            try:
                values[name] = int(self.store.value(key))
            except (TypeError, ValueError):
                logger.warning("ignoring the saved calibrated %s", name)
        return values or None

    def save_followed_calibration(self, values: dict[str, int]) -> None:
        for name, key in CALIBRATION_KEYS.items():
            if name in values:
                self.store.setValue(key, values[name])
            else:
                self.store.remove(key)

    def sync(self) -> None:
        self.store.sync()
