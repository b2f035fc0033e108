"""Where the app finds its bundled files, from a source checkout or a PyInstaller build."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "kws-default.onnx"


def assets_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller's bootloader
    if bundle is not None:
        return Path(bundle) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def default_model_path() -> Path:
    return assets_dir() / DEFAULT_MODEL_NAME
