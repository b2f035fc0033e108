"""Spin boxes made from the settings described in config.py: range, step, unit and help said once.

A panel asks for the control of a field (`setting_spin_box(DecoderConfig, "suppression_ms")`) and
gets it configured from the field's `Setting`: the range a control offers, the step, the unit as a
suffix and the help text as its tooltip. The label for a form row comes from the same place.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from kws_app.config import Setting, settings_of


def setting_of(config_class: type, name: str) -> Setting:
    try:
        return settings_of(config_class)[name]
    except KeyError:
        raise KeyError(f"{config_class.__name__}.{name} is not a described setting") from None


def setting_label(config_class: type, name: str) -> str:
    """The form label of a field ("Averaging window")."""
    return setting_of(config_class, name).label


def setting_tooltip(setting: Setting) -> str:
    """The help text as a sentence, with the valid range."""
    return f"{setting.help[:1].upper()}{setting.help[1:]} ({setting.describe_range()})."


def decimals_for(step: float) -> int:
    """Enough decimals to show every value a step of `step` reaches (0.01 -> 2, 50 -> 0)."""
    return max(0, -math.floor(math.log10(step))) if step > 0 else 0


def setting_spin_box(
    config_class: type, name: str, value: float | None = None
) -> QSpinBox | QDoubleSpinBox:
    """A QSpinBox (int field) or QDoubleSpinBox (float field) for one described setting, set to
    `value` (default: the config's default)."""
    setting = setting_of(config_class, name)
    default = getattr(config_class(), name)
    initial = default if value is None else value
    low, high = setting.offered_range
    box: QSpinBox | QDoubleSpinBox
    if isinstance(default, int):
        box = QSpinBox()
        box.setRange(int(low), int(high))
        box.setSingleStep(max(1, int(setting.step)))
        box.setValue(int(initial))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(decimals_for(setting.step))
        box.setRange(float(low), float(high))
        box.setSingleStep(float(setting.step))
        box.setValue(float(initial))
    if setting.unit:
        box.setSuffix(f" {setting.unit}")
    box.setToolTip(setting_tooltip(setting))
    box.setAccessibleName(setting.label)
    return box
