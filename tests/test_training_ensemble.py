"""`python -m training ensemble`: two exported models become one file whose probabilities are
the softmax of the two models' mean log-probabilities and whose embedding is the chosen model's,
which the app opens like any model and which must be calibrated again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from training_helpers import WORD_TONES_HZ

from kws_app.config import FrontendConfig
from kws_app.inference.model import META_LABELS, META_OPERATING_POINTS, OnnxModel
from training.cli import USER_ERROR_EXIT, main
from training.ensemble import EnsembleError, merge_models
from training.export import export_model
from training.models import build_model

LABELS = ("_silence_", "_unknown_", *WORD_TONES_HZ)


def _exported(path: Path, seed: int, name: str = "ds_tcresnet") -> Path:
    frames, bins = FrontendConfig().input_shape
    torch.manual_seed(seed)
    model = build_model(name, len(LABELS), frames, bins)
    features = torch.randn(3, frames, bins) * 3 - 5
    export_model(model, FrontendConfig(), LABELS, path, features)
    return path


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("members")
    return _exported(root / "a.onnx", 1), _exported(root / "b.onnx", 2)


def _features(count: int) -> np.ndarray:
    frames, bins = FrontendConfig().input_shape
    return (np.random.default_rng(0).standard_normal((count, frames, bins)) * 3 - 5).astype(
        np.float32
    )


@pytest.mark.parametrize("embedding_from", [1, 2])
def test_the_merged_file_averages_log_probabilities_and_keeps_one_embedding(
    members: tuple[Path, Path], tmp_path: Path, embedding_from: int
) -> None:
    out = tmp_path / "ensemble.onnx"
    merge_models(list(members), embedding_from, out)
    batch = _features(4)
    outputs = [OnnxModel(path, prefer_gpu=False).run(batch) for path in members]
    merged_model = OnnxModel(out, prefer_gpu=False)
    probabilities, embedding = merged_model.run(batch)

    mean_log = (np.log(outputs[0][0]) + np.log(outputs[1][0])) / 2
    expected = np.exp(mean_log) / np.exp(mean_log).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert not np.allclose(outputs[0][0], outputs[1][0], atol=1e-3)  # the members differ
    np.testing.assert_allclose(embedding, outputs[embedding_from - 1][1], atol=1e-6)
    assert merged_model.labels == LABELS
    assert merged_model.info.parameter_count == sum(
        OnnxModel(path, prefer_gpu=False).info.parameter_count for path in members
    )


def test_operating_points_of_a_member_are_not_carried_over(
    members: tuple[Path, Path], tmp_path: Path
) -> None:
    first = onnx.load(str(members[0]))
    first.metadata_props.add(key=META_OPERATING_POINTS, value="{}")
    calibrated = tmp_path / "calibrated.onnx"
    onnx.save(first, str(calibrated))
    out = tmp_path / "ensemble.onnx"
    merged = merge_models([calibrated, members[1]], 1, out)
    assert META_OPERATING_POINTS not in {p.key for p in merged.metadata_props}


def test_models_with_other_labels_are_refused_in_one_line(
    members: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = onnx.load(str(members[1]))
    for prop in other.metadata_props:
        if prop.key == META_LABELS:
            prop.value = json.dumps(list(reversed(LABELS)))
    renamed = tmp_path / "other.onnx"
    onnx.save(other, str(renamed))
    with pytest.raises(EnsembleError, match="differ in"):
        merge_models([members[0], renamed], 1, tmp_path / "x.onnx")
    code = main(
        [
            "ensemble",
            str(members[0]),
            str(tmp_path / "missing.onnx"),
            "--out",
            str(tmp_path / "y.onnx"),
        ]
    )
    assert code == USER_ERROR_EXIT
    assert "model not found" in capsys.readouterr().err
    assert not (tmp_path / "y.onnx").exists()
