"""Which command-line flags set which configuration fields, and which of them the user gave.

The command line builds its settings from these and the window lays them over its saved settings;
both import them from here, below both, so the window need not import the command line (that was
an import cycle, since the command line starts the window).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

# Config field -> argparse destination of its flag.
DECODER_FLAGS: Mapping[str, str] = {
    "detection_threshold": "threshold",
    "average_window_ms": "average_window_ms",
    "suppression_ms": "suppression_ms",
    "minimum_count": "minimum_count",
}
STREAM_FLAGS: Mapping[str, str] = {"clip_stride_ms": "clip_stride_ms"}


def given_options(args: argparse.Namespace, fields: Mapping[str, str]) -> dict[str, Any]:
    """{config field: value} for the flags the user gave; `fields` maps config fields to flags."""
    values = {field: getattr(args, flag, None) for field, flag in fields.items()}
    return {field: value for field, value in values.items() if value is not None}
