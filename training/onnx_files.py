"""Reading an ONNX file a user names on the command line: one line for each way it can fail."""

from __future__ import annotations

from pathlib import Path

import onnx

from kws_app.errors import UserError


def load_onnx_file(error: type[UserError], path: Path) -> onnx.ModelProto:
    """The ONNX graph in `path`, or `error` with one line saying why it cannot be read."""
    if not path.is_file():
        raise error(f"model not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as cause:  # onnx raises several types for a broken file
        raise error(f"{path}: not a readable ONNX model ({cause})") from None
