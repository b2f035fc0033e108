"""What the window remembers between runs, behind QSettings with typed accessors and defaults.

Tests hand in a QSettings on an INI file under tmp_path, so they never read or write the user's
real settings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from kws_app.config import ConfigError, DecoderConfig

logger = logging.getLogger(__name__)

ORGANIZATION_NAME = "kws"
APPLICATION_NAME = "kws-app"

_DEVICE = "audio/device_name"
_MODEL = "model/last_path"
_GEOMETRY = "window/geometry"
# Version 2 of the decoder group: the threshold became a sensitivity relative to each word's
# calibrated operating point (0.5 = calibrated), so values saved by earlier versions, which were
# raw probabilities for one shared threshold, are not carried over.
_DECODER_GROUP = "decoder-v2"
_THRESHOLD = f"{_DECODER_GROUP}/detection_threshold"
_AVERAGE_WINDOW = f"{_DECODER_GROUP}/average_window_ms"
_SUPPRESSION = f"{_DECODER_GROUP}/suppression_ms"
_MINIMUM_COUNT = f"{_DECODER_GROUP}/minimum_count"


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
        # QSettings.value() is typed as object (an INI file gives strings): int() and float()
        # parse what is there, and a damaged value raises into the fallback below.
        try:
            return DecoderConfig(
                average_window_ms=int(  # type: ignore[call-overload]
                    self.store.value(_AVERAGE_WINDOW, defaults.average_window_ms)
                ),
                detection_threshold=float(
                    self.store.value(_THRESHOLD, defaults.detection_threshold)  # type: ignore[arg-type]
                ),
                suppression_ms=int(  # type: ignore[call-overload]
                    self.store.value(_SUPPRESSION, defaults.suppression_ms)
                ),
                minimum_count=int(  # type: ignore[call-overload]
                    self.store.value(_MINIMUM_COUNT, defaults.minimum_count)
                ),
            )
        except (ConfigError, TypeError, ValueError) as error:
            logger.warning("ignoring saved decoder settings: %s", error)
            return defaults

    def has_decoder_config(self) -> bool:
        return self.store.contains(_THRESHOLD)

    def save_decoder_config(self, config: DecoderConfig) -> None:
        self.store.setValue(_THRESHOLD, config.detection_threshold)
        self.store.setValue(_AVERAGE_WINDOW, config.average_window_ms)
        self.store.setValue(_SUPPRESSION, config.suppression_ms)
        self.store.setValue(_MINIMUM_COUNT, config.minimum_count)

    def sync(self) -> None:
        self.store.sync()
