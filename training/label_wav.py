"""`python -m training label-wav`: the top labels of whole audio files, like TF's label_wav.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kws_app.audio.files import read_audio_at
from kws_app.dsp.frontend import compute_features, fit_clip
from kws_app.inference.model import OnnxModel

DEFAULT_TOP = 3


def label_file(model: OnnxModel, path: Path, top: int = DEFAULT_TOP) -> list[tuple[str, float]]:
    """Best labels of the file's first clip (padded or trimmed like training clips)."""
    wave = read_audio_at(path, model.frontend.sample_rate)
    features = compute_features(fit_clip(wave, model.frontend), model.frontend)
    scores = model.predict(features[np.newaxis])[0]
    order = np.argsort(-scores)[:top]
    return [(model.labels[i], float(scores[i])) for i in order]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("label-wav", help="top labels of audio files")
    parser.add_argument("--model", type=Path, required=True, help="exported .onnx file")
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="how many labels to show")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    model = OnnxModel(args.model, prefer_gpu=True)
    for path in args.files:
        if not path.is_file():
            raise FileNotFoundError(f"audio file not found: {path}")
        top = label_file(model, path, args.top)
        if args.json:
            print(
                json.dumps({"file": str(path), "top": [[label, round(s, 5)] for label, s in top]})
            )
        else:
            print(path)
            for label, score in top:
                print(f"  {label} (score = {score:.5f})")
    return 0
