"""Opening the model the user asked for, on the execution provider they asked for.

The command line (`--wav`, `--headless`) and the window both open models this way, so it lives
below both of them instead of in either (the window importing the command line was a cycle).
"""

from __future__ import annotations

from pathlib import Path

from kws_app.inference.model import ModelError, OnnxModel
from kws_app.paths import default_model_path


def load_model(path: Path | None, provider: str) -> OnnxModel:
    """`path` (the bundled model when None) on `provider`: auto, cpu or cuda.

    `auto` prefers the GPU and falls back to the CPU; `cuda` refuses to fall back, because a user
    who asked for the GPU should hear that it cannot run rather than get a slower app silently.
    """
    if provider == "cuda":
        model = OnnxModel(path or default_model_path(), prefer_gpu=True)
        if not model.uses_gpu:
            raise ModelError("CUDA was requested but is not usable on this machine")
        return model
    return OnnxModel(path or default_model_path(), prefer_gpu=provider == "auto")
