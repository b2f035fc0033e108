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


def write_with_metadata(source: Path, values: dict[str, str], out_path: Path) -> None:
    """Copy the model at `source` to `out_path` with each metadata key in `values` set (an
    earlier value replaced), written whole or not at all."""
    proto = onnx.load(str(source), load_external_data=False)
    kept = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    for prop in kept:
        proto.metadata_props.add(key=prop.key, value=prop.value)
    for key, value in values.items():
        proto.metadata_props.add(key=key, value=value)
    partial = out_path.with_suffix(out_path.suffix + ".partial")
    onnx.save(proto, str(partial))
    partial.replace(out_path)
